package parse

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gastown/gtrun/internal/catalog"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/tomlfile"
)

//go:generate go run ./gen

//go:embed default_rules.toml
var defaultRulesTOML []byte

// Call is one finished wrapped command, as the rules see it.
type Call struct {
	Command  string   // base name of argv[0]
	Args     []string // argv[1:]
	ExitCode int
	Stdout   []byte
	Stderr   []byte
	Combined []byte // PTY output, or stdout and stderr merged
	// Getenv reads the call's environment (gt's catalog reads GT_ROLE…);
	// nil reads nothing.
	Getenv func(string) string
}

// Rule turns a matching call into one catalog event. See docs/rules.md.
type Rule struct {
	Name    string            `toml:"name"`
	Command string            `toml:"command"` // base name, e.g. "bd"
	Args    []string          `toml:"args"`    // leading positional words, e.g. ["mol", "wisp"]
	Flag    string            `toml:"flag"`    // a flag that must be present
	NoFlag  string            `toml:"no_flag"` // a flag that must be absent
	On      string            `toml:"on"`      // "ok" (default), "error", "any"
	Stream  string            `toml:"stream"`  // "stdout" (default), "stderr", "any"
	Lines   []string          `toml:"lines"`   // every regexp must match some line; named groups captured
	Unless  string            `toml:"unless"`  // no event when this matches a line
	JSON    bool              `toml:"json"`    // the whole stream is one JSON value
	Event   string            `toml:"event"`
	Attrs   map[string]string `toml:"attrs"` // value expressions, see docs/rules.md

	ev       *catalog.Event
	compiled sync.Once
	lines    []*regexp.Regexp
	unless   *regexp.Regexp
}

// compile builds the rule's regexps on first use: a call only pays for the
// rules of its own command and subcommand. (LoadRules has checked them.)
func (r *Rule) compile() {
	r.compiled.Do(func() {
		for _, l := range r.Lines {
			r.lines = append(r.lines, regexp.MustCompile(l))
		}
		if r.Unless != "" {
			r.unless = regexp.MustCompile(r.Unless)
		}
	})
}

// readsOutput reports whether the rule needs the call's output (its
// failure message included).
func (r *Rule) readsOutput() bool {
	return len(r.Lines) > 0 || r.JSON || r.Unless != "" || r.On != "ok"
}

// matchesArgv is the part of a match argv alone decides.
func (r *Rule) matchesArgv(args, pos []string) bool {
	if len(pos) < len(r.Args) {
		return false
	}
	for i, w := range r.Args {
		if pos[i] != w {
			return false
		}
	}
	return !(r.Flag != "" && !hasFlag(args, r.Flag) || r.NoFlag != "" && hasFlag(args, r.NoFlag))
}

// RuleSet is an ordered set of rules. Rules are tried in order and every
// matching rule produces its event.
type RuleSet struct {
	rules []*Rule
}

type ruleFile struct {
	Rule []*Rule `toml:"rule"`
}

// DefaultRules returns the built-in rules (default_rules.toml, compiled
// into default_rules_gen.go so no call parses TOML; TestGeneratedRules
// keeps the two equal).
var DefaultRules = sync.OnceValue(func() *RuleSet {
	rs := &RuleSet{}
	for _, r := range generatedRules() {
		r.ev, _ = catalog.Lookup(r.Event)
		rs.rules = append(rs.rules, r)
	}
	return rs
})

