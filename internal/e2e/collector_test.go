package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// startAll starts VictoriaMetrics, VictoriaLogs and Jaeger concurrently.
func startAll(t *testing.T) (*backendtest.VM, *backendtest.VL, *backendtest.Jaeger) {
	t.Helper()
	var jg *backendtest.Jaeger
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); jg = backendtest.StartJaeger(t) }()
	vm, vl := backendtest.StartBoth(t)
	wg.Wait()
	if jg == nil {
		t.FailNow()
	}
	return vm, vl, jg
}

// Through a real OpenTelemetry Collector (deploy/otelcol/gateway.yaml):
// gtrun knows only OTEL_EXPORTER_OTLP_ENDPOINT, the collector forwards
// each signal to its backend, and the exactness of the direct path holds:
// 30 calls (20 sequential, 10 concurrent, one run) are 30 in
// VictoriaMetrics, 30 bd.call records once each in VictoriaLogs, and one
// trace of 30 bd spans in Jaeger whose ids are the records' span ids.
func TestCollectorGatewayExact(t *testing.T) {
	vm, vl, jg := startAll(t)
	col := backendtest.StartCollector(t, backendtest.Backends(t, vm, vl, jg))
	const run = "3c0f1d2e-4a5b-4c6d-8e7f-102132435465"
	traceHex := strings.ReplaceAll(run, "-", "")
	base := newEnv(t).set("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL, "GT_RUN", run)

	mk := bdMix
	want := map[string]int{}
	ops := map[string]int{}
	count := func(args []string) {
		want[mixSeries(args)]++
		ops["bd "+args[1]]++
	}
	for i := 0; i < 20; i++ {
		args := mk(i)
		count(args)
		if r := base.run("", args...); r.code != 0 && args[2] != "gt-nope" {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	var wg sync.WaitGroup
	for i := 20; i < 30; i++ {
		args := mk(i)
		count(args)
		wg.Add(1)
		go func() { defer wg.Done(); base.run("", args...) }()
	}
	wg.Wait()
	// gtrun's own delivery is done when flush returns; the collector then
	// batches (200ms) and forwards, so the backends are polled.
	if r := base.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}

	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 30, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.duration_ms_count[1h]))`, 30, 10*time.Second)
	got := map[string]int{}
	for _, s := range vm.Query(t, `sum by (subcommand, status) (increase(gastown.bd.calls.total[1h]))`) {
		got[s.Labels["subcommand"]+"/"+s.Labels["status"]] = int(s.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by (subcommand,status) through the collector: got %v want %v", got, want)
	}

	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="`+run+`"`, 30, 30*time.Second)
	spans := jg.WaitSpans(t, traceHex, 30, 30*time.Second)

	// One trace: every span carries the run's trace id, and each record's
	// span id is one span's — each exactly once.
	bySpan := map[string]backendtest.JSpan{}
	gotOps := map[string]int{}
	for _, s := range spans {
		if s.TraceID != traceHex {
			t.Fatalf("span %s in trace %s, want %s", s.OperationName, s.TraceID, traceHex)
		}
		bySpan[s.SpanID] = s
		gotOps[s.OperationName]++
	}
	if fmt.Sprint(gotOps) != fmt.Sprint(ops) {
		t.Fatalf("span names: got %v want %v", gotOps, ops)
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		sp, ok := bySpan[rec["span_id"]]
		if !ok || seen[rec["span_id"]] || rec["trace_id"] != traceHex {
			t.Fatalf("record %v: span %q (known %v, seen before %v), trace %q", rec, rec["span_id"], ok, seen[rec["span_id"]], rec["trace_id"])
		}
		seen[rec["span_id"]] = true
		if sp.OperationName != "bd "+rec["subcommand"] {
			t.Fatalf("record %s has the span of %s", rec["subcommand"], sp.OperationName)
		}
		failed := rec["status"] == "error"
		if (sp.Tag("otel.status_code") == "ERROR") != failed {
			t.Fatalf("record status %q, span status %q", rec["status"], sp.Tag("otel.status_code"))
		}
	}
	// And nothing more arrived meanwhile.
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 30, time.Second)
	jg.WaitSpans(t, traceHex, 30, time.Second)
	// All of it went through the collector, once.
	for _, c := range []struct {
		metric string
		want   float64
	}{{"otelcol_receiver_accepted_spans", 30}, {"otelcol_exporter_sent_spans", 30}, {"otelcol_exporter_send_failed_spans", 0}} {
		if got := col.Sum(t, c.metric); got != c.want {
			t.Errorf("collector %s = %v, want %v", c.metric, got, c.want)
		}
	}
}

// Nested wraps through the collector stay one trace with its tree: the
// sh span is the root, the bd spans its children, the failure marked.
func TestCollectorNestedTrace(t *testing.T) {
	vm, vl, jg := startAll(t)
	col := backendtest.StartCollector(t, backendtest.Backends(t, vm, vl, jg))
	const run = "8e9fa0b1-c2d3-4e4f-8a5b-6c7d8e9fa0b1"
	traceHex := strings.ReplaceAll(run, "-", "")
	e := newEnv(t).set("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL, "GT_RUN", run)
	e.set("PATH", filepath.Dir(gtrunBin)+":"+e.vars["PATH"])
	if r := e.run("", "sh", "-c", "gtrun bd create x; gtrun bd close gt-nope"); r.code != 1 {
		t.Fatalf("%+v", r)
	}
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	spans := jg.WaitSpans(t, traceHex, 3, 30*time.Second)
	by := map[string]backendtest.JSpan{}
	var names []string
	for _, s := range spans {
		by[s.OperationName] = s
		names = append(names, s.OperationName)
	}
	sort.Strings(names)
	sh, create, closeSp := by["sh"], by["bd create"], by["bd close"]
	if fmt.Sprint(names) != "[bd close bd create sh]" {
		t.Fatalf("spans %v", names)
	}
	if sh.Parent() != "" || create.Parent() != sh.SpanID || closeSp.Parent() != sh.SpanID {
		t.Fatalf("tree: sh=%s create→%s close→%s", sh.SpanID, create.Parent(), closeSp.Parent())
	}
	if closeSp.Tag("otel.status_code") != "ERROR" || create.Tag("otel.status_code") == "ERROR" {
		t.Fatalf("status: close %+v / create %+v", closeSp.Tags, create.Tags)
	}
	vl.WaitCount(t, `"run.id":="`+run+`" AND (_msg:"bd.call" OR _msg:"cmd.call")`, 3, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 2, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h]))`, 1, 10*time.Second)

	// gtrun trace reads the run back from VictoriaLogs, not the collector.
	if r := e.run("", "trace", run); r.code != 1 || !strings.Contains(r.stderr, "pass --logs-query-url") {
		t.Fatalf("trace with only the collector known: %+v", r)
	}
	if r := e.run("", "trace", run, "--logs-query-url", vl.URL, "--width", "120"); r.code != 0 || strings.Count(r.stdout, "bd.call") != 2 || !strings.Contains(r.stdout, "trace "+traceHex) {
		t.Fatalf("trace through the collector: %+v", r)
	}
}
