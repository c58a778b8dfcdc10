// Package agentlog follows a coding agent's JSONL transcripts (Claude Code,
// Codex) into agent.event records, priced agent.usage records and turn
// spans, exactly once across restarts.
//
// A Pipeline is the stages of `gtrun agent-log` with their dependencies
// passed in (clock, transcript finder, sink, price table, checkpoint
// store), so it runs in tests without the binary:
//
//	discover → open (a parser per file, its state restored) → line →
//	held usage flushed (quiet period, end of file, shutdown) → priced →
//	emitted → committed (the journal has it) → offsets and parser state
//	saved.
//
// Offsets are saved only after the records they cover are in the journal
// (commit after emit): a crash re-reads, never skips; span ids come from
// the transcript, so a re-read turn is the same span.
package agentlog

import (
	"context"
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
	"github.com/gastown/gtrun/internal/tail"
	"github.com/gastown/gtrun/internal/transcripts"
)

// Sink is where records and spans go (internal/sink.Sink).
type Sink interface {
	Emit(event.Record)
	AddSpan(sink.Span)
	SetSpan(trace [16]byte, span [8]byte)
	Commit() error
}

// Options are what the user chose.
type Options struct {
	Session, Role string
	Once          bool
	// Quiet: a response's usage is complete after this long without lines.
	Quiet        time.Duration
	ContentLimit int
	// Traces: turn spans are recorded (a traces endpoint is configured).
	Traces bool
	// Parent is the agent's span (gtrun agent); nil: a span "agent
	// SESSION" of agent-log's own, under TraceParent when set, in the
	// trace of RunID.
	Parent      *runenv.Traceparent
	TraceParent string
	RunID       string
}

// Deps are the pipeline's collaborators.
type Deps struct {
	Now         func() time.Time
	Find        func() ([]transcripts.File, error)
	Sink        Sink
	Prices      *price.Table
	Checkpoints *tail.Checkpoints
	// StateDir holds the "agent SESSION" span's state.
	StateDir string
	Warn     io.Writer
}

// Pipeline is one agent-log run.
type Pipeline struct {
	o         Options
	d         Deps
	files     map[string]transcripts.File
	parsers   map[string]parse.Transcript
	malformed map[string]int
	lastData  time.Time
	pricer    *pricer
	spans     *turnSpans
	fol       *tail.Follower
}

// New wires a pipeline.
func New(o Options, d Deps) *Pipeline {
	if d.Now == nil {
		d.Now = time.Now
	}
	p := &Pipeline{o: o, d: d, files: map[string]transcripts.File{}, parsers: map[string]parse.Transcript{},
		malformed: map[string]int{}, lastData: d.Now()}
	p.pricer = &pricer{table: d.Prices, warn: d.Warn, warned: map[string]bool{}}
	p.spans = newTurnSpans(o, d)
	p.fol = &tail.Follower{
		Once: o.Once, Checkpoints: d.Checkpoints,
		Discover: p.discover, Open: p.open, Handle: p.line, Idle: p.idle, AtEnd: p.atEnd,
		Commit: p.commit, Snapshot: p.snapshot,
		Warn: func(msg string) { fmt.Fprintf(d.Warn, "gtrun: agent-log: %s\n", msg) },
	}
	return p
}

// Run follows the transcripts until ctx ends (SIGTERM) or, with Once, to
// their ends; then it flushes held usage, commits and saves the parsers'
// state.
func (p *Pipeline) Run(ctx context.Context) error {
	err := p.fol.Run(ctx)
	if err == nil {
		err = p.finish()
	}
	for f, n := range p.malformed {
		fmt.Fprintf(p.d.Warn, "gtrun: agent-log: %s: %d malformed lines skipped\n", f, n)
	}
	return err
}

func (p *Pipeline) discover() ([]string, error) {
	fs, err := p.d.Find()
	var out []string
	for _, f := range fs {
		p.files[f.Path] = f
		out = append(out, f.Path)
	}
	return out, err
}

// open makes the parser of a file, its saved state restored.
func (p *Pipeline) open(path string, st json.RawMessage) {
	f := p.files[path]
	opts := parse.TranscriptOptions{Session: p.o.Session, Role: p.o.Role, ContentLimit: p.o.ContentLimit,
		Subagent: f.Subagent, NativeSessionID: f.SessionID}
	if f.Subagent {
		opts.AgentID = strings.TrimPrefix(strings.TrimSuffix(filepath.Base(path), ".jsonl"), "agent-")
	}
	var tr parse.Transcript
	if f.Agent == "codex" {
		tr = parse.NewCodex(opts)
	} else {
		tr = parse.NewClaude(opts)
	}
	if s, ok := tr.(parse.Stateful); ok && st != nil {
		s.Restore(st)
	}
	p.parsers[path] = tr
}

// line parses one transcript line; a malformed one is counted and skipped.
func (p *Pipeline) line(l tail.Line) error {
	p.lastData = p.d.Now()
	tr := p.parsers[l.File]
	recs, err := tr.Line(l.Data)
	if err != nil {
		p.malformed[l.File]++
		return nil
	}
	p.emit(tr, recs)
	return nil
}

// emit hands on what one step of a parser produced: records (usage
// priced) and the turns that finished, as spans.
func (p *Pipeline) emit(tr parse.Transcript, recs []event.Record) {
	var turns []parse.Turn
	if ts, ok := tr.(parse.TurnSource); ok {
		turns = ts.Turns()
	}
	p.spans.emit(p.pricer, recs, turns)
}

func (p *Pipeline) flushHeld() {
	for _, tr := range p.parsers {
		p.emit(tr, tr.Flush())
	}
}

// idle: in follow mode, held usage is complete after a quiet period.
func (p *Pipeline) idle() {
	if p.d.Now().Sub(p.lastData) >= p.o.Quiet {
		p.flushHeld()
	}
}

// atEnd (Once): at the end of a file the last response is complete only
// if the agent stopped writing; a file still being written keeps it held
// (in the checkpoint) for the next run — and says so.
func (p *Pipeline) atEnd() {
	for path, tr := range p.parsers {
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if age := p.d.Now().Sub(fi.ModTime()); age >= p.o.Quiet {
			p.emit(tr, tr.Flush())
		} else if tr.Pending() {
			fmt.Fprintf(p.d.Warn, "gtrun: agent-log: %s: the last response's usage is held back: the transcript was written %v ago (under --quiet %v), so the response may not be complete; the next agent-log reports it\n",
				filepath.Base(path), age.Round(time.Millisecond), p.o.Quiet)
		}
	}
}

// commit: a batch's offsets are saved once its records are in the
// journal; from there the delivery agent owns them.
func (p *Pipeline) commit() error {
	if err := p.d.Sink.Commit(); err != nil {
		return err
	}
	return p.spans.committed()
}

func (p *Pipeline) snapshot(path string) json.RawMessage {
	if s, ok := p.parsers[path].(parse.Stateful); ok {
		return s.State()
	}
	return nil
}

// finish ends a run: held usage flushed (follow mode: shutdown is the end
// of the response), the agent's span recorded, everything committed, the
// parsers' state saved with the offsets.
func (p *Pipeline) finish() error {
	if !p.o.Once {
		p.flushHeld()
	}
	p.spans.finish()
	if err := p.commit(); err != nil || p.o.Once {
		return err
	}
	cps := p.d.Checkpoints
	for path, tr := range p.parsers {
		if s, ok := tr.(parse.Stateful); ok {
			cp, _ := cps.Get(path)
			cp.State = s.State()
			cps.Set(path, cp)
		}
	}
	return cps.Save()
}
