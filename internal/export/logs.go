package export

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
)

// logState builds SDK log records: one LoggerProvider per distinct
// resource (the SDK binds a record's resource to its provider), whose
// processor only collects the records for one Export call.
type logState struct {
	providers map[string]otellog.Logger
	collected []sdklog.Record
}

type collector struct{ c *Client }

func (collector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (collector) Shutdown(context.Context) error                         { return nil }
func (collector) ForceFlush(context.Context) error                       { return nil }
func (p collector) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.c.logState.collected = append(p.c.logState.collected, r.Clone()) // under c.mu (see records)
	return nil
}

// logResource is the resource of an entry's logs and spans: gtrun's own
// attributes plus the caller's, without the run id and work context — as
// resource attributes they would make a VictoriaLogs stream per run; they
// are on every record instead.
func (c *Client) logResource(e *journal.Entry) (*resource.Resource, string) {
	kvs := c.baseAttrs(e.Version)
	var key strings.Builder
	key.WriteString(e.Version)
	for _, kv := range e.Resource {
		if kv[0] == "service.name" || kv[0] == "service.version" || kv[0] == "gt.run_id" || strings.HasPrefix(kv[0], "gt.work_") {
			continue
		}
		kvs = append(kvs, attribute.String(kv[0], kv[1]))
		key.WriteString("\x00" + kv[0] + "=" + kv[1])
	}
	return resource.NewSchemaless(kvs...), key.String()
}

// records turns the selected records of entries into SDK log records.
func (c *Client) records(entries []*journal.Entry, idx [][]int) []sdklog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logState.providers == nil || len(c.logState.providers) > 1000 {
		c.logState.providers = map[string]otellog.Logger{}
	}
	c.logState.collected = nil
	for i, e := range entries {
		res, key := c.logResource(e)
		for _, j := range idx[i] {
			r := e.Records[j]
			c.logger(res, key, late(e, r)).Emit(spanContext(r.TraceID, r.SpanID), logRecord(e, r))
		}
	}
	out := c.logState.collected
	c.logState.collected = nil
	return out
}

// late reports whether r was recorded well after it happened (a
// transcript read late): it then carries event.RecordedAttr and goes in a
// stream of its own (LateResource), so that `--since` finds it by when it
// was recorded without reading every day's blocks.
func late(e *journal.Entry, r journal.Record) bool { return e.Written-r.Time > int64(event.LateRecord) }

// logger returns the logger of a resource (with LateResource for late
// records), one provider per resource key.
func (c *Client) logger(res *resource.Resource, key string, isLate bool) otellog.Logger {
	if isLate {
		key += "\x00" + event.LateResource
	}
	lg := c.logState.providers[key]
	if lg == nil {
		if isLate {
			res, _ = resource.Merge(res, resource.NewSchemaless(attribute.String(event.LateResource, "true")))
		}
		lg = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(collector{c})).Logger("gtrun", otellog.WithInstrumentationVersion(c.version))
		c.logState.providers[key] = lg
	}
	return lg
}

// Logs exports the selected records (idx[i] indexes entries[i].Records).
func (c *Client) Logs(ctx context.Context, url string, headers map[string]string, entries []*journal.Entry, idx [][]int) error {
	entries, idx, raw := split(entries, idx, func(e *journal.Entry) int { return len(e.Records) },
		func(e *journal.Entry) [][]byte { return e.OTLPLogs })
	// Received requests first: if the second request fails the batch is
	// sent again, and the received part is then a duplicate (a window of
	// one round trip, as the agent's other duplicates).
	if len(raw) > 0 {
		if err := c.postOTLP(ctx, url, headers, raw); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	le, err := c.logExporter(url, headers)
	if err != nil {
		return err
	}
	le.st.reset()
	return wrapErr(le.exp.Export(ctx, c.records(entries, idx)), le.st)
}

func spanContext(tid, sid string) context.Context {
	ctx := context.Background()
	var t trace.TraceID
	var s trace.SpanID
	if b, err := hex.DecodeString(tid); err == nil && len(b) == 16 {
		copy(t[:], b)
	}
	if b, err := hex.DecodeString(sid); err == nil && len(b) == 8 {
		copy(s[:], b)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: t, SpanID: s, TraceFlags: trace.FlagsSampled})
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}

// logRecord is one catalog event as an OTLP log record (SPEC §2): body and
// event name are the event, run.id, status, error and the work context on
// every record, typed attributes.
func logRecord(e *journal.Entry, r journal.Record) otellog.Record {
	var lr otellog.Record
	lr.SetTimestamp(time.Unix(0, r.Time))
	lr.SetObservedTimestamp(time.Unix(0, e.Written))
	lr.SetEventName(r.Name)
	lr.SetBody(attribute.StringValue(r.Name))
	if r.Err != "" {
		lr.SetSeverity(otellog.SeverityError)
		lr.SetSeverityText("ERROR")
	} else {
		lr.SetSeverity(otellog.SeverityInfo)
		lr.SetSeverityText("INFO")
	}
	status := "ok"
	if r.Err != "" {
		status = "error"
	}
	kvs := make([]attribute.KeyValue, 0, len(r.Attrs)+4+len(e.Work))
	kvs = append(kvs, attribute.String("run.id", e.RunID), attribute.String("status", status), attribute.String("error", r.Err))
	if late(e, r) {
		// A record of the past (a transcript read today): the backends
		// keep the event's time, so say when it was recorded too, for
		// `gtrun runs/cost --since` (the observed time is not stored).
		kvs = append(kvs, attribute.Int64(event.RecordedAttr, e.Written/int64(time.Second)))
	}
	have := map[string]bool{}
	for _, a := range r.Attrs {
		have[a.Key] = true
	}
	for _, w := range e.Work {
		if !have[w[0]] {
			kvs = append(kvs, attribute.String(w[0], w[1]))
		}
	}
	for _, a := range r.Attrs {
		if a.Key == "run.id" || a.Key == "status" || a.Key == "error" {
			continue
		}
		kvs = append(kvs, attrKV(a))
	}
	lr.AddAttributes(kvs...)
	return lr
}

func attrKV(a event.Attr) attribute.KeyValue {
	switch v := a.Value.(type) {
	case string:
		return attribute.String(a.Key, v)
	case int64:
		return attribute.Int64(a.Key, v)
	case int:
		return attribute.Int64(a.Key, int64(v))
	case bool:
		return attribute.Bool(a.Key, v)
	case float64:
		return attribute.Float64(a.Key, v)
	case nil:
		return attribute.String(a.Key, "")
	}
	return attribute.String(a.Key, fmt.Sprint(a.Value))
}
