package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// buildOtelproc builds testdata/otelproc: a short-lived program exporting
// its own telemetry with the OTel Go SDK the way the real gt does.
func buildOtelproc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "otelproc")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/e2e/testdata/otelproc")
	cmd.Dir = backendtest.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building otelproc: %v\n%s", err, out)
	}
	return bin
}

// Several short-lived processes export the same series (same labels,
// cumulative from 0, at exit) and their bd.call records through gtrun's
// receiver, half of them while the backends are down (refusing, then
// black-holed): every record is in
// VictoriaLogs once, with the sender's service.name and the call's run id,
// and the counter and histogram in VictoriaMetrics are exact (not the last
// process's value, not fewer for the outage).
func TestReceiverShortLivedExporters(t *testing.T) {
	e, vm, vl, gl, gm := gated(t)
	e.set("GT_OTEL_METRIC_INTERVAL", "1s", "GTRUN_RECEIVER", "1")
	bin := buildOtelproc(t)
	const procs, per = 8, 3
	run := func(i int) {
		r := e.with("GT_RUN", fmt.Sprintf("recv-%02d", i)).run("", bin, fmt.Sprint(per), "show")
		// The child's own export succeeded (the receiver answered from
		// the journal): otelproc prints its export errors.
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("process %d: %+v", i, r)
		}
	}
	gl.Pass()
	gm.Pass()
	for i := 0; i < procs/2; i++ {
		run(i)
	}
	// Delivered before the gates close: a request the gate cuts after the
	// backend took it would be sent again (the agent's at-least-once
	// window, not what this test is about).
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	// Down: refusing, then black-holed. A child exporting to a black hole
	// itself would wait out its 2 s flush and print the error; through the
	// receiver it is answered from the journal.
	gl.Refuse()
	gm.Refuse()
	for i := procs / 2; i < procs*3/4; i++ {
		run(i)
	}
	gl.Hold()
	gm.Hold()
	for i := procs * 3 / 4; i < procs; i++ {
		run(i)
	}
	gl.Pass()
	gm.Pass()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "service.name":="gastown"`, procs*per, 30*time.Second)
	seen := map[string]bool{}
	for _, r := range recs {
		k := r["run.id"] + " " + r["args"]
		if seen[k] || r["gt.run_id"] != r["run.id"] || r["service.version"] != "otelproc" {
			t.Fatalf("record twice, or without its process's identity: %v", r)
		}
		seen[k] = true
	}
	want := float64(procs * per)
	vm.WaitValue(t, `sum(gastown.bd.calls.total{service.name="gastown"})`, want, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total{service.name="gastown"}[1h]))`, want, 10*time.Second)
	vm.WaitValue(t, `sum(gastown.bd.duration_ms_count{service.name="gastown"})`, want, 10*time.Second)
	// One series per identity: no pid, no run id among the labels.
	if s := vm.Query(t, `count(gastown.bd.calls.total{service.name="gastown"})`); len(s) != 1 || s[0].Value != 1 {
		t.Fatalf("series: %+v", s)
	}
}

// The agent stops between two groups of exporters (the second group's
// first call starts a new one, handing it the receiver's socket): the
// records arrive once and increase() over the counter is exact across the
// two agents' lifetimes.
func TestReceiverAcrossAgentRestart(t *testing.T) {
	e, vm, vl, gl, gm := gated(t)
	e.set("GT_OTEL_METRIC_INTERVAL", "1s", "GTRUN_RECEIVER", "1")
	gl.Pass()
	gm.Pass()
	bin := buildOtelproc(t)
	const per = 2
	for i := 0; i < 6; i++ {
		if i == 3 {
			if r := e.run("", "shipper", "stop"); r.code != 0 {
				t.Fatalf("stop: %+v", r)
			}
		}
		r := e.with("GT_RUN", fmt.Sprintf("restart-%02d", i)).run("", bin, fmt.Sprint(per), "list")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("process %d: %+v", i, r)
		}
	}
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vl.WaitCount(t, `_msg:"bd.call" AND "service.name":="gastown"`, 6*per, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total{service.name="gastown"}[1h]))`, 6*per, 30*time.Second)
}

// A reporting gt gtrun starts a new run for gets no GT_RUN of gtrun's
// making: gt's agent.instantiate keeps the new session's run.id (gt stamps
// $GT_RUN over it, issue 19), its other records get the call's run from the
// receiver, and a bd below it joins the run.
func TestReportingGtKeepsSessionRunID(t *testing.T) {
	vl := backendtest.StartVL(t)
	bin := t.TempDir()
	if err := os.Rename(buildOtelproc(t), filepath.Join(bin, "gt")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "PATH", bin+":"+os.Getenv("PATH"), "OTELPROC_SESSION_RUN", "session-own-run")
	delete(e.vars, "GT_RUN")
	if r := e.run("", "gt", "2", "show"); r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	e.run("", "flush")
	call := vl.WaitCount(t, `_msg:="cmd.call"`, 1, 30*time.Second)[0]
	run := call["run.id"]
	inst := vl.WaitCount(t, `_msg:="agent.instantiate"`, 1, 30*time.Second)[0]
	if inst["run.id"] != "session-own-run" || inst["gt.run_id"] != run || run == "" {
		t.Fatalf("agent.instantiate run.id %q gt.run_id %q, want the session's own and the call's %q", inst["run.id"], inst["gt.run_id"], run)
	}
	for _, r := range vl.WaitCount(t, `_msg:="bd.call"`, 2, 30*time.Second) {
		if r["run.id"] != run || r["service.name"] != "gastown" {
			t.Fatalf("gt's record without the call's run %q: %v", run, r)
		}
	}
	// A reporting gt run by a reporting gt (through gtrun both): the inner
	// one gets no GT_RUN either, and joins the outer one's run.
	outer := t.TempDir()
	os.WriteFile(filepath.Join(outer, "gt"), []byte("#!/bin/sh\n# a gt that reads GT_OTEL_LOGS_URL\nPATH="+bin+":$PATH exec "+gtrunBin+" gt 1 nested\n"), 0o755)
	if r := e.with("PATH", outer+":"+os.Getenv("PATH"), "OTELPROC_SESSION_RUN", "inner-session-run").run("", "gt"); r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	e.run("", "flush")
	in := vl.WaitCount(t, `_msg:="agent.instantiate" "gt.run_id":!="" session_id:="dm-rust" "run.id":!="session-own-run"`, 1, 30*time.Second)[0]
	nested := vl.WaitCount(t, `_msg:="bd.call" subcommand:="nested"`, 1, 30*time.Second)[0]
	if in["run.id"] != "inner-session-run" || nested["run.id"] != in["gt.run_id"] || nested["run.id"] == run {
		t.Fatalf("nested reporting gt: agent.instantiate run.id %q gt.run_id %q, its bd.call's run %q", in["run.id"], in["gt.run_id"], nested["run.id"])
	}
	// With GT_RUN set by the caller, gt sees it (as it would without gtrun).
	e.with("GT_RUN", "callers-run").run("", "gt", "1", "list")
	e.run("", "flush")
	if inst := vl.WaitCount(t, `_msg:="agent.instantiate" "gt.run_id":="callers-run"`, 1, 30*time.Second)[0]; inst["run.id"] != "callers-run" {
		t.Fatalf("with the caller's GT_RUN: %v", inst)
	}
}
