// Package catalog is the Gas Town event catalog (SPEC §2, §3): every event
// name, its attributes and their types, and the counters and histograms an
// event moves. It is pure data plus pure functions, shared by the exporter
// (which metric to move), `gtrun emit` (validation) and the rules.
package catalog

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gastown/gtrun/internal/event"
)

// Kind is the OTLP type of an attribute.
type Kind int

const (
	String Kind = iota
	Int
	Bool
	Float
)

func (k Kind) String() string { return [...]string{"string", "int", "bool", "float"}[k] }

// Field is one attribute of an event.
type Field struct {
	Name     string
	Kind     Kind
	Required bool // `gtrun emit` refuses the event without it
}

// Event describes one catalog event.
type Event struct {
	Name   string
	Fields []Field
	// Counter is the metric moved by one per record; Labels are its label
	// keys, taken from the record ("status" is the record's status).
	Counter string
	Labels  []string
	// CounterBy, when set, names the numeric (int or float) attribute the
	// counter moves by (instead of one per record); a record without it
	// does not move the counter.
	CounterBy string
	// Histogram, when set, records the record's duration_ms with HistLabels.
	Histogram  string
	HistLabels []string
}

// Field returns the field named n.
func (e *Event) Field(n string) (Field, bool) {
	for _, f := range e.Fields {
		if f.Name == n {
			return f, true
		}
	}
	return Field{}, false
}

func s(n string) Field      { return Field{Name: n, Kind: String} }
func rs(n string) Field     { return Field{Name: n, Kind: String, Required: true} }
func i(n string) Field      { return Field{Name: n, Kind: Int} }
func ri(n string) Field     { return Field{Name: n, Kind: Int, Required: true} }
func b(n string) Field      { return Field{Name: n, Kind: Bool} }
func f(n string) Field      { return Field{Name: n, Kind: Float} }
func fs(n ...Field) []Field { return n }

// TokensCounter is moved by agent.usage records, once per token type.
const TokensCounter = "gastown.agent.tokens.total"

// CostCounter is moved by agent.usage records by their cost_usd: records
// of a model without a price carry no cost_usd (cost_unknown_model names
// the model instead) and do not move it, so it is never under-reported as
// a cost of 0.
const CostCounter = "gastown.agent.cost_usd.total"

// TokenTypes maps agent.usage attributes to the `type` label of TokensCounter.
var TokenTypes = []struct{ Attr, Type string }{
	{"input_tokens", "input"},
	{"output_tokens", "output"},
	{"cache_read_tokens", "cache_read"},
	{"cache_creation_tokens", "cache_creation"},
}

