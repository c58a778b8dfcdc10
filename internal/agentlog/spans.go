package agentlog

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/price"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/sink"
	"github.com/gastown/gtrun/internal/state"
)

// pricer puts a cost on agent.usage: cost_usd, or cost_unknown_model for a
// model without a price (never a cost of 0), with one warning per unknown
// model per process.
type pricer struct {
	table  *price.Table
	warn   io.Writer
	warned map[string]bool
}

// usageOf reads a usage's tokens from agent.usage attributes.
func usageOf(get func(string) any) price.Usage {
	n := func(k string) int64 { v, _ := get(k).(int64); return v }
	u := price.Usage{Input: n("input_tokens"), Output: n("output_tokens"), CacheRead: n("cache_read_tokens"),
		CacheWrite1h: n("cache_creation_1h_tokens")}
	u.Model, _ = get("model").(string)
	u.CacheWrite5m = n("cache_creation_tokens") - u.CacheWrite1h
	return u
}

// cost returns the attribute to set on a usage: ("cost_usd", float64) or
// ("cost_unknown_model", model).
func (p *pricer) cost(get func(string) any) event.Attr {
	u := usageOf(get)
	if usd, ok := p.table.Cost(u); ok {
		return event.Float("cost_usd", usd)
	}
	if !p.warned[u.Model] {
		p.warned[u.Model] = true
		fmt.Fprintf(p.warn, "gtrun: agent-log: %s\n", price.UnknownWarning(u.Model))
	}
	return event.String("cost_unknown_model", u.Model)
}

// turnSpans turns an agent's turns into spans of the run's trace, children
// of the agent's span (--parent-span) or, until gtrun agent names it, of a
// span "agent SESSION" that agent-log records once per run and session.
//
// Span ids are parse.SpanID(trace, turn ID): the same turn always has the
// same span, so a restarted agent-log cannot record it twice under two ids,
// and the parsers report a turn once (held tool calls and responses are
// in their checkpointed state).
type turnSpans struct {
	sink    Sink
	on      bool
	trace   [16]byte
	parent  [8]byte // the agent's span
	remote  bool
	anchor  *anchorState // nil: the parent was given
	up      [8]byte      // the anchor's parent (TRACEPARENT), zero for a root
	path    string       // the anchor's state file
	name    string
	changed bool // the anchor's state changed since the last commit
}

// anchorState is the "agent SESSION" span's state, saved beside the
// checkpoints once the journal has what it covers.
type anchorState struct {
	Trace   string    `json:"trace"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Emitted bool      `json:"emitted"`
}

func newTurnSpans(o Options, d Deps) *turnSpans {
	session, parent, dir := o.Session, o.Parent, d.StateDir
	ts := &turnSpans{sink: d.Sink, on: o.Traces}
	if !ts.on {
		return ts
	}
	defer func() { d.Sink.SetSpan(ts.trace, ts.parent) }() // records point at the agent's span
	if parent != nil {
		ts.trace, ts.parent, ts.remote = parent.TraceID, parent.SpanID, true
		return ts
	}
	// The agent's span is not known: a span of our own, in the trace the
	// agent's span is in (the TRACEPARENT gtrun agent was started with, else
	// the run's), under that TRACEPARENT's span when there is one.
	ts.trace = runenv.TraceID(o.RunID)
	var up [8]byte
	if tp, err := runenv.ParseTraceparent(o.TraceParent); err == nil {
		ts.trace, up = tp.TraceID, tp.SpanID
	}
	ts.name = "agent " + session
	ts.parent = parse.SpanID(ts.trace, "agent-log:"+session)
	ts.path = filepath.Join(dir, "span-"+state.FileName(session)+".json")
	ts.anchor = &anchorState{Trace: hex.EncodeToString(ts.trace[:])}
	if b, err := os.ReadFile(ts.path); err == nil {
		var a anchorState
		if json.Unmarshal(b, &a) == nil && a.Trace == ts.anchor.Trace {
			ts.anchor = &a
		}
	}
	ts.up = up
	return ts
}

// finish records the "agent SESSION" span once, when agent-log ends with
// turns recorded under it: from the first turn's start to the last turn's
// end seen by then.
func (ts *turnSpans) finish() {
	a := ts.anchor
	if a == nil || a.Emitted || a.Start.IsZero() {
		return
	}
	ts.sink.AddSpan(sink.Span{Name: ts.name, TraceID: ts.trace, SpanID: ts.parent, Parent: ts.up, Remote: ts.up != [8]byte{},
		Start: a.Start, End: a.End, Attrs: []event.Attr{event.String("session", strings.TrimPrefix(ts.name, "agent "))}})
	a.Emitted = true
	ts.changed = true
}

// committed saves the anchor's state once the journal has the spans it
// covers (a crash before that records the anchor again, like a record).
func (ts *turnSpans) committed() error {
	if ts.anchor == nil || !ts.changed {
		return nil
	}
	b, err := json.Marshal(ts.anchor)
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(ts.path, b); err != nil {
		return err
	}
	ts.changed = false
	return nil
}

// emit records one parse step's records (usage priced, each usage record
// pointing at its response's span) and its turns as spans.
func (ts *turnSpans) emit(pr *pricer, recs []event.Record, turns []parse.Turn) {
	var resp [][8]byte // span ids of the response turns, in order
	for i := range turns {
		tn := &turns[i]
		if tn.Kind == "response" {
			a := pr.cost(tn.Get)
			tn.Set(a.Key, a.Value)
			resp = append(resp, parse.SpanID(ts.trace, tn.ID))
		}
	}
	k := 0
	for _, r := range recs {
		if r.Name == "agent.usage" {
			a := pr.cost(r.Get)
			r.Set(a.Key, a.Value)
			if ts.on && k < len(resp) {
				ts.sink.SetSpan(ts.trace, resp[k])
				k++
				ts.sink.Emit(r)
				ts.sink.SetSpan(ts.trace, ts.parent)
				continue
			}
		}
		ts.sink.Emit(r)
	}
	if !ts.on {
		return
	}
	for _, tn := range turns {
		sp := sink.Span{Name: tn.Name, TraceID: ts.trace, SpanID: parse.SpanID(ts.trace, tn.ID), Parent: ts.parent,
			Remote: ts.remote, Start: tn.Start, End: tn.End, Attrs: tn.Attrs, Err: tn.Err}
		if tn.Parent != "" {
			sp.Parent, sp.Remote = parse.SpanID(ts.trace, tn.Parent), false
		}
		ts.sink.AddSpan(sp)
		if a := ts.anchor; a != nil && !a.Emitted {
			if a.Start.IsZero() || tn.Start.Before(a.Start) {
				a.Start = tn.Start
			}
			if tn.End.After(a.End) {
				a.End = tn.End
			}
			ts.changed = true
		}
	}
}
