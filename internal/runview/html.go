package runview

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The page's CSS, JS and markup are embedded: the HTML is one
// self-contained file (no CDN, no network; its Content-Security-Policy
// forbids any load but its own JSON endpoint in live mode).
//
//go:embed assets/view.css assets/view.js assets/view.html.tmpl
var assets embed.FS

// pageTmpl is parsed on first use: every gtrun process links this package,
// and parsing the template at init cost each wrapped call ~0.7 ms.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("view.html.tmpl").ParseFS(assets, "assets/view.html.tmpl"))
})

var (
	pageCSS = mustAsset("assets/view.css")
	pageJS  = mustAsset("assets/view.js")
)

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// HTMLOptions control the HTML page.
type HTMLOptions struct {
	// LiveURL, when set, makes the page fetch this JSON (LiveJSON, from the
	// page's own server) every LiveEvery and redraw the run from it.
	LiveURL string
	// LiveEvery is the refresh period of a live page (default 2s).
	LiveEvery time.Duration
}

// RenderHTML writes the run as one self-contained HTML page: the
// waterfall with its nesting (sessions, agents, agent turns, calls),
// errors marked, every record's attributes on click (and a summary on
// hover), and the token and cost footer. It is pure: the same run gives
// the same bytes.
func RenderHTML(w io.Writer, run Run, opts HTMLOptions) error {
	run = boundRun(run)
	every := opts.LiveEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	// The run is drawn straight into w (not rendered to a string first):
	// a big run's page is never held whole in memory.
	return pageTmpl().ExecuteTemplate(w, "page", map[string]any{
		"ID":        run.ID,
		"CSS":       template.CSS(pageCSS),
		"JS":        template.JS(pageJS),
		"View":      buildView(run),
		"LiveURL":   opts.LiveURL,
		"LiveEvery": every.Milliseconds(),
	})
}

