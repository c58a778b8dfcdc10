package runenv

import (
	"fmt"
	"strings"
	"testing"
)

func TestResourceAttrsRoundTrip(t *testing.T) {
	in := [][2]string{{"a", "x,y=z%w v"}, {"gt.role", "gastown/polecats/Toast"}, {"u", "ünï"}}
	enc := EncodeResourceAttrs(in)
	if strings.Count(enc, ",") != 2 || strings.Count(enc, "=") != 3 || strings.Contains(enc, " ") {
		t.Fatalf("special characters not encoded: %q", enc)
	}
	out, warn := ParseResourceAttrs(enc)
	if warn != "" {
		t.Fatalf("warning on own encoding: %s", warn)
	}
	if len(out) != len(in) {
		t.Fatalf("got %v want %v", out, in)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("attr %d: got %q want %q", i, out[i], in[i])
		}
	}
}

func TestParseMalformed(t *testing.T) {
	out, warn := ParseResourceAttrs("good=1,,=nokey,noval,bad=%zz,ok=%41")
	if warn == "" {
		t.Fatal("expected a warning")
	}
	want := [][2]string{{"good", "1"}, {"ok", "A"}}
	if len(out) != len(want) || out[0] != want[0] || out[1] != want[1] {
		t.Fatalf("got %v want %v", out, want)
	}
}

func TestChild(t *testing.T) {
	e := New([]string{
		"PATH=/bin", "GT_RUN=run-1", "OTEL_RESOURCE_ATTRIBUTES=team=core,gt.role=old",
		"GT_ROLE=mayor", "GT_POLECAT=Toast", "GT_WORK_BEAD=gt-abc", "GT_OTEL_LOGS_URL=http://127.0.0.1:9428/x",
	})
	id, fresh := RunID(e)
	if id != "run-1" || fresh {
		t.Fatalf("RunID reuse: %q %v", id, fresh)
	}
	env, warn := Child(e, id)
	if warn != "" {
		t.Fatal(warn)
	}
	got := New(env)
	if got.Get("GT_RUN") != "run-1" || got.Get("PATH") != "/bin" {
		t.Fatalf("env: %v", env)
	}
	if got.Get("BD_OTEL_LOGS_URL") != "http://127.0.0.1:9428/x" {
		t.Fatalf("BD_OTEL_LOGS_URL mirror missing: %v", env)
	}
	if _, ok := got.Lookup("BD_OTEL_METRICS_URL"); ok {
		t.Fatal("BD_OTEL_METRICS_URL set although GT_OTEL_METRICS_URL is unset")
	}
	attrs, _ := ParseResourceAttrs(got.Get("OTEL_RESOURCE_ATTRIBUTES"))
	m := map[string]string{}
	for _, kv := range attrs {
		m[kv[0]] = kv[1]
	}
	for k, v := range map[string]string{"team": "core", "gt.role": "mayor", "gt.agent": "Toast", "gt.run_id": "run-1", "gt.work_bead": "gt-abc"} {
		if m[k] != v {
			t.Errorf("%s=%q want %q (all: %v)", k, m[k], v, m)
		}
	}
	if _, ok := m["gt.rig"]; ok {
		t.Error("unset GT_RIG must not produce gt.rig")
	}
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "GT_RUN=") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("GT_RUN appears %d times", n)
	}
}

func TestNewRunIsUUID(t *testing.T) {
	id, fresh := RunID(New(nil))
	if !fresh || len(id) != 36 || id[14] != '4' {
		t.Fatalf("not a fresh UUID v4: %q", id)
	}
}

func TestTraceIDAndTraceparent(t *testing.T) {
	if got := fmt.Sprintf("%x", TraceID("5b8efff7-9803-4103-9269-b633813fc60c")); got != "5b8efff7980341039269b633813fc60c" {
		t.Fatal(got)
	}
	a, b := TraceID("run-a"), TraceID("run-a")
	if a != b || a == TraceID("run-b") {
		t.Fatal("hash-derived trace id not stable")
	}
	tp, err := ParseTraceparent("00-5b8efff7980341039269b633813fc60c-00f067aa0ba902b7-01")
	if err != nil || tp.String() != "00-5b8efff7980341039269b633813fc60c-00f067aa0ba902b7-01" {
		t.Fatal(tp, err)
	}
	for _, bad := range []string{"", "00-xyz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-5b8efff7980341039269b633813fc60c-00f067aa0ba902b7-01"} {
		if _, err := ParseTraceparent(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