// LoadRules parses a rule file. Errors name the file, the line and the rule.
func LoadRules(name string, data []byte) (*RuleSet, error) {
	var f ruleFile
	if err := tomlfile.Decode(name, data, &f); err != nil {
		return nil, err
	}
	starts := ruleLines(data)
	rs := &RuleSet{}
	seen := map[string]bool{}
	for i, r := range f.Rule {
		line := 0
		if i < len(starts) {
			line = starts[i]
		}
		where := fmt.Sprintf("%s:%d: rule %q", name, line, r.Name)
		if r.Name == "" {
			return nil, fmt.Errorf("%s:%d: rule #%d: missing name", name, line, i+1)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("%s: duplicate rule name", where)
		}
		seen[r.Name] = true
		if r.Command == "" {
			return nil, fmt.Errorf("%s: missing command", where)
		}
		ev, ok := catalog.Lookup(r.Event)
		if !ok {
			hint := ""
			if c := catalog.Closest(r.Event); c != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", c)
			}
			return nil, fmt.Errorf("%s: unknown event %q%s", where, r.Event, hint)
		}
		r.ev = ev
		switch r.On {
		case "":
			r.On = "ok"
		case "ok", "error", "any":
		default:
			return nil, fmt.Errorf("%s: on must be ok, error or any, not %q", where, r.On)
		}
		switch r.Stream {
		case "":
			r.Stream = "stdout"
		case "stdout", "stderr", "any":
		default:
			return nil, fmt.Errorf("%s: stream must be stdout, stderr or any, not %q", where, r.Stream)
		}
		for _, l := range r.Lines {
			if _, err := regexp.Compile(l); err != nil {
				return nil, fmt.Errorf("%s: bad regexp %q: %v", where, l, err)
			}
		}
		if r.Unless != "" {
			if _, err := regexp.Compile(r.Unless); err != nil {
				return nil, fmt.Errorf("%s: bad unless regexp: %v", where, err)
			}
		}
		for k, expr := range r.Attrs {
			if _, ok := ev.Field(k); !ok {
				return nil, fmt.Errorf("%s: event %s has no attribute %q", where, r.Event, k)
			}
			if err := checkExpr(expr, r); err != nil {
				return nil, fmt.Errorf("%s: attrs.%s: %v", where, k, err)
			}
		}
		for _, f := range ev.Fields {
			if f.Required {
				if _, ok := r.Attrs[f.Name]; !ok {
					return nil, fmt.Errorf("%s: event %s needs attribute %q", where, r.Event, f.Name)
				}
			}
		}
		rs.rules = append(rs.rules, r)
	}
	return rs, nil
}

// ruleLines returns the line number of each [[rule]] header, so errors
// found after decoding can still name a line.
func ruleLines(data []byte) []int {
	var out []int
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "[[rule]]") {
			out = append(out, i+1)
		}
	}
	return out
}

// Merge returns the rules of rs with user's added; a user rule with the
// name of a default replaces it in place.
func (rs *RuleSet) Merge(user *RuleSet) *RuleSet {
	out := &RuleSet{}
	byName := map[string]*Rule{}
	for _, r := range user.rules {
		byName[r.Name] = r
	}
	used := map[string]bool{}
	for _, r := range rs.rules {
		if u, ok := byName[r.Name]; ok {
			out.rules = append(out.rules, u)
			used[r.Name] = true
			continue
		}
		out.rules = append(out.rules, r)
	}
	for _, r := range user.rules {
		if !used[r.Name] {
			out.rules = append(out.rules, r)
		}
	}
	return out
}

// WantsOutput reports whether some rule reads the output (or the failure
// message) of this call, decided from argv alone before the child starts.
// When none does, the child gets the user's terminal itself.
func (rs *RuleSet) WantsOutput(command string, args []string) bool {
	if command == "gt" && GtWantsOutput(args) {
		return true
	}
	if rs == nil {
		return false
	}
	var pos []string
	for _, r := range rs.rules {
		if r.Command != command || !r.readsOutput() {
			continue
		}
		if pos == nil {
			pos = positionals(args)
		}
		if r.matchesArgv(args, pos) {
			return true
		}
	}
	return false
}

// HasDefaultRules reports whether any built-in rule is about command, so a
// call of any other command builds no rule set at all.
func HasDefaultRules(command string) bool { return command == "gt" || hasGeneratedRules(command) }

// All returns the rules in order.
func (rs *RuleSet) All() []*Rule { return rs.rules }

// Rules lists the rule names in order.
func (rs *RuleSet) Rules() []string {
	var out []string
	for _, r := range rs.rules {
		out = append(out, r.Name)
	}
	return out
}

// Events returns the catalog events a call produces.
func (rs *RuleSet) Events(c Call) (recs []event.Record) {
	if c.Command == "gt" {
		recs = GtEvents(c, c.Getenv) // gt's catalog is built in (gtevents.go)
	}
	if rs == nil {
		return recs
	}
	builtin := len(recs)
	defer func() {
		if recover() != nil {
			recs = recs[:builtin] // a rule must never take the wrapped command down
		}
	}()
	var cc *callCtx
	var pos []string
	for _, r := range rs.rules {
		if r.Command != c.Command {
			continue
		}
		if pos == nil {
			pos = positionals(c.Args)
		}
		if !r.matchesArgv(c.Args, pos) {
			continue // the output is looked at only for a rule argv chose
		}
		if cc == nil {
			cc = newCallCtx(c)
		}
		if rec, ok := r.apply(cc); ok {
			recs = append(recs, rec)
		}
	}
	return recs
}

// callCtx is a call prepared once for all rules.
type callCtx struct {
	c          Call
	pos        []string
	posAfter   []string            // positionals after the current rule's words
	lines      map[string][]string // stream -> cleaned lines
	text       map[string]string
	jsonCache  map[string]any
	jsonTried  map[string]bool
	failed     bool
	errMessage string
}