// renderFragment renders what is inside the page's <main>: the part a live
// page replaces on refresh.
func renderFragment(run Run) (template.HTML, error) {
	var b bytes.Buffer
	if err := pageTmpl().ExecuteTemplate(&b, "run", buildView(run)); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// node is one row of the waterfall and what nests under it.
type node struct {
	Kind     string // bd, cmd, session, agent, turn, agent-event, usage, event
	Key      string // stable across refreshes
	Record   bool   // the row is a record (data-record); else a group
	Index    int    // the record's index in Run.Events
	Name     string
	Detail   string
	Offset   string
	Dur      string
	Style    template.CSS // bar position
	Point    bool         // an instant: a dot, not a bar
	Error    bool         // this record failed
	HasError bool         // something under it failed
	Status   string
	Title    string
	Attrs    [][2]string
	Depth    int
	Children []*node

	start, end time.Time
	ev         *Event
}

type view struct {
	Run      Run
	Bead     string
	Roots    []*node
	Head     string
	Wall     string
	Ticks    []tick
	Events   int
	Calls    int
	Errors   int
	Tokens   []tokenRow
	Beads    []tokenRow
	Cost     costSummary
	HasUsage bool
}

type tick struct {
	Style template.CSS
	Label string
}

type tokenRow struct {
	Name string
	T    Tokens
}

type costSummary struct {
	USD       float64
	Priced    int      // agent.usage records with cost_usd
	Responses int      // agent.usage records
	Unknown   []string // models without a price
	Amount    string   // "" when nothing was priced: never "$0.00" for unknown
	Note      string
}

func buildView(r Run) view {
	v := view{Run: r, Bead: commonBead(r), Events: len(r.Events), Calls: r.Calls, Errors: r.Errors}
	if len(r.Events) > 0 {
		v.Head = fmt.Sprintf("%s → %s UTC", r.Start.UTC().Format("2006-01-02 15:04:05.000"), r.End.UTC().Format("15:04:05.000"))
		v.Wall = dur(r.End.Sub(r.Start))
	}
	total := r.End.Sub(r.Start)
	for i := 0; i <= 4; i++ {
		label := "+0s"
		if i > 0 {
			label = "+" + dur(total*time.Duration(i)/4)
		}
		v.Ticks = append(v.Ticks, tick{template.CSS(fmt.Sprintf("left:%d%%", i*25)), label})
	}
	v.Roots = buildTree(r)
	for _, n := range v.Roots {
		place(n, r, 0)
	}
	var all Tokens
	for _, k := range sortedKeys(r.ByAgent) {
		v.Tokens = append(v.Tokens, tokenRow{k, r.ByAgent[k]})
		all = add(all, r.ByAgent[k])
	}
	if len(v.Tokens) > 1 {
		v.Tokens = append(v.Tokens, tokenRow{"total", all})
	}
	for _, k := range sortedKeys(r.ByBead) {
		v.Beads = append(v.Beads, tokenRow{k, r.ByBead[k]})
	}
	v.Cost = costOf(r)
	v.HasUsage = v.Cost.Responses > 0 || len(v.Tokens) > 0
	return v
}

// costOf sums cost_usd over agent.usage records and lists the models that
// had no price (cost_unknown_model). A response with neither is counted as
// unpriced: its cost is unknown, never zero.
func costOf(r Run) costSummary {
	var c costSummary
	unknown := map[string]bool{}
	for _, e := range r.Events {
		if e.Name != "agent.usage" {
			continue
		}
		c.Responses++
		if f, err := strconv.ParseFloat(e.Attrs["cost_usd"], 64); err == nil {
			c.USD += f
			c.Priced++
			continue
		}
		// cost_unknown_model is true (the model is in "model") or the
		// model's name; without it the response is unpriced for no given
		// reason (a gtrun without pricing).
		m := e.Attrs["cost_unknown_model"]
		if b, err := strconv.ParseBool(m); err == nil {
			if !b {
				continue
			}
			if m = e.Attrs["model"]; m == "" {
				m = "(model not recorded)"
			}
		}
		if m != "" {
			unknown[m] = true
		}
	}
	for m := range unknown {
		c.Unknown = append(c.Unknown, m)
	}
	sort.Strings(c.Unknown)
	if c.Priced > 0 {
		c.Amount = money(c.USD)
		if c.Priced < c.Responses {
			c.Note = fmt.Sprintf("for %d of %d responses", c.Priced, c.Responses)
		}
	} else if c.Responses > 0 && len(c.Unknown) == 0 {
		c.Note = fmt.Sprintf("(%d responses, none priced)", c.Responses)
	}
	return c
}

// money formats dollars with the precision small agent costs need.
func money(f float64) string {
	if f >= 1 {
		return fmt.Sprintf("$%.2f", f)
	}
	return fmt.Sprintf("$%.4f", f)
}

func kindOf(name string) string {
	switch name {
	case "bd.call":
		return "bd"
	case "cmd.call":
		return "cmd"
	case "session.start", "session.stop":
		return "session"
	case "agent.instantiate":
		return "agent"
	case "agent.event":
		return "agent-event"
	case "agent.usage":
		return "usage"
	}
	return "event"
}

func recordNode(r Run, i int, bead string) *node {
	e := &r.Events[i]
	n := &node{Kind: kindOf(e.Name), Record: true, Index: i, Name: e.Name, Detail: cutDetail(htmlDetail(bead, *e)), Status: e.Status,
		Error: e.Status == "error", start: e.Start, end: e.Start.Add(e.Duration), ev: e}
	n.Key = fmt.Sprintf("r%d-%s", e.Start.UnixNano(), e.Name)
	if sp := e.Attrs["span_id"]; sp != "" {
		n.Key += "-" + sp
	}
	n.Attrs = append(n.Attrs, [2]string{"status", e.Status})
	if e.Error != "" {
		n.Attrs = append(n.Attrs, [2]string{"error", e.Error})
	}
	n.Attrs = append(n.Attrs, [2]string{"time", e.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00")})
	if e.Duration > 0 {
		n.Attrs = append(n.Attrs, [2]string{"duration", dur(e.Duration)})
	}
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n.Attrs = append(n.Attrs, [2]string{k, e.Attrs[k]})
	}
	return n
}

// htmlDetail is detail() without what the page shows elsewhere: the
// trace correlation ids (in the attributes) and the run's work bead when
// every record has the same one (in the header).
func htmlDetail(bead string, e Event) string {
	a := make(map[string]string, len(e.Attrs))
	for k, v := range e.Attrs {
		if k != "trace_id" && k != "span_id" {
			a[k] = v
		}
	}
	if bead != "" && a["gt.work_bead"] == bead {
		delete(a, "gt.work_bead")
	}
	e.Attrs = a
	return detail(e)
}

// commonBead is the work bead every record of the run carries, if any.
func commonBead(r Run) string {
	b := ""
	for i, e := range r.Events {
		v := e.Attrs["gt.work_bead"]
		if v == "" || (i > 0 && v != b) {
			return ""
		}
		b = v
	}
	return b
}

func groupNode(kind, key, name, detail string) *node {
	return &node{Kind: kind, Key: key, Name: name, Detail: detail, Index: -1}
}

// buildTree nests the run's records: a session's records under its
// session.start (to its session.stop); an agent's records (agent.event,
// agent.usage) under the agent — its agent.instantiate when the run has
// one — in turns that each begin with a user message; the rest at the top.
func buildTree(r Run) []*node {
	tb := &treeBuilder{r: r, bead: commonBead(r), sessions: map[string][]*node{},
		agents: map[agentKey][]*node{}, turns: map[*node]*node{}}
	for i, e := range r.Events {
		if e.Name == "session.start" && e.Session != "" {
			n := recordNode(r, i, tb.bead)
			tb.sessions[e.Session] = append(tb.sessions[e.Session], n)
			tb.roots = append(tb.roots, n)
		}
	}
	for i, e := range r.Events {
		if e.Name == "agent.instantiate" {
			n := recordNode(r, i, tb.bead)
			tb.agents[agentOf(e)] = append(tb.agents[agentOf(e)], n)
			tb.attach(tb.parentOf(e), n)
		}
	}
	for i, e := range r.Events {
		switch e.Name {
		case "session.start":
			if e.Session == "" {
				tb.attach(nil, recordNode(r, i, tb.bead))
			}
		case "agent.instantiate": // placed above
		case "agent.event", "agent.usage":
			t := tb.turnOf(e)
			t.Children = append(t.Children, recordNode(r, i, tb.bead))
		default:
			tb.attach(tb.parentOf(e), recordNode(r, i, tb.bead))
		}
	}
	for _, a := range tb.agents {
		for _, g := range a {
			for _, t := range g.Children {
				if t.Kind == "turn" {
					t.Detail = turnDetail(t)
				}
			}
		}
	}
	sortNodes(tb.roots)
	return tb.roots
}

type agentKey struct{ session, agent string }

func agentOf(e Event) agentKey {
	a := e.Attrs["agent_type"]
	if a == "" {
		a = "agent"
	}
	return agentKey{e.Session, a}
}

// treeBuilder holds the groups a run's records go into.
type treeBuilder struct {
	r        Run
	bead     string
	roots    []*node
	sessions map[string][]*node // by session name, in start order
	agents   map[agentKey][]*node
	turns    map[*node]*node // agent → its current turn
}

// latest returns the last group started at or before t (else the first).
func latest(gs []*node, t time.Time) *node {
	g := gs[0]
	for _, c := range gs[1:] {
		if !c.start.After(t) {
			g = c
		}
	}
	return g
}

func (tb *treeBuilder) parentOf(e Event) *node {
	if gs := tb.sessions[e.Session]; len(gs) > 0 {
		return latest(gs, e.Start)
	}
	return nil
}

func (tb *treeBuilder) attach(parent, n *node) {
	if parent == nil {
		tb.roots = append(tb.roots, n)
		return
	}
	parent.Children = append(parent.Children, n)
}

// turnOf is the turn an agent's record goes in: the agent's current one,
// a new one at each user message, under the agent (a group of its own
// when the run has no agent.instantiate for it).
func (tb *treeBuilder) turnOf(e Event) *node {
	k := agentOf(e)
	if len(tb.agents[k]) == 0 {
		g := groupNode("agent", fmt.Sprintf("a-%s-%s", k.session, k.agent), "agent", k.agent)
		g.start = e.Start
		tb.agents[k] = []*node{g}
		tb.attach(tb.parentOf(e), g)
	}
	a := latest(tb.agents[k], e.Start)
	t := tb.turns[a]
	if t == nil || (e.Name == "agent.event" && e.Attrs["event_type"] == "user" && len(t.Children) > 0) {
		num := 1
		if t != nil {
			num = len(a.Children) + 1
		}
		t = groupNode("turn", fmt.Sprintf("%s-t%d", a.Key, num), fmt.Sprintf("turn %d", num), "")
		tb.turns[a] = t
		a.Children = append(a.Children, t)
	}
	return t
}

// turnDetail summarises a turn: its prompt and its tokens.
func turnDetail(t *node) string {
	var parts []string
	var tk Tokens
	usage := false
	for _, c := range t.Children {
		e := c.ev
		if e.Name == "agent.event" && e.Attrs["event_type"] == "user" && len(parts) == 0 {
			parts = append(parts, "“"+strings.Join(strings.Fields(e.Attrs["content"]), " ")+"”")
		}
		if e.Name == "agent.usage" {
			usage = true
			tk = add(tk, Tokens{Input: num(e.Attrs, "input_tokens"), Output: num(e.Attrs, "output_tokens"), CacheRead: num(e.Attrs, "cache_read_tokens"), CacheCreation: num(e.Attrs, "cache_creation_tokens")})
		}
	}
	parts = append(parts, fmt.Sprintf("%d events", len(t.Children)))
	if usage {
		parts = append(parts, fmt.Sprintf("in %d out %d cache %d/%d", tk.Input, tk.Output, tk.CacheRead, tk.CacheCreation))
	}
	return strings.Join(parts, " · ")
}

// sortNodes orders siblings by start (a group by its earliest record),
// stably, recursively.
func sortNodes(ns []*node) {
	for _, n := range ns {
		sortNodes(n.Children)
		span(n)
	}
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].start.Before(ns[j].start) })
}

