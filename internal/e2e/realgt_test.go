package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/gtcorpus"
)

// The real gt, replayed: internal/e2e/testdata/replaygt answers every gt
// command line of the recorded real town's run (internal/parse/testdata/
// gastown-real) exactly as real gt did. CI cannot build the real gt; the
// corpus is what it did.

func corpusPath(t *testing.T, name string) string {
	return filepath.Join(repo(t), "internal", "parse", "testdata", "gastown-real", name)
}

func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	out, err := gtcorpus.Lines[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// replayGt builds the stand-in gt into a directory of its own.
func replayGt(t *testing.T) string {
	dir := t.TempDir()
	b := exec.Command("go", "build", "-o", filepath.Join(dir, "gt"), "./testdata/replaygt")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("building replaygt: %v\n%s", err, out)
	}
	return dir
}

// replayTown runs every gt command the scenario typed (not the ones gt
// started itself) through gtrun, each with its recorded identity and run.
func replayTown(t *testing.T, e *env) (calls int) {
	for _, c := range readLines[gtcorpus.Call](t, corpusPath(t, "calls.jsonl")) {
		if c.Prog != "gt" || c.ParentSeq != nil {
			continue
		}
		x := e.with("REPLAY_CORPUS", corpusPath(t, "calls.jsonl"))
		for k, v := range c.Env {
			if strings.HasPrefix(k, "GT_") && !strings.HasPrefix(k, "GT_OTEL_") || k == "BD_ACTOR" {
				x.set(k, v)
			}
		}
		if r := x.run("", append([]string{"gt"}, c.Argv...)...); strings.Contains(r.stderr, "replaygt:") {
			t.Fatalf("gt %v: %s", c.Argv, r.stderr)
		}
		calls++
	}
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	return calls
}

// countByMsg tallies records per event name.
func countByMsg(recs []map[string]string) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[r["_msg"]]++
	}
	return out
}

// With gt's own telemetry off, gtrun's gt catalog gives, for every event
// kind visible from outside, exactly as many records as real gt emitted.
func TestRealGtCatalogFromOutside(t *testing.T) {
	vl := backendtest.StartVL(t)
	bin := replayGt(t)
	// gtrun's endpoint through the standard variable: GT_OTEL_* unset, so
	// gt's own telemetry is off.
	e := newEnv(t).set("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", vl.OTLPURL, "PATH", bin+":"+os.Getenv("PATH"))
	calls := replayTown(t, e)
	want := map[string]int{"cmd.call": calls}
	total := calls
	for _, r := range readLines[map[string]string](t, corpusPath(t, "gt-events.jsonl")) {
		name := r["_msg"]
		switch {
		case name == "bd.call", name == "agent.state_change", name == "agent.instantiate", name == "session.stop",
			name == "mail" && strings.HasPrefix(r["operation"], "bd."):
			continue // not visible from outside (docs/rules.md)
		}
		want[name]++
		total++
	}
	got := countByMsg(vl.WaitCount(t, `*`, total, 30*time.Second))
	if len(want) < 12 || !maps.Equal(got, want) {
		t.Fatalf("records per event:\n got %v\nwant %v", got, want)
	}
}

// With gt's own telemetry on, gt reports its catalog itself: gtrun records
// each gt process (cmd.call) and no catalog event — one fact, one record.
func TestRealGtReportsItselfNoDuplicate(t *testing.T) {
	vl := backendtest.StartVL(t)
	bin := replayGt(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "PATH", bin+":"+os.Getenv("PATH"))
	calls := replayTown(t, e)
	got := countByMsg(vl.WaitCount(t, `*`, calls, 30*time.Second))
	if !maps.Equal(got, map[string]int{"cmd.call": calls}) {
		t.Fatalf("records: %v, want %d cmd.call only", got, calls)
	}
}

// A bd that a reporting gt runs (through the shim) is one bd.call and adds
// no catalog event of its own; under a gt that does not report, the bd
// rules apply.
func TestBdUnderReportingGt(t *testing.T) {
	vl := backendtest.StartVL(t)
	shims, bin := t.TempDir(), t.TempDir()
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	if r := e.run("", "shim", "install", shims, "bd"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	e.set("PATH", shims+":"+bin+":"+e.vars["PATH"])
	script := "#!/bin/sh\n# %s\nexec bd mol squash gt-wisp-1\n"
	os.WriteFile(filepath.Join(bin, "gt"), []byte(strings.Replace(script, "%s", "reads GT_OTEL_LOGS_URL", 1)), 0o755)
	e.with("GT_RUN", "reporting").run("", "gt", "mol", "squash")
	os.WriteFile(filepath.Join(bin, "gt"), []byte(strings.Replace(script, "%s", "an older gt", 1)), 0o755)
	e.with("GT_RUN", "silent").run("", "gt", "mol", "squash")
	e.run("", "flush")
	got := countByMsg(vl.WaitCount(t, `"run.id":="reporting"`, 2, 30*time.Second))
	if !maps.Equal(got, map[string]int{"cmd.call": 1, "bd.call": 1}) {
		t.Fatalf("under a reporting gt: %v", got)
	}
	got = countByMsg(vl.WaitCount(t, `"run.id":="silent"`, 3, 30*time.Second))
	if !maps.Equal(got, map[string]int{"cmd.call": 1, "bd.call": 1, "mol.squash": 1}) {
		t.Fatalf("under a gt that does not report: %v", got)
	}
}

// `gtrun bd …` with the shim directory first on PATH: the outer gtrun runs
// the real bd, not the shim — one call, one record (issue: nested wrapping).
func TestNestedWrapOneRecord(t *testing.T) {
	vl := backendtest.StartVL(t)
	shims := t.TempDir()
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "nested")
	if r := e.run("", "shim", "install", shims, "bd"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	e.set("PATH", shims+":"+e.vars["PATH"])
	if r := e.run("", "bd", "create", "x", "--silent"); r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	if r := e.run("", "sh", "-c", "bd list | head -1"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := e.run("", "sh", "-c", gtrunBin+" bd list | head -1"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	e.run("", "flush")
	recs := vl.WaitCount(t, `"run.id":="nested" AND _msg:"bd.call"`, 3, 30*time.Second)
	for _, r := range recs {
		if r["subcommand"] != "create" && r["subcommand"] != "list" {
			t.Fatalf("%v", r)
		}
	}
}
