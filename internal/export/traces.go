package export

import (
	"context"
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gastown/gtrun/internal/journal"
)

// Spans exports the selected spans (idx[i] indexes entries[i].Spans).
// gtrun knows a span's ids before its child starts and its times only
// after, so spans are built whole (tracetest.SpanStub) instead of through
// a live tracer.
func (c *Client) Spans(ctx context.Context, url string, headers map[string]string, entries []*journal.Entry, idx [][]int) error {
	entries, idx, raw := split(entries, idx, func(e *journal.Entry) int { return len(e.Spans) },
		func(e *journal.Entry) [][]byte { return e.OTLPSpans })
	if len(raw) > 0 { // received requests first, as Logs
		if err := c.postOTLP(ctx, url, headers, raw); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	te, err := c.traceExporter(url, headers)
	if err != nil {
		return err
	}
	var spans []sdktrace.ReadOnlySpan
	for i, e := range entries {
		res, _ := c.logResource(e)
		for _, j := range idx[i] {
			spans = append(spans, c.span(e, e.Spans[j], res).Snapshot())
		}
	}
	te.st.reset()
	return wrapErr(te.exp.ExportSpans(ctx, spans), te.st)
}

func (c *Client) span(e *journal.Entry, s journal.Span, res *resource.Resource) tracetest.SpanStub {
	var tid trace.TraceID
	var sid, pid trace.SpanID
	decodeHex(tid[:], s.TraceID)
	decodeHex(sid[:], s.SpanID)
	stub := tracetest.SpanStub{
		Name:                 s.Name,
		SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		SpanKind:             trace.SpanKindInternal,
		StartTime:            time.Unix(0, s.Start),
		EndTime:              time.Unix(0, s.End),
		InstrumentationScope: instrumentation.Scope{Name: "gtrun", Version: c.version},
		Resource:             res,
	}
	if s.Parent != "" && decodeHex(pid[:], s.Parent) {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled, Remote: s.Remote})
	}
	attrs := []attribute.KeyValue{attribute.String("run.id", e.RunID)}
	for _, w := range e.Work {
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
	return stub
}

func decodeHex(dst []byte, s string) bool {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}
