package export

import (
	"context"
	"errors"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/otlptest"
	"github.com/gastown/gtrun/internal/shipper"
)

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func entry() *journal.Entry {
	ts := time.Date(2025, 11, 29, 15, 18, 19, 0, time.UTC)
	return &journal.Entry{RunID: "run-x", Version: "test", Written: ts.Add(time.Second).UnixNano(),
		Resource: [][2]string{{"team", "core"}, {"gt.role", "mayor"}, {"gt.run_id", "run-x"}, {"gt.work_bead", "gt-b1"}},
		Work:     [][2]string{{"gt.work_bead", "gt-b1"}},
		Records: []journal.Record{
			journal.FromEvent(event.Record{Name: "mol.squash", Time: ts, Attrs: []event.Attr{
				event.String("mol_id", "gt-wisp-9hx"), event.Int("done_steps", 2), event.Bool("digest_created", true)}}),
			{Name: "bd.call", Time: ts.UnixNano(), Err: "Error: boom", TraceID: "5b8efff7980341039269b633813fc60c", SpanID: "00f067aa0ba902b7",
				Attrs: []event.Attr{event.String("subcommand", "close"), event.Int("duration_ms", 12), event.Int("exit_code", 1)}},
		}}
}

func TestLogRecordShapeAndTypes(t *testing.T) {
	recv := otlptest.Start(t)
	c := NewClient("agent-1")
	e := entry()
	if err := c.Logs(context.Background(), recv.URL+"/v1/logs", nil, []*journal.Entry{e}, [][]int{{0, 1}}); err != nil {
		t.Fatal(err)
	}
	logs := recv.Logs()
	if len(logs) != 2 {
		t.Fatalf("%d records", len(logs))
	}
	sq, bd := logs[0], logs[1]
	if sq.Body.GetStringValue() != "mol.squash" || sq.EventName != "mol.squash" || sq.TimeUnixNano != uint64(e.Records[0].Time) ||
		sq.ObservedTimeUnixNano != uint64(e.Written) || sq.SeverityText != "INFO" {
		t.Fatalf("record: %v", sq)
	}
	a := attrMap(sq.Attributes)
	if a["done_steps"].GetIntValue() != 2 || !a["digest_created"].GetBoolValue() || a["run.id"].GetStringValue() != "run-x" ||
		a["status"].GetStringValue() != "ok" || a["gt.work_bead"].GetStringValue() != "gt-b1" {
		t.Fatalf("attributes: %v", a)
	}
	if _, isInt := a["done_steps"].Value.(*commonpb.AnyValue_IntValue); !isInt {
		t.Fatal("done_steps not an int")
	}
	b := attrMap(bd.Attributes)
	if bd.SeverityText != "ERROR" || b["status"].GetStringValue() != "error" || b["error"].GetStringValue() != "Error: boom" {
		t.Fatalf("failed record: %v", bd)
	}
	if len(bd.TraceId) != 16 || bd.TraceId[0] != 0x5b || len(bd.SpanId) != 8 {
		t.Fatalf("trace link: %x %x", bd.TraceId, bd.SpanId)
	}
	res := attrMap(recv.ResourceLogs()[0].Resource.Attributes)
	if res["service.name"].GetStringValue() != "gtrun" || res["service.version"].GetStringValue() != "test" ||
		res["team"].GetStringValue() != "core" || res["gt.role"].GetStringValue() != "mayor" {
		t.Fatalf("resource: %v", res)
	}
	for _, k := range []string{"gt.run_id", "gt.work_bead"} {
		if _, ok := res[k]; ok {
			t.Fatalf("%s in the log resource would make a stream per run", k)
		}
	}
}

func TestMetricsCumulativePoints(t *testing.T) {
	recv := otlptest.Start(t)
	c := NewClient("agent-1")
	t0 := time.Unix(1_800_000_000, 0)
	l := map[string]string{"status": "ok", "subcommand": "list"}
	pts := []shipper.Point{
		{Metric: "gastown.bd.calls.total", Labels: l, Start: t0, Time: t0, Value: 0},
		{Metric: "gastown.bd.calls.total", Labels: l, Start: t0, Time: t0.Add(10 * time.Second), Value: 3},
		{Metric: "gastown.bd.duration_ms", Labels: l, Histogram: true, Start: t0, Time: t0.Add(10 * time.Second),
			Counts: make([]uint64, len(shipper.HistogramBounds)+1), Count: 3, Sum: 42},
	}
	pts[2].Counts[4] = 3
	if err := c.Metrics(context.Background(), recv.URL+"/v1/metrics", nil, pts); err != nil {
		t.Fatal(err)
	}
	ms := recv.Metrics()
	if len(ms) != 2 || ms[0].Name != "gastown.bd.calls.total" || ms[1].Name != "gastown.bd.duration_ms" || ms[1].Unit != "ms" {
		t.Fatalf("metrics %v", ms)
	}
	sum := ms[0].GetSum()
	if !sum.IsMonotonic || sum.AggregationTemporality.String() != "AGGREGATION_TEMPORALITY_CUMULATIVE" || len(sum.DataPoints) != 2 ||
		sum.DataPoints[1].GetAsDouble() != 3 || sum.DataPoints[0].TimeUnixNano >= sum.DataPoints[1].TimeUnixNano {
		t.Fatalf("sum %v", sum)
	}
	h := ms[1].GetHistogram().DataPoints[0]
	if h.Count != 3 || h.GetSum() != 42 || h.BucketCounts[4] != 3 || len(h.ExplicitBounds) != len(shipper.HistogramBounds) {
		t.Fatalf("histogram %v", h)
	}
}

// A refusal for good is told from a backend that is down.
func TestPermanentErrors(t *testing.T) {
	recv := otlptest.Start(t)
	c := NewClient("t")
	for _, status := range []int{400, 503} {
		recv.Fail(status)
		err := c.Logs(context.Background(), recv.URL+"/v1/logs", nil, []*journal.Entry{entry()}, [][]int{{0}})
		var xe *Error
		if !errors.As(err, &xe) || xe.Status != status || xe.Permanent() != (status == 400) {
			t.Fatalf("status %d: %v", status, err)
		}
	}
}
