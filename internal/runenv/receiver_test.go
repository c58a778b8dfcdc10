package runenv

import (
	"slices"
	"strings"
	"testing"
)

func TestPointAtReceiver(t *testing.T) {
	list := []string{"PATH=/bin", "GT_OTEL_LOGS_URL=http://vl/insert", "GT_OTEL_METRICS_URL=http://vm/insert",
		"BD_OTEL_LOGS_URL=http://vl/insert", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://vl/insert", "OTEL_EXPORTER_OTLP_HEADERS=a=b"}
	r := Receiver{Base: "http://127.0.0.1:4000/tok", Logs: true, Metrics: true}
	got := New(PointAtReceiver(list, r))
	want := map[string]string{
		"PATH":                             "/bin",
		"GT_OTEL_LOGS_URL":                 "http://127.0.0.1:4000/tok/v1/logs",
		"BD_OTEL_LOGS_URL":                 "http://127.0.0.1:4000/tok/v1/logs",
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://127.0.0.1:4000/tok/v1/logs",
		"GT_OTEL_METRICS_URL":              "http://127.0.0.1:4000/tok/v1/metrics",
		"BD_OTEL_METRICS_URL":              "http://127.0.0.1:4000/tok/v1/metrics",
		"OTEL_EXPORTER_OTLP_HEADERS":       "a=b",
	}
	for k, v := range want {
		if g := got.Get(k); g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
	// Traces are off: nothing of them appears; the standard metrics
	// variable was not set, so it stays unset.
	for _, k := range []string{"GT_OTEL_TRACES_URL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if _, ok := got.Lookup(k); ok {
			t.Errorf("%s set: %q", k, got.Get(k))
		}
	}
	if out := PointAtReceiver(list, Receiver{}); !slices.Equal(out, list) {
		t.Errorf("a zero receiver changed the environment: %q", out)
	}
}

func TestPointAtReceiverBaseURL(t *testing.T) {
	list := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"}
	got := New(PointAtReceiver(list, Receiver{Base: "http://127.0.0.1:4000/tok", Logs: true, Metrics: true, Traces: true}))
	if g := got.Get("OTEL_EXPORTER_OTLP_ENDPOINT"); g != "http://127.0.0.1:4000/tok" {
		t.Errorf("base = %q", g)
	}
	if g := got.Get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); g != "http://127.0.0.1:4000/tok/v1/traces" {
		t.Errorf("traces = %q", g)
	}
	// gRPC for the user's collector; the receiver is OTLP/HTTP.
	for _, k := range []string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if g := got.Get(k); g != "http/protobuf" {
			t.Errorf("%s = %q", k, g)
		}
	}
}

func TestReceiverToken(t *testing.T) {
	key := []byte("0123456789abcdef")
	c := CallContext{Dest: "d1", RunID: "run 1/x", Work: [][2]string{{"gt.work_rig", "demo"}, {"gt.work_bead", "dm-1"}}, BDShim: true}
	tok := ReceiverToken(c, key)
	if strings.ContainsAny(tok, "/?#%") {
		t.Fatalf("token %q is not one path segment", tok)
	}
	got, err := ParseReceiverToken(tok, key)
	if err != nil {
		t.Fatal(err)
	}
	// Work comes back in WorkKeys' order.
	want := CallContext{Dest: "d1", RunID: "run 1/x", Work: [][2]string{{"gt.work_rig", "demo"}, {"gt.work_bead", "dm-1"}}, BDShim: true}
	if got.Dest != want.Dest || got.RunID != want.RunID || got.BDShim != want.BDShim || !slices.Equal(got.Work, want.Work) {
		t.Errorf("round trip: %+v, want %+v", got, want)
	}
	if _, err := ParseReceiverToken(tok, []byte("another key......")); err == nil {
		t.Error("a token made with another key was accepted")
	}
	forged := ReceiverToken(CallContext{Dest: "d1", RunID: "evil"}, []byte("guess"))
	if _, err := ParseReceiverToken(forged, key); err == nil {
		t.Error("a forged token was accepted")
	}
}

// HideRunID takes gtrun's GT_RUN from a reporting gt and keeps the run for
// a gtrun below, which joins it (RunID).
func TestHideRunID(t *testing.T) {
	out := HideRunID([]string{"A=1", "GT_RUN=r-1", "B=2"}, "r-1")
	e := New(out)
	if _, ok := e.Lookup("GT_RUN"); ok || e.Get("A") != "1" || e.Get("B") != "2" {
		t.Fatalf("%v", out)
	}
	if id, isNew := RunID(e); id != "r-1" || isNew {
		t.Fatalf("below: run %q new %v", id, isNew)
	}
	if id, _ := RunID(New([]string{"GT_RUN=own", UserPrefix + "GT_RUN=r-1"})); id != "own" {
		t.Fatalf("a GT_RUN set below wins: %q", id)
	}
}