var events = []Event{
	{Name: "bd.call", Fields: fs(rs("subcommand"), s("args"), ri("duration_ms"), ri("exit_code"), s("stdout"), s("stderr"),
		i("cpu_user_ms"), i("cpu_system_ms"), i("max_rss_kb")),
		Counter: "gastown.bd.calls.total", Labels: []string{"status", "subcommand"},
		Histogram: "gastown.bd.duration_ms", HistLabels: []string{"status", "subcommand"}},
	{Name: "cmd.call", Fields: fs(rs("command"), s("args"), ri("duration_ms"), ri("exit_code"),
		i("cpu_user_ms"), i("cpu_system_ms"), i("max_rss_kb")),
		Counter: "gastown.cmd.calls.total", Labels: []string{"status", "command"},
		Histogram: "gastown.cmd.duration_ms", HistLabels: []string{"status", "command"}},
	{Name: "session.start", Fields: fs(rs("session_id"), s("role")),
		Counter: "gastown.session.starts.total", Labels: []string{"status", "role"}},
	{Name: "session.stop", Fields: fs(rs("session_id"), i("duration_ms"), i("exit_code")),
		Counter: "gastown.session.stops.total", Labels: []string{"status"}},
	{Name: "prompt.send", Fields: fs(rs("session"), ri("keys_len"), i("debounce_ms"), s("keys")),
		Counter: "gastown.prompt.sends.total", Labels: []string{"status"}},
	{Name: "agent.instantiate", Fields: fs(s("instance"), s("town_root"), rs("agent_type"), s("role"), s("agent_name"),
		s("session_id"), s("rig"), s("issue_id"), s("git_branch"), s("git_commit")),
		Counter: "gastown.agent.instantiations.total", Labels: []string{"agent_type", "role", "rig"}},
	{Name: "agent.event", Fields: fs(s("session"), s("agent_type"), rs("event_type"), s("role"), s("content"),
		s("native_session_id"), s("model"), b("subagent"), s("tool_name")),
		Counter: "gastown.agent.events.total", Labels: []string{"session", "event_type", "role"}},
	{Name: "agent.usage", Fields: fs(s("session"), s("native_session_id"), s("model"), s("agent_type"), s("role"),
		ri("input_tokens"), ri("output_tokens"), i("cache_read_tokens"), i("cache_creation_tokens"),
		i("reasoning_output_tokens"), b("subagent"),
		// cache_creation_tokens is every cache write; this is its 1-hour share
		// (priced at its own rate; the rest are 5-minute writes).
		i("cache_creation_1h_tokens"),
		f("cost_usd"), s("cost_unknown_model")),
		Counter: CostCounter, Labels: []string{"agent_type", "role", "model"}, CounterBy: "cost_usd"},
	{Name: "mail", Fields: fs(rs("operation"), s("msg.id"), s("msg.from"), s("msg.to"), s("msg.subject"),
		s("msg.thread_id"), s("msg.priority"), s("msg.type"), s("msg.body")),
		Counter: "gastown.mail.operations.total", Labels: []string{"status", "operation"}},
	{Name: "prime", Fields: fs(s("role"), s("hook_mode")),
		Counter: "gastown.prime.total", Labels: []string{"status", "role", "hook_mode"}},
	{Name: "prime.context", Fields: fs(s("role"), s("formula"))},
	{Name: "agent.state_change", Fields: fs(rs("agent_id"), rs("new_state"), s("hook_bead")),
		Counter: "gastown.agent.state_changes.total", Labels: []string{"status"}},
	{Name: "polecat.spawn", Fields: fs(rs("name")), Counter: "gastown.polecat.spawns.total", Labels: []string{"status"}},
	{Name: "polecat.remove", Fields: fs(rs("name")), Counter: "gastown.polecat.removes.total", Labels: []string{"status"}},
	{Name: "sling", Fields: fs(rs("bead"), rs("target")), Counter: "gastown.sling.dispatches.total", Labels: []string{"status"}},
	{Name: "nudge", Fields: fs(rs("target")), Counter: "gastown.nudge.total", Labels: []string{"status"}},
	{Name: "done", Fields: fs(rs("exit_type")), Counter: "gastown.done.total", Labels: []string{"status", "exit_type"}},
	{Name: "daemon.restart", Fields: fs(rs("agent_type")), Counter: "gastown.daemon.agent_restarts.total", Labels: []string{"agent_type"}},
	{Name: "formula.instantiate", Fields: fs(rs("formula_name"), s("bead_id")),
		Counter: "gastown.formula.instantiations.total", Labels: []string{"status"}},
	{Name: "convoy.create", Fields: fs(s("bead_id")), Counter: "gastown.convoy.creates.total", Labels: []string{"status"}},
	{Name: "mol.cook", Fields: fs(rs("formula_name")), Counter: "gastown.mol.cooks.total", Labels: []string{"status"}},
	{Name: "mol.wisp", Fields: fs(rs("formula_name"), s("wisp_root_id"), s("bead_id")),
		Counter: "gastown.mol.wisps.total", Labels: []string{"status"}},
	{Name: "mol.squash", Fields: fs(rs("mol_id"), i("done_steps"), i("total_steps"), b("digest_created")),
		Counter: "gastown.mol.squashes.total", Labels: []string{"status"}},
	{Name: "mol.burn", Fields: fs(rs("mol_id"), i("children_closed")), Counter: "gastown.mol.burns.total", Labels: []string{"status"}},
	{Name: "bead.create", Fields: fs(rs("bead_id"), s("parent_id"), s("mol_source")),
		Counter: "gastown.bead.creates.total", Labels: []string{"mol_source"}},
	// gtrun's own: the delivery agent dropped undelivered telemetry (reason:
	// journal bound, refused, failing, unreachable, rejected).
	{Name: "telemetry.dropped", Fields: fs(rs("signal"), ri("count"), i("bytes"), s("reason")),
		Counter: "gastown.telemetry.dropped.total", Labels: []string{"signal", "reason"}, CounterBy: "count"},
}

