// Package sink is what every gtrun command that records telemetry uses on
// the user's time. It collects records and spans in memory and, at Commit
// or Close, appends them as one entry to the per-user journal
// (internal/journal), makes sure the delivery agent (gtrun-shipper) runs,
// and prints at most one short line per misconfiguration per hour. It never
// touches the network and never links OpenTelemetry: a wrapped call costs
// what a minimal Go exec wrapper costs, whatever state the backends are in.
package sink

import (
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/state"
)

// Span is one finished span. gtrun knows a span's ids before its child
// starts (the child's TRACEPARENT names it) and its times only after, so
// spans are recorded whole.
type Span struct {
	Name    string
	TraceID [16]byte
	SpanID  [8]byte
	Parent  [8]byte // zero: a root span
	Remote  bool    // the parent came from TRACEPARENT of another process
	Start   time.Time
	End     time.Time
	Attrs   []event.Attr
	Err     string
}

// Sink collects one process's telemetry. It is safe for concurrent use.
type Sink struct {
	cfg      Config
	problems []string
	warn     io.Writer

	mu      sync.Mutex
	recs    []journal.Record
	spans   []journal.Span
	traceID string // current span of records, hex
	spanID  string
	ensured bool         // this call started the agent already
	lease   *state.Lease // the receiver's lease (Receiver), released at Close
}

// New returns a sink for cfg. problems are the configuration problems
// FromEnv found; warn is where their one line goes (stderr), at Close.
func New(cfg Config, problems []string, warn io.Writer) *Sink {
	return &Sink{cfg: cfg, problems: problems, warn: warn}
}

// Config returns the sink's configuration.
func (s *Sink) Config() Config { return s.cfg }

// Enabled reports whether records go anywhere.
func (s *Sink) Enabled() bool { return s.cfg.Enabled() }

// SetSpan makes every record emitted from now on carry this span's ids
// (log–trace correlation).
func (s *Sink) SetSpan(traceID [16]byte, spanID [8]byte) {
	s.mu.Lock()
	s.traceID, s.spanID = hex.EncodeToString(traceID[:]), hex.EncodeToString(spanID[:])
	s.mu.Unlock()
}

// Emit records one catalog event.
func (s *Sink) Emit(r event.Record) {
	if !s.cfg.Enabled() {
		return
	}
	jr := journal.FromEvent(r.Bounded()) // no unbounded value reaches the journal
	s.mu.Lock()
	jr.TraceID, jr.SpanID = s.traceID, s.spanID
	s.recs = append(s.recs, jr)
	s.mu.Unlock()
}

// AddSpan records a finished span (only when traces are exported).
func (s *Sink) AddSpan(sp Span) {
	if s.cfg.Dest.Traces == "" {
		return
	}
	js := journal.Span{
		Name: sp.Name, TraceID: hex.EncodeToString(sp.TraceID[:]), SpanID: hex.EncodeToString(sp.SpanID[:]),
		Remote: sp.Remote, Start: sp.Start.UnixNano(), End: sp.End.UnixNano(), Attrs: event.BoundAttrs(sp.Attrs), Err: event.Cut(sp.Err, event.MaxValue),
	}
	if sp.Parent != [8]byte{} {
		js.Parent = hex.EncodeToString(sp.Parent[:])
	}
	s.mu.Lock()
	s.spans = append(s.spans, js)
	s.mu.Unlock()
}

// Commit appends what was collected since the last Commit as one journal
// entry. Once it returns nil the records are the agent's responsibility
// (callers that checkpoint their input, like agent-log, commit after it).
func (s *Sink) Commit() error {
	s.mu.Lock()
	recs, spans := s.recs, s.spans
	s.recs, s.spans = nil, nil
	s.mu.Unlock()
	if len(recs) == 0 && len(spans) == 0 {
		return nil
	}
	e := journal.Entry{Dest: s.cfg.Dest, RunID: s.cfg.RunID, Version: s.cfg.Version, Written: time.Now().UnixNano(),
		Resource: s.cfg.Resource, Work: s.cfg.Work, Records: recs, Spans: spans}
	payload, err := e.Encode()
	if err != nil {
		return err
	}
	dir, err := state.Sub("journal")
	if err != nil {
		return err
	}
	if err := journal.Open(dir).Append(payload); err != nil {
		return err
	}
	s.ensureShipper()
	return nil
}

// Close commits what is left and prints the process's configuration
// problems (each once per hour per user). It never fails the command.
func (s *Sink) Close() {
	if err := s.Commit(); err != nil {
		s.problems = append(s.problems, fmt.Sprintf("telemetry not recorded: %v", err))
	}
	s.mu.Lock()
	s.lease.Release() // after the append: the agent finds it before it may exit
	s.lease = nil
	s.mu.Unlock()
	notify(s.warn, s.problems, time.Now())
}
