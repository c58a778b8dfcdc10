package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/price"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/sink"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/tail"
	"github.com/gastown/gtrun/internal/transcripts"
)

type agentLogOptions struct {
	session, workDir, agent, since, runID, role string
	parentSpan                                  string
	once                                        bool
	quiet                                       time.Duration
}

func newAgentLogCmd(ios IOStreams) *cobra.Command {
	o := &agentLogOptions{}
	cmd := &cobra.Command{
		Use:   "agent-log --session S [--work-dir D] [--agent claudecode|codex] [--since RFC3339] [--run-id R] [--parent-span TRACEPARENT] [--once]",
		Short: "Tail an agent's JSONL transcripts into agent.event, priced agent.usage and turn spans",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.session == "" {
				return usageErr("agent-log: --session is required")
			}
			return runAgentLog(c.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.session, "session", "", "session name recorded on every event")
	f.StringVar(&o.workDir, "work-dir", "", "the agent's working directory (default: current)")
	f.StringVar(&o.agent, "agent", "claudecode", "claudecode or codex")
	f.StringVar(&o.since, "since", "", "only a session transcript modified at or after this time (RFC3339)")
	f.StringVar(&o.runID, "run-id", "", "run id (default: GT_RUN)")
	f.StringVar(&o.role, "role", "", "role recorded on every event (default: GT_ROLE)")
	f.StringVar(&o.parentSpan, "parent-span", "", "W3C traceparent of the agent's span: turn spans become its children (default: a span \"agent SESSION\" in the run's trace)")
	f.BoolVar(&o.once, "once", false, "read what is there and exit")
	f.DurationVar(&o.quiet, "quiet", 2*time.Second, "a response's usage is complete after this long without new lines")
	return cmd
}

func runAgentLog(ctx context.Context, ios IOStreams, o *agentLogOptions) error {
	if o.agent != "claudecode" && o.agent != "codex" {
		return usageErr("agent-log: --agent must be claudecode or codex, not %q", o.agent)
	}
	var parent *runenv.Traceparent
	if o.parentSpan != "" {
		tp, err := runenv.ParseTraceparent(o.parentSpan)
		if err != nil {
			return usageErr("agent-log: --parent-span: %v", err)
		}
		parent = &tp
	}
	var since time.Time
	if o.since != "" {
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return usageErr("agent-log: --since %q is not RFC3339 (e.g. 2026-11-25T10:00:00Z)", o.since)
		}
		since = t
	}
	if o.workDir == "" {
		o.workDir, _ = os.Getwd()
	}
	o.workDir, _ = filepath.Abs(o.workDir)
	lk, err := agentLogLock(o.session)
	if errors.Is(err, state.ErrLocked) {
		fmt.Fprintf(ios.Err, "gtrun: agent-log for session %s is already running\n", o.session)
		return nil
	}
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	defer lk.Unlock()
	t := newTelemetry(ios, o.runID)
	defer t.x.Close()
	if o.role == "" {
		o.role = t.env.Get("GT_ROLE")
	}
	home, _ := os.UserHomeDir()
	prices, perr := price.Load(price.UserPath(t.env.Get, home))
	if perr != nil {
		fmt.Fprintf(ios.Err, "gtrun: agent-log: %v (default prices used)\n", perr)
	}
	discover := func() ([]transcripts.File, error) {
		if o.agent == "codex" {
			return transcripts.Codex(transcripts.CodexHome(t.env.Get, home), o.workDir, since)
		}
		return transcripts.Claude(transcripts.ClaudeRoots(t.env.Get, home), o.workDir, since)
	}
	dir, err := state.Sub("agent-log")
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	cps, err := tail.OpenCheckpoints(filepath.Join(dir, "checkpoints-"+state.FileName(o.session)+".json"))
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	limit := envInt(t.env, "GT_LOG_AGENT_CONTENT_LIMIT", 512)
	files := map[string]transcripts.File{}
	parsers := map[string]parse.Transcript{}
	malformed := map[string]int{}
	lastData := time.Now()

	pr := &pricer{table: prices, warn: ios.Err, warned: map[string]bool{}}
	tr := newTurnSpans(t, o.session, parent, dir)
	// emit hands on what one Line or Flush of p produced: the records
	// (usage priced) and the turns that finished, as spans.
	emit := func(p parse.Transcript, recs []event.Record) {
		var turns []parse.Turn
		if ts, ok := p.(parse.TurnSource); ok {
			turns = ts.Turns()
		}
		tr.emit(pr, recs, turns)
	}
	flushHeld := func() {
		for _, p := range parsers {
			emit(p, p.Flush())
		}
	}
	fol := &tail.Follower{
		Once:        o.once,
		Checkpoints: cps,
		Discover: func() ([]string, error) {
			fs, err := discover()
			var out []string
			for _, f := range fs {
				files[f.Path] = f
				out = append(out, f.Path)
			}
			return out, err
		},
		Open: func(path string, st json.RawMessage) {
			f := files[path]
			opts := parse.TranscriptOptions{Session: o.session, Role: o.role, ContentLimit: limit,
				Subagent: f.Subagent, NativeSessionID: f.SessionID}
			if f.Subagent {
				opts.AgentID = strings.TrimPrefix(strings.TrimSuffix(filepath.Base(path), ".jsonl"), "agent-")
			}
			var p parse.Transcript
			if f.Agent == "codex" {
				p = parse.NewCodex(opts)
			} else {
				p = parse.NewClaude(opts)
			}
			if st != nil {
				if s, ok := p.(parse.Stateful); ok {
					s.Restore(st)
				}
			}
			parsers[path] = p
		},
		Handle: func(l tail.Line) error {
			lastData = time.Now()
			p := parsers[l.File]
			recs, err := p.Line(l.Data)
			if err != nil {
				malformed[l.File]++
				return nil
			}
			emit(p, recs)
			return nil
		},
		Idle: func() {
			if time.Since(lastData) >= o.quiet {
				flushHeld()
			}
		},
		AtEnd: func() {
			// At the end of a file the last response is complete only if
			// the agent stopped writing; a file still being written keeps
			// it held (in the checkpoint) for the next run.
			for path, p := range parsers {
				if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) >= o.quiet {
					emit(p, p.Flush())
				}
			}
		},
		// A batch's offsets are saved once its records are in the journal:
		// from there the delivery agent owns them.
		Commit: func() error {
			if err := t.x.Commit(); err != nil {
				return err
			}
			return tr.committed()
		},
		Snapshot: func(path string) json.RawMessage {
			if s, ok := parsers[path].(parse.Stateful); ok {
				return s.State()
			}
			return nil
		},
		Warn: func(msg string) { fmt.Fprintf(ios.Err, "gtrun: agent-log: %s\n", msg) },
	}
	// SIGTERM/SIGINT: stop following, drain, flush held usage, commit.
	runCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	err = fol.Run(runCtx)
	if err == nil {
		if !o.once {
			flushHeld()
		}
		tr.finish() // the "agent SESSION" span, once its children are known
		if err = t.x.Commit(); err == nil {
			err = tr.committed()
		}
		if err == nil && !o.once {
			for path, p := range parsers {
				if s, ok := p.(parse.Stateful); ok {
					cp, _ := cps.Get(path)
					cp.State = s.State()
					cps.Set(path, cp)
				}
			}
			err = cps.Save()
		}
	}
	for f, n := range malformed {
		fmt.Fprintf(ios.Err, "gtrun: agent-log: %s: %d malformed lines skipped\n", f, n)
	}
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	return nil
}

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
	t       *telemetry
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

