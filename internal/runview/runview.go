// Package runview turns a run's log records into a waterfall (gtrun trace)
// and runs into one-line summaries (gtrun runs). It is pure: records in,
// text or JSON out, so rendering is golden-tested byte for byte.
package runview

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/termsafe"
)

// Event is one record placed on the run's timeline.
type Event struct {
	Name     string            `json:"name"`
	Start    time.Time         `json:"start"`
	Duration time.Duration     `json:"duration_ns"`
	Status   string            `json:"status"`
	Error    string            `json:"error,omitempty"`
	Session  string            `json:"session,omitempty"` // the session it belongs to
	Attrs    map[string]string `json:"attrs"`
}

// Tokens are summed agent.usage numbers, with their cost: CostUSD of the
// Priced records, Unpriced records of models without a price.
type Tokens struct {
	Input         int64   `json:"input"`
	Output        int64   `json:"output"`
	CacheRead     int64   `json:"cache_read"`
	CacheCreation int64   `json:"cache_creation"`
	CostUSD       float64 `json:"cost_usd,omitempty"`
	Priced        int64   `json:"priced,omitempty"`
	Unpriced      int64   `json:"unpriced,omitempty"`
}

func (t Tokens) zero() bool { return t == Tokens{} }

// Cost is the tokens' cost as text: "$1.23", "$1.23+?" when some records
// had no price, "?" when none had, "" when no record carried a cost.
func (t Tokens) Cost() string {
	switch {
	case t.Priced == 0 && t.Unpriced == 0:
		return ""
	case t.Priced == 0:
		return "?"
	case t.Unpriced > 0:
		return FormatUSD(t.CostUSD) + "+?"
	}
	return FormatUSD(t.CostUSD)
}

// usageTokens reads one agent.usage record.
func usageTokens(rec map[string]string) Tokens {
	t := Tokens{Input: num(rec, "input_tokens"), Output: num(rec, "output_tokens"), CacheRead: num(rec, "cache_read_tokens"),
		CacheCreation: num(rec, "cache_creation_tokens")}
	if c, err := strconv.ParseFloat(rec["cost_usd"], 64); err == nil && rec["cost_usd"] != "" {
		t.CostUSD, t.Priced = c, 1
	} else if rec["cost_unknown_model"] != "" {
		t.Unpriced = 1
	}
	return t
}

