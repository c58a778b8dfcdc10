package export

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gastown/gtrun/internal/event"
)

// Span is one finished span. gtrun knows a span's ids before its child
// starts (the child's TRACEPARENT names it) and its times only after, so
// spans are built whole instead of through a live tracer.
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

func (x *Exporter) initTraces() {
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(x.cfg.TracesURL),
		otlptracehttp.WithHTTPClient(x.spoolingClient(KindTraces)),
		otlptracehttp.WithHeaders(x.cfg.Headers),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	)
	if err != nil {
		x.warnf("traces export off: %v", err)
		return
	}
	x.traceExp = exp
}

// SetSpan makes every record emitted from now on carry this span's
// trace_id and span_id (log–trace correlation).
func (x *Exporter) SetSpan(traceID [16]byte, spanID [8]byte) {
	x.mu.Lock()
	x.spanCtx = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	})
	x.mu.Unlock()
}

// withSpan returns ctx carrying the current span, if any.
func (x *Exporter) withSpan(ctx context.Context) context.Context {
	x.mu.Lock()
	sc := x.spanCtx
	x.mu.Unlock()
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}

// AddSpan queues a finished span for export.
func (x *Exporter) AddSpan(s Span) {
	if x.traceExp == nil {
		return
	}
	stub := tracetest.SpanStub{
		Name: s.Name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: s.TraceID, SpanID: s.SpanID, TraceFlags: trace.FlagsSampled}),
		SpanKind:             trace.SpanKindInternal,
		StartTime:            s.Start,
		EndTime:              s.End,
		Resource:             x.logRes,
		InstrumentationScope: instrumentation.Scope{Name: "gtrun"},
	}
	if s.Parent != [8]byte{} {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: s.TraceID, SpanID: s.Parent, TraceFlags: trace.FlagsSampled, Remote: s.Remote})
	}
	attrs := []attribute.KeyValue{attribute.String("run.id", x.cfg.RunID)}
	for _, w := range x.cfg.Work {
		attrs = append(attrs, attribute.String(w[0], w[1]))
	}
	for _, a := range s.Attrs {
		attrs = append(attrs, attrKV(a))
	}
	stub.Attributes = attrs
	if s.Err != "" {
		stub.Status = sdktrace.Status{Code: codes.Error, Description: s.Err}
	} else {
		stub.Status = sdktrace.Status{Code: codes.Ok}
	}
	x.mu.Lock()
	x.spans = append(x.spans, stub.Snapshot())
	x.mu.Unlock()
}