var byName = func() map[string]*Event {
	m := make(map[string]*Event, len(events))
	for i := range events {
		m[events[i].Name] = &events[i]
	}
	return m
}()

// Lookup returns the event named n.
func Lookup(n string) (*Event, bool) {
	e, ok := byName[n]
	return e, ok
}

// Names lists every catalog event, sorted.
func Names() []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// Closest returns the catalog name nearest to n (edit distance), for
// "did you mean" messages; "" when nothing is reasonably close.
func Closest(n string) string {
	best, bestD := "", 1<<30
	for _, e := range events {
		if d := levenshtein(n, e.Name); d < bestD {
			best, bestD = e.Name, d
		}
	}
	if bestD > 3 && bestD > len(n)/2 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Convert parses a KEY=VALUE string value into the field's typed value.
// Unknown keys stay strings (events may carry extra attributes).
func (e *Event) Convert(key, val string) (any, error) {
	f, ok := e.Field(key)
	if !ok {
		return val, nil
	}
	switch f.Kind {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is not an integer", e.Name, key, val)
		}
		return n, nil
	case Bool:
		v, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is not a boolean (true/false)", e.Name, key, val)
		}
		return v, nil
	case Float:
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: %s=%q is not a number", e.Name, key, val)
		}
		return v, nil
	}
	return val, nil
}

// Missing returns the required fields absent from r.
func (e *Event) Missing(r event.Record) []string {
	var out []string
	for _, f := range e.Fields {
		if f.Required && r.Get(f.Name) == nil {
			out = append(out, f.Name)
		}
	}
	return out
}

// Increment is one metric movement caused by a record.
type Increment struct {
	Metric    string
	Labels    map[string]string
	Value     float64
	Histogram bool // Value is an observation, not a counter increment
}

// Increments returns the metric movements a record causes: its counter by
// one (or by its CounterBy attribute: agent.usage moves the cost counter
// by cost_usd), its histogram by duration_ms, and token counters for
// agent.usage.
// extra carries labels that come from the environment (role, agent_type)
// when the record lacks them.
func Increments(r event.Record) []Increment {
	e, ok := byName[r.Name]
	if !ok {
		return nil
	}
	var out []Increment
	if e.Counter != "" {
		v := 1.0
		if e.CounterBy != "" {
			v, _ = asFloat(r.Get(e.CounterBy))
		}
		if v != 0 {
			out = append(out, Increment{Metric: e.Counter, Labels: labels(r, e.Labels), Value: v})
		}
	}
	if e.Histogram != "" {
		if d, ok := asFloat(r.Get("duration_ms")); ok {
			out = append(out, Increment{Metric: e.Histogram, Labels: labels(r, e.HistLabels), Value: d, Histogram: true})
		}
	}
	if r.Name == "agent.usage" {
		for _, t := range TokenTypes {
			v, ok := asFloat(r.Get(t.Attr))
			if !ok || v == 0 {
				continue
			}
			l := labels(r, []string{"agent_type", "role"})
			l["type"] = t.Type
			out = append(out, Increment{Metric: TokensCounter, Labels: l, Value: v})
		}
	}
	return out
}

func labels(r event.Record, keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		if k == "status" {
			m[k] = r.Status()
			continue
		}
		m[k] = fmt.Sprint(orEmpty(r.Get(k)))
	}
	return m
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
