package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

const traceRun = "5b8efff7-9803-4103-9269-b633813fc60c"
const traceHex = "5b8efff7980341039269b633813fc60c"

// Issue 9: `gtrun sh -c 'gtrun bd create x; gtrun bd close y'` is one trace
// whose id comes from GT_RUN, with the bd spans children of the sh span;
// the bd.call records carry that trace id and their span's id.
func TestNestedWrapsAreOneTrace(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", traceRun)
	e.set("PATH", filepath.Dir(gtrunBin)+":"+e.vars["PATH"])
	r := e.run("", "sh", "-c", "gtrun bd create x; gtrun bd close gt-nope")
	if r.code != 1 {
		t.Fatalf("%+v", r)
	}
	spans := jg.WaitSpans(t, traceHex, 3, 30*time.Second)
	by := map[string]backendtest.JSpan{}
	for _, s := range spans {
		by[s.OperationName] = s
	}
	sh, create, closeSp := by["sh"], by["bd create"], by["bd close"]
	if sh.SpanID == "" || create.SpanID == "" || closeSp.SpanID == "" {
		t.Fatalf("spans: %+v", spans)
	}
	if sh.Parent() != "" || create.Parent() != sh.SpanID || closeSp.Parent() != sh.SpanID {
		t.Fatalf("tree: sh=%s create→%s close→%s", sh.SpanID, create.Parent(), closeSp.Parent())
	}
	if closeSp.Tag("otel.status_code") != "ERROR" || closeSp.Tag("exit_code") != "1" || create.Tag("otel.status_code") == "ERROR" {
		t.Fatalf("status: close %+v / create %+v", closeSp.Tags, create.Tags)
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="`+traceRun+`"`, 2, 20*time.Second)
	for _, rec := range recs {
		want := by["bd "+rec["subcommand"]]
		if rec["trace_id"] != traceHex || rec["span_id"] != want.SpanID {
			t.Errorf("%s record: trace %q span %q, want %s %s", rec["subcommand"], rec["trace_id"], rec["span_id"], traceHex, want.SpanID)
		}
	}
	// trace prints the trace id.
	if out := e.run("", "trace", traceRun); !strings.Contains(out.stdout, "trace "+traceHex) {
		t.Fatalf("%+v", out)
	}
}

func TestSessionSpanIsParent(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	vl := backendtest.StartVL(t)
	e := tmuxEnv(t, nil, vl)
	run := "0c6a2f3e-1111-4222-8333-944455556666"
	e.set("GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", run, "PATH", filepath.Dir(gtrunBin)+":"+e.vars["PATH"])
	if r := e.run("", "session", "start", "traced", "--", "sh", "-c", "gtrun bd list; gtrun bd ready"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	spans := jg.WaitSpans(t, strings.ReplaceAll(run, "-", ""), 3, 30*time.Second)
	var sess backendtest.JSpan
	for _, s := range spans {
		if s.OperationName == "session traced" {
			sess = s
		}
	}
	if sess.SpanID == "" {
		t.Fatalf("no session span: %+v", spans)
	}
	for _, s := range spans {
		if s.OperationName != "session traced" && s.Parent() != sess.SpanID {
			t.Errorf("%s is not a child of the session span", s.OperationName)
		}
	}
}

// Traces backend down, then up at the same address: the calls say
// nothing, the spans arrive once.
func TestSpansDeliveredOnceAfterOutage(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	gate := backendtest.NewGate(t, jg.OTLPURL)
	run := "7d1e0f2a-2222-4333-8444-a55566667777"
	e := newEnv(t).set("GT_OTEL_TRACES_URL", gate.URL("/v1/traces"), "GT_RUN", run)
	for i := 0; i < 3; i++ {
		if r := e.run("", "bd", "list"); r.code != 0 || r.stderr != "" {
			t.Fatalf("%+v", r)
		}
	}
	gate.Pass()
	if r := e.run("", "flush"); r.code != 0 || !strings.Contains(r.stdout, "traces "+gate.URL("/v1/traces")+": delivered") {
		t.Fatalf("%+v", r)
	}
	jg.WaitSpans(t, strings.ReplaceAll(run, "-", ""), 3, 30*time.Second)
	// Once a second flush has returned, nothing is left to send again.
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	jg.WaitSpans(t, strings.ReplaceAll(run, "-", ""), 3, time.Second)
}
