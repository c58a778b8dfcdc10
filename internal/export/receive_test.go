package export

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	colllogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/shipper"
	"github.com/gastown/gtrun/internal/state"
)

// recvFixture is a receiver on a loopback test server, its journal, and a
// token for a call whose destination names all three signals.
type recvFixture struct {
	srv *httptest.Server
	j   *journal.Journal
	key []byte
	id  string
}

func newRecv(t *testing.T) *recvFixture {
	t.Helper()
	dir, jd := t.TempDir(), t.TempDir()
	info, err := state.ReadReceiver(dir)
	if err != nil {
		t.Fatal(err)
	}
	form := journal.FormatDest(journal.Dest{Logs: "http://vl/l", Metrics: "http://vm/m", Traces: "http://jg/t", Headers: map[string]string{"A": "b"}})
	id := journal.DestID(form)
	os.MkdirAll(DestDir(dir), 0o700)
	if err := os.WriteFile(filepath.Join(DestDir(dir), id), form, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := shipper.NewMerger(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := &Receive{Journal: journal.Open(jd), Dir: dir, Merger: m, Version: "test"}
	f := &recvFixture{srv: httptest.NewServer(h), j: h.Journal, key: info.Key, id: id}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *recvFixture) url(bdshim bool, sig string) string {
	cc := runenv.CallContext{Dest: f.id, RunID: "run-1", Work: [][2]string{{"gt.work_bead", "dm-1"}}, BDShim: bdshim}
	return f.srv.URL + "/" + runenv.ReceiverToken(cc, f.key) + "/v1/" + sig
}

// post sends body and returns the status, content type and response body.
func post(t *testing.T, url, ct string, body []byte, gz bool) (int, string, []byte) {
	t.Helper()
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(body)
		w.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// entries reads every journal entry.
func (f *recvFixture) entries(t *testing.T) []*journal.Entry {
	t.Helper()
	segs, err := f.j.Segments()
	if err != nil {
		t.Fatal(err)
	}
	var out []*journal.Entry
	for _, sg := range segs {
		c, err := f.j.ReadSegment(sg.Name, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range c.Frames {
			e, err := journal.Decode(fr.Payload)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func logsRequest(names ...string) *colllogs.ExportLogsServiceRequest {
	sl := &logspb.ScopeLogs{}
	for _, n := range names {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{EventName: n, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: n}},
			Attributes: []*commonpb.KeyValue{str("status", "ok")}})
	}
	return &colllogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "gastown")}}, ScopeLogs: []*logspb.ScopeLogs{sl}}}}
}

func attr(kvs []*commonpb.KeyValue, k string) string {
	for _, a := range kvs {
		if a.Key == k {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// A protobuf logs request is in the journal before the 200, with the
// sender's resource and attributes and the call's run id and work context
// added; with bdshim=1 gt's bd.call record is dropped.
func TestReceiveLogsProtobuf(t *testing.T) {
	f := newRecv(t)
	body, _ := proto.Marshal(logsRequest("mail", "bd.call"))
	status, ct, resp := post(t, f.url(true, "logs"), "application/x-protobuf", body, false)
	if status != 200 || ct != "application/x-protobuf" {
		t.Fatalf("answer %d %q %q", status, ct, resp)
	}
	if err := proto.Unmarshal(resp, &colllogs.ExportLogsServiceResponse{}); err != nil {
		t.Fatalf("response is no ExportLogsServiceResponse: %v", err)
	}
	es := f.entries(t)
	if len(es) != 1 || len(es[0].OTLPLogs) != 1 || es[0].RunID != "run-1" || es[0].Dest.Logs != "http://vl/l" || es[0].Dest.Headers["A"] != "b" {
		t.Fatalf("journal: %+v", es)
	}
	var got colllogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(es[0].OTLPLogs[0], &got); err != nil {
		t.Fatal(err)
	}
	rl := got.ResourceLogs[0]
	recs := rl.ScopeLogs[0].LogRecords
	if len(recs) != 1 || recs[0].EventName != "mail" {
		t.Fatalf("records %v: want mail only (bd.call dropped)", recs)
	}
	if attr(rl.Resource.Attributes, "service.name") != "gastown" || attr(rl.Resource.Attributes, "gt.run_id") != "run-1" {
		t.Fatalf("resource %v", rl.Resource.Attributes)
	}
	a := recs[0].Attributes
	if attr(a, "status") != "ok" || attr(a, "run.id") != "run-1" || attr(a, "gt.work_bead") != "dm-1" {
		t.Fatalf("attributes %v", a)
	}
	// Without the flag, bd.call passes.
	post(t, f.url(false, "logs"), "application/x-protobuf", body, false)
	var again colllogs.ExportLogsServiceRequest
	proto.Unmarshal(f.entries(t)[1].OTLPLogs[0], &again)
	if n := len(again.ResourceLogs[0].ScopeLogs[0].LogRecords); n != 2 {
		t.Fatalf("without bdshim: %d records, want 2", n)
	}
}

// OTLP/JSON (hex trace ids), gzip: decoded, answered "{}" as JSON.
func TestReceiveJSONGzip(t *testing.T) {
	f := newRecv(t)
	tid, sid := "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	body := []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
		"scopeSpans":[{"spans":[{"traceId":"` + tid + `","spanId":"` + sid + `","name":"tool","kind":1,
		"startTimeUnixNano":"1800000000000000000","endTimeUnixNano":"1800000001000000000"}]}]}]}`)
	status, ct, resp := post(t, f.url(false, "traces"), "application/json", body, true)
	if status != 200 || ct != "application/json" || string(resp) != "{}" {
		t.Fatalf("answer %d %q %q", status, ct, resp)
	}
	var got colltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(f.entries(t)[0].OTLPSpans[0], &got); err != nil {
		t.Fatal(err)
	}
	sp := got.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if hex.EncodeToString(sp.TraceId) != tid || hex.EncodeToString(sp.SpanId) != sid || attr(sp.Attributes, "run.id") != "run-1" {
		t.Fatalf("span %v", sp)
	}
	// JSON logs too, not gzipped.
	status, _, _ = post(t, f.url(false, "logs"), "application/json", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`), false)
	if status != 200 || len(f.entries(t)) != 2 {
		t.Fatalf("JSON logs: %d", status)
	}
}