func newCallCtx(c Call) *callCtx {
	cc := &callCtx{c: c, pos: positionals(c.Args), lines: map[string][]string{}, text: map[string]string{},
		jsonCache: map[string]any{}, jsonTried: map[string]bool{}}
	for name, b := range map[string][]byte{"stdout": c.Stdout, "stderr": c.Stderr, "combined": c.Combined} {
		t := StripANSI(string(b))
		cc.text[name] = t
		cc.lines[name] = strings.Split(t, "\n")
	}
	cc.failed = c.ExitCode != 0
	cc.errMessage = ErrorLine(cc.text["stderr"], cc.text["combined"], cc.text["stdout"])
	if cc.errMessage == "" {
		for _, s := range []string{"stdout", "stderr", "combined"} {
			if m, ok := cc.json(s).(map[string]any); ok {
				if e, ok := m["error"].(string); ok && e != "" {
					cc.errMessage, cc.failed = RedactText(e), true
					break
				}
			}
		}
	}
	if cc.failed && cc.errMessage == "" {
		cc.errMessage = "exit status " + strconv.Itoa(c.ExitCode)
	}
	return cc
}

// streams returns the cleaned stream names a rule reads.
func (cc *callCtx) streams(want string) []string {
	var out []string
	if want == "stdout" || want == "any" {
		out = append(out, "stdout")
	}
	if want == "stderr" || want == "any" {
		out = append(out, "stderr")
	}
	return append(out, "combined") // PTY or merged streams serve either
}

func (cc *callCtx) json(stream string) any {
	if cc.jsonTried[stream] {
		return cc.jsonCache[stream]
	}
	cc.jsonTried[stream] = true
	t := strings.TrimSpace(cc.text[stream])
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return nil
	}
	var v any
	if json.Unmarshal([]byte(t), &v) == nil {
		cc.jsonCache[stream] = v
	}
	return cc.jsonCache[stream]
}

func (r *Rule) apply(cc *callCtx) (event.Record, bool) {
	if !r.matchesArgv(cc.c.Args, cc.pos) {
		return event.Record{}, false
	}
	switch {
	case r.On == "ok" && cc.failed, r.On == "error" && !cc.failed:
		return event.Record{}, false
	}
	r.compile()
	streams := cc.streams(r.Stream)
	groups, ok := r.matchLines(cc, streams)
	if !ok {
		return event.Record{}, false
	}
	var doc any
	if r.JSON {
		for _, s := range streams {
			if doc = cc.json(s); doc != nil {
				break
			}
		}
		if doc == nil && !(r.On != "ok" && cc.failed) {
			return event.Record{}, false
		}
	}
	cc.posAfter = cc.pos[len(r.Args):]
	return r.build(cc, groups, doc)
}

// matchLines checks unless and lines against the cleaned streams and
// returns the named groups; a failed call's rule (on = error|any) matches
// without its lines.
func (r *Rule) matchLines(cc *callCtx, streams []string) (map[string]string, bool) {
	groups := map[string]string{}
	if r.unless != nil {
		for _, s := range streams {
			for _, l := range cc.lines[s] {
				if r.unless.MatchString(l) {
					return nil, false
				}
			}
		}
	}
	for _, re := range r.lines {
		if !matchSome(re, cc, streams, groups) && !(r.On != "ok" && cc.failed) {
			return nil, false
		}
	}
	return groups, true
}

// matchSome finds re's first matching line, its named groups into groups.
func matchSome(re *regexp.Regexp, cc *callCtx, streams []string, groups map[string]string) bool {
	for _, s := range streams {
		for _, l := range cc.lines[s] {
			if m := re.FindStringSubmatch(l); m != nil {
				for i, n := range re.SubexpNames() {
					if n != "" && i < len(m) {
						groups[n] = m[i]
					}
				}
				return true
			}
		}
	}
	return false
}

// build makes the event from the rule's attribute expressions, typed by
// the catalog; a required value not found means no real match.
func (r *Rule) build(cc *callCtx, groups map[string]string, doc any) (event.Record, bool) {
	rec := event.Record{Name: r.Event}
	if cc.failed {
		rec.Err = cc.errMessage
	}
	for _, f := range r.ev.Fields {
		expr, ok := r.Attrs[f.Name]
		if !ok {
			continue
		}
		v := evalExpr(expr, cc, groups, doc)
		val, err := r.ev.Convert(f.Name, v)
		if err != nil {
			if v == "" {
				continue
			}
			val = v // keep what we saw rather than drop the event
		}
		if s, ok := val.(string); ok {
			val = RedactText(s)
		}
		rec.Set(f.Name, val)
	}
	for _, f := range r.ev.Fields {
		if f.Required && rec.GetString(f.Name) == "" && rec.Get(f.Name) == nil {
			if !cc.failed {
				return event.Record{}, false
			}
			rec.Set(f.Name, "")
		}
	}
	return rec, true
}

