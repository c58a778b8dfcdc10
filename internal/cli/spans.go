package cli

import (
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/sink"
)

// spanPlan is the span of this process's work, known before the child
// starts so the child's TRACEPARENT can name it.
type spanPlan struct {
	on      bool
	traceID [16]byte
	spanID  [8]byte
	parent  [8]byte
	remote  bool
}

// planSpan derives the span: the run's trace (from GT_RUN), or the trace of
// a TRACEPARENT we were started with, whose span becomes our parent.
// id, when not zero, is the span's id chosen earlier (gtrun agent tells
// agent-log its parent before the agent starts).
func planSpan(t *telemetry, id [8]byte) spanPlan {
	if t.x.Config().Dest.Traces == "" {
		return spanPlan{}
	}
	if id == ([8]byte{}) {
		id = runenv.NewSpanID()
	}
	p := spanPlan{on: true, traceID: runenv.TraceID(t.runID), spanID: id}
	if tp, err := runenv.ParseTraceparent(t.env.Get("TRACEPARENT")); err == nil {
		p.traceID, p.parent, p.remote = tp.TraceID, tp.SpanID, true
	}
	t.x.SetSpan(p.traceID, p.spanID)
	return p
}

// traceparent is the span as a W3C traceparent ("" when traces are off).
func (p spanPlan) traceparent() string {
	if !p.on {
		return ""
	}
	return runenv.Traceparent{TraceID: p.traceID, SpanID: p.spanID, Flags: 1}.String()
}

// childEnv is the TRACEPARENT entry for a child (TRACESTATE is inherited).
func (p spanPlan) childEnv() []string {
	if !p.on {
		return nil
	}
	return []string{"TRACEPARENT=" + runenv.Traceparent{TraceID: p.traceID, SpanID: p.spanID, Flags: 1}.String()}
}

// finish records the span with the call's attributes.
func (p spanPlan) finish(t *telemetry, name string, start, end time.Time, attrs []event.Attr, errMsg string) {
	if !p.on {
		return
	}
	t.x.AddSpan(sink.Span{Name: name, TraceID: p.traceID, SpanID: p.spanID, Parent: p.parent, Remote: p.remote,
		Start: start, End: end, Attrs: attrs, Err: errMsg})
}