func counterRequest(start, value uint64, pid string) *collmetrics.ExportMetricsServiceRequest {
	return &collmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "gastown"), str("process.pid", pid), str("gt.run_id", "r"+pid)}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "gastown.mail.operations.total",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
				DataPoints: []*metricspb.NumberDataPoint{{Attributes: []*commonpb.KeyValue{str("operation", "send")}, StartTimeUnixNano: start, TimeUnixNano: start + 5,
					Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(value)}}}}}}}}}}}}
}

// Two processes' cumulative counters (own start times, per-process
// resource attributes) become increments of one identity; a repeat of a
// process's point adds only the difference.
func TestReceiveMetricsMerged(t *testing.T) {
	f := newRecv(t)
	send := func(r *collmetrics.ExportMetricsServiceRequest) {
		body, _ := proto.Marshal(r)
		if status, _, resp := post(t, f.url(false, "metrics"), "application/x-protobuf", body, false); status != 200 {
			t.Fatalf("answer %d %s", status, resp)
		}
	}
	send(counterRequest(1000, 3, "11"))
	send(counterRequest(2000, 2, "12"))
	send(counterRequest(1000, 5, "11"))
	total, keys := 0.0, map[string]bool{}
	for _, e := range f.entries(t) {
		for _, s := range e.Samples {
			total += s.Value
			keys[shipper.SampleKey(&s)] = true
			if len(s.Resource) != 1 || s.Resource[0] != [2]string{"service.name", "gastown"} {
				t.Fatalf("resource %v: per-process attributes kept", s.Resource)
			}
		}
	}
	if total != 7 || len(keys) != 1 {
		t.Fatalf("merged %v over %d identities, want 7 (5+2) over 1", total, len(keys))
	}
}

func TestReceiveRefusals(t *testing.T) {
	f := newRecv(t)
	body, _ := proto.Marshal(logsRequest("mail"))
	forged := f.srv.URL + "/" + runenv.ReceiverToken(runenv.CallContext{Dest: f.id}, []byte("not the secret!!")) + "/v1/logs"
	for _, c := range []struct {
		url, ct string
		want    int
	}{{forged, "application/x-protobuf", 403}, {f.url(false, "logs"), "text/plain", 415}, {f.url(false, "profiles"), "application/x-protobuf", 404}} {
		if status, _, _ := post(t, c.url, c.ct, body, false); status != c.want {
			t.Errorf("%s %s: %d, want %d", c.url, c.ct, status, c.want)
		}
	}
	if n := len(f.entries(t)); n != 0 {
		t.Fatalf("%d entries journaled from refused requests", n)
	}
	// A refusal is a google.rpc.Status in the request's content type.
	status, ct, resp := post(t, forged, "application/x-protobuf", body, false)
	if num, _, n := protowire.ConsumeTag(resp); status != 403 || ct != "application/x-protobuf" || n < 0 || num != 1 {
		t.Fatalf("refusal %d %q %x", status, ct, resp)
	}
}