// Value expressions: alternatives separated by " | ", the first non-empty
// wins. Each alternative is one of:
//
//	$name      a named regexp group          $1, $2   positional after the rule's args
//	--flag     the value of a flag           !--flag  "true" when the flag is absent
//	?--flag    "true" when the flag is present
//	json:path  a JSON field (a.b, [0].id)    'text'   a literal
//	parent:X   the parent of a dotted child id given by another alternative X
//	wisp:X     "wisp" when id X is a wisp id (<prefix>-wisp-…), else ""
//	count:X    the number of elements of the JSON array or object at path X
func checkExpr(expr string, r *Rule) error {
	for _, alt := range strings.Split(expr, "|") {
		alt = strings.TrimSpace(alt)
		for {
			if p, rest, ok := strings.Cut(alt, ":"); ok && (p == "parent" || p == "wisp") {
				alt = rest
				continue
			}
			break
		}
		switch {
		case alt == "":
			return fmt.Errorf("empty alternative in %q", expr)
		case strings.HasPrefix(alt, "$"), strings.HasPrefix(alt, "--"), strings.HasPrefix(alt, "!--"), strings.HasPrefix(alt, "?--"),
			strings.HasPrefix(alt, "-") && len(alt) == 2, strings.HasPrefix(alt, "json:"), strings.HasPrefix(alt, "count:"),
			strings.HasPrefix(alt, "'") && strings.HasSuffix(alt, "'") && len(alt) >= 2:
		default:
			return fmt.Errorf("bad expression %q (want $group, $N, --flag, !--flag, ?--flag, json:path, count:path, 'literal', parent:…, wisp:…)", alt)
		}
	}
	return nil
}

func evalExpr(expr string, cc *callCtx, groups map[string]string, doc any) string {
	for _, alt := range strings.Split(expr, "|") {
		if v := evalAlt(strings.TrimSpace(alt), cc, groups, doc); v != "" {
			return v
		}
	}
	return ""
}

var dottedChild = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.+)\.\d+$`) })

func evalAlt(alt string, cc *callCtx, groups map[string]string, doc any) string {
	switch {
	case strings.HasPrefix(alt, "parent:"):
		if m := dottedChild().FindStringSubmatch(evalAlt(alt[7:], cc, groups, doc)); m != nil {
			return m[1]
		}
		return ""
	case strings.HasPrefix(alt, "wisp:"):
		if strings.Contains(evalAlt(alt[5:], cc, groups, doc), "-wisp-") {
			return "wisp"
		}
		return ""
	case strings.HasPrefix(alt, "'"):
		return strings.Trim(alt, "'")
	case strings.HasPrefix(alt, "!-"):
		return strconv.FormatBool(!hasFlag(cc.c.Args, alt[1:]))
	case strings.HasPrefix(alt, "?-"):
		return strconv.FormatBool(hasFlag(cc.c.Args, alt[1:]))
	case strings.HasPrefix(alt, "-"):
		v, _ := flagValue(cc.c.Args, alt)
		return v
	case strings.HasPrefix(alt, "json:"):
		return jsonString(jsonPath(doc, alt[5:]))
	case strings.HasPrefix(alt, "count:"):
		switch v := jsonPath(doc, alt[6:]).(type) {
		case []any:
			return strconv.Itoa(len(v))
		case map[string]any:
			return strconv.Itoa(len(v))
		}
		return ""
	case strings.HasPrefix(alt, "$"):
		if n, err := strconv.Atoi(alt[1:]); err == nil {
			// $1 is the first positional after the rule's own words.
			return cc.positional(n)
		}
		return groups[alt[1:]]
	}
	return ""
}

func (cc *callCtx) positional(n int) string {
	if n <= 0 || n > len(cc.posAfter) {
		return ""
	}
	return cc.posAfter[n-1]
}

func jsonPath(doc any, path string) any {
	cur := doc
	for path != "" {
		if strings.HasPrefix(path, "[") {
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return nil
			}
			i, err := strconv.Atoi(path[1:end])
			arr, ok := cur.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return nil
			}
			cur, path = arr[i], strings.TrimPrefix(path[end+1:], ".")
			continue
		}
		key := path
		if i := strings.IndexAny(path, ".["); i >= 0 {
			key, path = path[:i], strings.TrimPrefix(path[i:], ".")
		} else {
			path = ""
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}

func jsonString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