// Run is a run ready to draw.
type Run struct {
	ID       string            `json:"run_id"`
	TraceID  string            `json:"trace_id"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Events   []Event           `json:"events"`
	Calls    int               `json:"calls"`
	Errors   int               `json:"errors"`
	ByAgent  map[string]Tokens `json:"tokens_by_agent,omitempty"`
	ByBead   map[string]Tokens `json:"tokens_by_bead,omitempty"`
	Sessions []string          `json:"sessions,omitempty"`
	// UnpricedModels are the models of usage records without a price.
	UnpricedModels []string `json:"unpriced_models,omitempty"`
}

// TraceID is the run's trace id in hex (runenv.TraceID).
func TraceID(runID string) string {
	t := runenv.TraceID(runID)
	return hex.EncodeToString(t[:])
}

// internal fields that are not attributes worth showing.
var hidden = map[string]bool{"_msg": true, "_time": true, "_stream": true, "_stream_id": true, "event_name": true,
	"scope.name": true, "scope.version": true, "severity_number": true, "severity_text": true, "service.name": true,
	"service.version": true, "host.name": true, "os.type": true, "run.id": true, "gt.run_id": true, "status": true, "error": true}

// Build places records on a timeline. Records of duration events
// (bd.call, cmd.call, session.stop) are emitted at their end, so their
// start is _time − duration_ms.
func Build(runID string, recs []map[string]string) Run {
	r := Run{ID: runID, TraceID: TraceID(runID), ByAgent: map[string]Tokens{}, ByBead: map[string]Tokens{}}
	for _, rec := range recs {
		t, err := time.Parse(time.RFC3339Nano, rec["_time"])
		if err != nil {
			continue
		}
		ev := Event{Name: rec["_msg"], Start: t, Status: rec["status"], Error: rec["error"], Attrs: map[string]string{}}
		if ev.Status == "" {
			ev.Status = "ok"
		}
		for k, v := range rec {
			if !hidden[k] && v != "" {
				ev.Attrs[k] = v
			}
		}
		if d, err := strconv.ParseInt(rec["duration_ms"], 10, 64); err == nil && d > 0 && ev.Name != "session.stop" {
			ev.Duration = time.Duration(d) * time.Millisecond
			ev.Start = t.Add(-ev.Duration)
		}
		switch ev.Name {
		case "bd.call", "cmd.call":
			r.Calls++
		case "session.start":
			r.Sessions = append(r.Sessions, rec["session_id"])
		case "agent.usage":
			tk := usageTokens(rec)
			if m := rec["cost_unknown_model"]; m != "" && !contains(r.UnpricedModels, m) {
				r.UnpricedModels = append(r.UnpricedModels, m)
				sort.Strings(r.UnpricedModels)
			}
			agent := rec["agent_type"]
			if agent == "" {
				agent = "agent"
			}
			r.ByAgent[agent] = add(r.ByAgent[agent], tk)
			if b := rec["gt.work_bead"]; b != "" {
				r.ByBead[b] = add(r.ByBead[b], tk)
			}
		}
		if ev.Status == "error" {
			r.Errors++
		}
		for _, k := range []string{"session_id", "session", "gt.session"} {
			if s := rec[k]; s != "" {
				ev.Session = s
				break
			}
		}
		r.Events = append(r.Events, ev)
	}
	// A session is a group: session.start spans to its session.stop.
	for i := range r.Events {
		e := &r.Events[i]
		if e.Name == "session.start" {
			for _, s := range r.Events {
				if s.Name == "session.stop" && s.Session == e.Session && !s.Start.Before(e.Start) {
					e.Duration = s.Start.Sub(e.Start)
					break
				}
			}
		}
	}
	sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].Start.Before(r.Events[j].Start) })
	for i, e := range r.Events {
		if i == 0 || e.Start.Before(r.Start) {
			r.Start = e.Start
		}
		if end := e.Start.Add(e.Duration); end.After(r.End) {
			r.End = end
		}
	}
	if len(r.ByAgent) == 0 {
		r.ByAgent = nil
	}
	if len(r.ByBead) == 0 {
		r.ByBead = nil
	}
	return r
}

func num(rec map[string]string, k string) int64 { n, _ := strconv.ParseInt(rec[k], 10, 64); return n }

func add(a, b Tokens) Tokens {
	return Tokens{a.Input + b.Input, a.Output + b.Output, a.CacheRead + b.CacheRead, a.CacheCreation + b.CacheCreation,
		a.CostUSD + b.CostUSD, a.Priced + b.Priced, a.Unpriced + b.Unpriced}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func tokenLine(what string, t Tokens) string {
	return fmt.Sprintf("tokens %s: in %d · out %d · cache read %d · cache write %d", what, t.Input, t.Output, t.CacheRead, t.CacheCreation)
}

// costLine is the footer line under the tokens: each agent's and bead's
// cost, when their records carry one ("" otherwise).
func costLine(r Run) string {
	var parts []string
	for _, k := range sortedKeys(r.ByAgent) {
		if c := r.ByAgent[k].Cost(); c != "" {
			parts = append(parts, k+" "+c)
		}
	}
	for _, k := range sortedKeys(r.ByBead) {
		if c := r.ByBead[k].Cost(); c != "" {
			parts = append(parts, "bead "+k+" "+c)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "cost " + strings.Join(parts, " · ")
}

// Options control rendering.
type Options struct {
	Width int  // terminal columns
	Color bool // ANSI colours (off with NO_COLOR or when not a terminal)
}

const (
	red   = "\x1b[31m"
	dim   = "\x1b[2m"
	bold  = "\x1b[1m"
	reset = "\x1b[0m"
)

// detail is the short description of an event.
func detail(e Event) string {
	a := e.Attrs
	var parts []string
	switch e.Name {
	case "bd.call":
		parts = append(parts, "bd "+a["args"])
	case "cmd.call":
		parts = append(parts, strings.TrimSpace(a["command"]+" "+a["args"]))
	case "agent.usage":
		parts = append(parts, fmt.Sprintf("in %s out %s cache %s/%s", a["input_tokens"], a["output_tokens"], a["cache_read_tokens"], a["cache_creation_tokens"]))
	case "agent.event":
		parts = append(parts, a["event_type"]+": "+strings.Join(strings.Fields(a["content"]), " "))
	case "session.start", "session.stop":
		parts = append(parts, a["session_id"])
		if a["role"] != "" {
			parts = append(parts, "role="+a["role"])
		}
	default:
		keys := make([]string, 0, len(a))
		for k := range a {
			// trace_id/span_id link the record to its span: the run's
			// trace is in the header, the span in the HTML view's details.
			if !strings.HasPrefix(k, "gt.") && k != "duration_ms" && k != "exit_code" && k != "trace_id" && k != "span_id" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+"="+a[k])
		}
	}
	if b := a["gt.work_bead"]; b != "" && e.Name != "agent.event" {
		parts = append(parts, "work_bead="+b)
	}
	if c, ok := a["exit_code"]; ok && c != "0" {
		parts = append(parts, "exit="+c)
	}
	if e.Error != "" {
		parts = append(parts, "— "+e.Error)
	}
	return strings.Join(parts, " ")
}

// fit cuts s to w runes, with "…" when cut, and pads it.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) > w {
		rs := []rune(s)
		return string(rs[:w-1]) + "…"
	}
	return s + strings.Repeat(" ", w-utf8.RuneCountInString(s))
}

// Render draws the waterfall. Every string of the run came from a record:
// it is made terminal-safe first (safeRun).
func Render(w io.Writer, r Run, o Options) {
	r = safeRun(r)
	width := o.Width
	if width < 60 {
		width = 60
	}
	c := func(code, s string) string {
		if o.Color {
			return code + s + reset
		}
		return s
	}
	head := fmt.Sprintf("run %s  trace %s", r.ID, r.TraceID)
	fmt.Fprintln(w, c(bold, trim(fit(head, width))))
	if len(r.Events) == 0 {
		fmt.Fprintln(w, "no records")
		return
	}
	fmt.Fprintln(w, trim(fit(fmt.Sprintf("%s → %s (%s)", r.Start.UTC().Format("2006-01-02 15:04:05.000"), r.End.UTC().Format("15:04:05.000"), dur(r.End.Sub(r.Start))), width)))
	total := r.End.Sub(r.Start)
	const timeCol, nameCol = 9, 18
	barW := (width - timeCol - nameCol - 3) / 3
	if barW < 10 {
		barW = 10
	}
	detailW := width - timeCol - 1 - barW - 1 - nameCol - 1
	sessions := map[string]bool{}
	for _, s := range r.Sessions {
		sessions[s] = true
	}
	for _, e := range r.Events {
		off := e.Start.Sub(r.Start)
		rel := fmt.Sprintf("+%.3fs", off.Seconds())
		bar := []rune(strings.Repeat(" ", barW))
		from, to := 0, 0
		if total > 0 {
			from = int(float64(off) / float64(total) * float64(barW-1))
			to = int(float64(off+e.Duration) / float64(total) * float64(barW-1))
		}
		if e.Duration == 0 {
			bar[min(from, barW-1)] = '•'
		} else {
			for i := from; i <= to && i < barW; i++ {
				bar[i] = '█'
			}
		}
		name := e.Name
		if e.Session != "" && sessions[e.Session] && e.Name != "session.start" && e.Name != "session.stop" {
			name = "  " + name // nested under its session
		}
		line := fit(rel, timeCol) + " " + string(bar) + " " + fit(name, nameCol) + " " + fit(detail(e), detailW)
		line = strings.TrimRight(line, " ")
		if e.Status == "error" {
			line = c(red, line)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, c(dim, strings.Repeat("─", width)))
	fmt.Fprintln(w, trim(fit(fmt.Sprintf("%d events · %d calls · %d errors · wall %s", len(r.Events), r.Calls, r.Errors, dur(total)), width)))
	for _, k := range sortedKeys(r.ByAgent) {
		fmt.Fprintln(w, trim(fit(tokenLine(k, r.ByAgent[k]), width)))
	}
	for _, k := range sortedKeys(r.ByBead) {
		fmt.Fprintln(w, trim(fit(tokenLine("bead "+k, r.ByBead[k]), width)))
	}
	if l := costLine(r); l != "" {
		for _, l := range wrapWords(l, width) {
			fmt.Fprintln(w, l)
		}
	}
	if len(r.UnpricedModels) > 0 {
		models := make([]string, len(r.UnpricedModels))
		for i, m := range r.UnpricedModels {
			models[i] = strconv.Quote(m)
		}
		for _, l := range wrapWords("? no price for "+strings.Join(models, ", ")+": their cost is not counted (add them to prices.toml)", width) {
			fmt.Fprintln(w, l)
		}
	}
}

func trim(s string) string { return strings.TrimRight(s, " ") }

func sortedKeys(m map[string]Tokens) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// RenderJSON writes the run as JSON (round-trips through Run).
func RenderJSON(w io.Writer, r Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Summary is one line of `gtrun runs`.
type Summary struct {
	RunID    string
	First    time.Time
	Last     time.Time
	Role     string
	Session  string
	Calls    int
	Errors   int
	Events   int
	Tokens   Tokens
	Duration time.Duration
}

// Summaries groups records by run, newest first.
func Summaries(recs []map[string]string) []Summary {
	by := map[string]*Summary{}
	for _, rec := range recs {
		id := rec["run.id"]
		t, err := time.Parse(time.RFC3339Nano, rec["_time"])
		if id == "" || err != nil {
			continue
		}
		s := by[id]
		if s == nil {
			s = &Summary{RunID: id, First: t, Last: t}
			by[id] = s
		}
		start := t
		if d, err := strconv.ParseInt(rec["duration_ms"], 10, 64); err == nil && rec["_msg"] != "session.stop" {
			start = t.Add(-time.Duration(d) * time.Millisecond)
		}
		if start.Before(s.First) {
			s.First = start
		}
		if t.After(s.Last) {
			s.Last = t
		}
		s.Events++
		if rec["_msg"] == "bd.call" || rec["_msg"] == "cmd.call" {
			s.Calls++
		}
		if rec["status"] == "error" {
			s.Errors++
		}
		if s.Role == "" {
			s.Role = rec["gt.role"]
		}
		for _, k := range []string{"gt.session", "session_id", "session"} {
			if s.Session == "" && rec[k] != "" {
				s.Session = rec[k]
			}
		}
		if rec["_msg"] == "agent.usage" {
			s.Tokens = add(s.Tokens, usageTokens(rec))
		}
	}
	out := make([]Summary, 0, len(by))
	for _, s := range by {
		s.Duration = s.Last.Sub(s.First)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].First.After(out[j].First) })
	return out
}

// RenderRuns writes one line per run; the run id, role and session came
// from records and are made terminal-safe.
func RenderRuns(w io.Writer, sums []Summary, o Options) {
	width := max(o.Width, 60)
	sums = append([]Summary(nil), sums...)
	for i := range sums {
		s := &sums[i]
		s.RunID, s.Role, s.Session = termsafe.String(s.RunID), termsafe.String(s.Role), termsafe.String(s.Session)
	}
	fmt.Fprintln(w, trim(fit(fmt.Sprintf("%-36s  %-19s  %9s  %5s  %4s  %-12s  %-9s  %s", "RUN", "FIRST EVENT (UTC)", "DURATION", "CALLS", "ERRS", "TOKENS", "COST", "ROLE/SESSION"), width)))
	for _, s := range sums {
		who := strings.Trim(s.Role+"/"+s.Session, "/")
		tok := "-"
		if !s.Tokens.zero() {
			tok = fmt.Sprintf("%d", s.Tokens.Input+s.Tokens.Output+s.Tokens.CacheRead+s.Tokens.CacheCreation)
		}
		cost := s.Tokens.Cost()
		if cost == "" {
			cost = "-"
		}
		line := fmt.Sprintf("%-36s  %-19s  %9s  %5d  %4d  %-12s  %-9s  %s", s.RunID, s.First.UTC().Format("2006-01-02 15:04:05"), dur(s.Duration), s.Calls, s.Errors, tok, cost, who)
		line = strings.TrimRight(fit(line, width), " ")
		if s.Errors > 0 && o.Color {
			line = red + line + reset
		}
		fmt.Fprintln(w, line)
	}
}

// RenderJSONValue writes any value as indented JSON.
func RenderJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