// span widens a node to cover what is under it.
func span(n *node) {
	for _, c := range n.Children {
		if n.start.IsZero() || c.start.Before(n.start) {
			n.start = c.start
		}
		if c.end.After(n.end) {
			n.end = c.end
		}
	}
	if n.end.Before(n.start) {
		n.end = n.start
	}
}

// place fills in the row's text and bar, relative to the run.
func place(n *node, r Run, depth int) {
	n.Depth = depth
	total := r.End.Sub(r.Start)
	off := n.start.Sub(r.Start)
	d := n.end.Sub(n.start)
	n.Offset = fmt.Sprintf("+%.3fs", off.Seconds())
	n.Point = d <= 0
	if !n.Point {
		n.Dur = dur(d)
	}
	left, width := 0.0, 0.0
	if total > 0 {
		left = float64(off) / float64(total) * 100
		width = float64(d) / float64(total) * 100
	}
	n.Style = template.CSS(fmt.Sprintf("left:%.3f%%;width:%.3f%%", left, width))
	title := n.Name
	if n.Detail != "" {
		title += " — " + n.Detail
	}
	title += "\n" + n.Offset
	if n.Dur != "" {
		title += " · " + n.Dur
	}
	if n.Record {
		title += " · " + n.Status + "\nclick for attributes"
	}
	n.Title = title
	for _, c := range n.Children {
		place(c, r, depth+1)
		if c.Error || c.HasError {
			n.HasError = true
		}
	}
}