func newTurnSpans(t *telemetry, session string, parent *runenv.Traceparent, dir string) *turnSpans {
	ts := &turnSpans{t: t, on: t.x.Config().Dest.Traces != ""}
	if !ts.on {
		return ts
	}
	defer func() { t.x.SetSpan(ts.trace, ts.parent) }() // records point at the agent's span
	if parent != nil {
		ts.trace, ts.parent, ts.remote = parent.TraceID, parent.SpanID, true
		return ts
	}
	// The agent's span is not known: a span of our own, in the trace the
	// agent's span is in (the TRACEPARENT gtrun agent was started with, else
	// the run's), under that TRACEPARENT's span when there is one.
	ts.trace = runenv.TraceID(t.runID)
	var up [8]byte
	if tp, err := runenv.ParseTraceparent(t.env.Get("TRACEPARENT")); err == nil {
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
	ts.t.x.AddSpan(sink.Span{Name: ts.name, TraceID: ts.trace, SpanID: ts.parent, Parent: ts.up, Remote: ts.up != [8]byte{},
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
				ts.t.x.SetSpan(ts.trace, resp[k])
				k++
				ts.t.x.Emit(r)
				ts.t.x.SetSpan(ts.trace, ts.parent)
				continue
			}
		}
		ts.t.x.Emit(r)
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
		ts.t.x.AddSpan(sp)
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
