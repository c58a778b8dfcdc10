package export

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	colllogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
)

// Policy drops or rewrites what the receiver takes in, before it is
// journaled. Each method may change the item in place; false drops it.
type Policy interface {
	Log(cc runenv.CallContext, res *resourcepb.Resource, r *logspb.LogRecord) bool
	Metric(cc runenv.CallContext, res *resourcepb.Resource, m *metricspb.Metric) bool
	Span(cc runenv.CallContext, res *resourcepb.Resource, s *tracepb.Span) bool
}

// BDShimPolicy is the default policy: when the call's token says gtrun's
// shim records every bd process itself (bdshim=1), the program's own
// record of each bd call (gt's bd.call log records, its
// gastown.bd.calls.total and gastown.bd.duration_ms series) is dropped, so
// one bd process is one bd.call. Everything else passes unchanged.
type BDShimPolicy struct{}

// bdShimMetrics are gt's series that count what the shim's bd.call counts.
var bdShimMetrics = map[string]bool{"gastown.bd.calls.total": true, "gastown.bd.duration_ms": true}

func (BDShimPolicy) Log(cc runenv.CallContext, _ *resourcepb.Resource, r *logspb.LogRecord) bool {
	// gt sets the record's event name and its body to the event.
	return !cc.BDShim || r.GetEventName() != "bd.call" && r.GetBody().GetStringValue() != "bd.call"
}

func (BDShimPolicy) Metric(cc runenv.CallContext, _ *resourcepb.Resource, m *metricspb.Metric) bool {
	return !cc.BDShim || !bdShimMetrics[m.GetName()]
}

func (BDShimPolicy) Span(runenv.CallContext, *resourcepb.Resource, *tracepb.Span) bool { return true }

func (h *Receive) policy() Policy {
	if h.Policy != nil {
		return h.Policy
	}
	return BDShimPolicy{}
}

// decode unmarshals an OTLP request body of content type ct.
func decode(body []byte, ct string, m proto.Message) error {
	var err error
	if ct == "application/json" {
		body, err = hexIDs(body)
		if err == nil {
			err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m)
		}
	} else {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		return refuse(http.StatusBadRequest, "undecodable request: %v", err)
	}
	return nil
}

// hexIDs rewrites OTLP/JSON's trace and span ids (hex, per the OTLP
// spec) as the base64 protojson expects of bytes fields.
func hexIDs(body []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			for k, c := range t {
				if s, ok := c.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId" || k == "trace_id" || k == "span_id" || k == "parent_span_id") {
					if b, err := hex.DecodeString(s); err == nil {
						t[k] = base64.StdEncoding.EncodeToString(b)
					}
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(v)
	return json.Marshal(v)
}

func (h *Receive) logs(e *journal.Entry, cc runenv.CallContext, body []byte, ct string) error {
	var req colllogs.ExportLogsServiceRequest
	if err := decode(body, ct, &req); err != nil {
		return err
	}
	if e.Dest.Logs == "" {
		return nil // the user sends no logs anywhere: accepted, and dropped
	}
	p := h.policy()
	n := 0
	for _, rl := range req.ResourceLogs {
		res := ensureResource(&rl.Resource)
		addMissing(&res.Attributes, [2]string{"gt.run_id", cc.RunID})
		for _, sl := range rl.ScopeLogs {
			sl.LogRecords = kept(sl.LogRecords, cc, func(r *logspb.LogRecord) bool { return p.Log(cc, res, r) },
				func(r *logspb.LogRecord) *[]*commonpb.KeyValue { return &r.Attributes })
			n += len(sl.LogRecords)
		}
	}
	b, err := marshalSome(n, &req)
	if b == nil {
		return err
	}
	e.OTLPLogs = [][]byte{b}
	return h.append(e)
}

func (h *Receive) traces(e *journal.Entry, cc runenv.CallContext, body []byte, ct string) error {
	var req colltrace.ExportTraceServiceRequest
	if err := decode(body, ct, &req); err != nil {
		return err
	}
	if e.Dest.Traces == "" {
		return nil
	}
	p := h.policy()
	n := 0
	for _, rs := range req.ResourceSpans {
		res := ensureResource(&rs.Resource)
		addMissing(&res.Attributes, [2]string{"gt.run_id", cc.RunID})
		for _, ss := range rs.ScopeSpans {
			ss.Spans = kept(ss.Spans, cc, func(sp *tracepb.Span) bool { return p.Span(cc, res, sp) },
				func(sp *tracepb.Span) *[]*commonpb.KeyValue { return &sp.Attributes })
			n += len(ss.Spans)
		}
	}
	b, err := marshalSome(n, &req)
	if b == nil {
		return err
	}
	e.OTLPSpans = [][]byte{b}
	return h.append(e)
}

// kept filters items by the policy and adds the call's run id and work
// context where the sender did not set them (logs and spans alike).
func kept[T any](items []T, cc runenv.CallContext, keep func(T) bool, attrs func(T) *[]*commonpb.KeyValue) []T {
	out := items[:0]
	for _, it := range items {
		if !keep(it) {
			continue
		}
		addMissing(attrs(it), append([][2]string{{"run.id", cc.RunID}}, cc.Work...)...)
		out = append(out, it)
	}
	return out
}

// marshalSome encodes a request that still holds n items; nil, nil when
// the policy left none (nothing to journal).
func marshalSome(n int, m proto.Message) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	return proto.Marshal(m)
}

func ensureResource(r **resourcepb.Resource) *resourcepb.Resource {
	if *r == nil {
		*r = &resourcepb.Resource{}
	}
	return *r
}

// addMissing adds the attributes attrs lacks (empty values left out).
func addMissing(attrs *[]*commonpb.KeyValue, kvs ...[2]string) {
	have := map[string]bool{}
	for _, a := range *attrs {
		have[a.Key] = true
	}
	for _, kv := range kvs {
		if kv[1] != "" && !have[kv[0]] {
			*attrs = append(*attrs, &commonpb.KeyValue{Key: kv[0], Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: kv[1]}}})
		}
	}
}
