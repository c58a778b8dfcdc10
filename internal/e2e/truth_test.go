package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/runview"
)

// A child killed by a signal is recorded with the signal's name as kill -l
// and the shell's messages name it (issue 22: "killed by terminated").
func TestSignalDeathNamed(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "sig-name")
	if r := e.run("", "sh", "-c", "kill -TERM $$"); r.code != 143 {
		t.Fatalf("%+v", r)
	}
	e.run("", "flush")
	rec := vl.WaitCount(t, `"run.id":="sig-name"`, 1, 20*time.Second)[0]
	if rec["error"] != "killed by SIGTERM" || rec["signal"] != "SIGTERM" {
		t.Fatalf("error %q signal %q", rec["error"], rec["signal"])
	}
}

// gtrun env --diff: only what gtrun adds or changes, not the 50 inherited.
func TestEnvDiff(t *testing.T) {
	e := newEnv(t).set("GT_RUN", "envdiff", "GT_OTEL_LOGS_URL", "http://127.0.0.1:1/v1/logs", "UNRELATED", "x")
	r := e.run("", "env", "--diff")
	got := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, _, _ := strings.Cut(l, "=")
		got[k] = true
	}
	if r.code != 0 || !got["OTEL_RESOURCE_ATTRIBUTES"] || !got["BD_OTEL_LOGS_URL"] || got["GT_RUN"] || got["PATH"] || got["UNRELATED"] {
		t.Fatalf("env --diff: %+v", r)
	}
	if full := e.run("", "env"); !strings.Contains(full.stdout, "UNRELATED=x") {
		t.Fatalf("env: %+v", full)
	}
}

// session stop of a session that is not there: a plain message naming it
// (not tmux's "no server running on <socket>"), exit 1, every time.
func TestSessionStopMissing(t *testing.T) {
	tmp := t.TempDir()
	e := newEnv(t).set("TMUX_TMPDIR", tmp, "GTRUN_TMUX_SOCKET", "gtrun-missing")
	for range 2 {
		r := e.run("", "session", "stop", "Nobody")
		if r.code != 1 || r.stderr != "gtrun: session stop: no session Nobody\n" {
			t.Fatalf("%+v", r)
		}
	}
}

// runs into a pipe: whole lines (issue 22: columns cut at 100); trace with
// no endpoint configured names the variable instead of "no run started".
func TestRunsWholeLinesAndTraceNoEndpoint(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "a-run-id-long-enough-to-matter", "GT_ROLE", strings.Repeat("r", 120))
	e.run("", "bd", "list")
	e.run("", "flush")
	vl.WaitCount(t, `"run.id":="a-run-id-long-enough-to-matter"`, 1, 20*time.Second)
	r := e.run("", "runs", "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, strings.Repeat("r", 120)) {
		t.Fatalf("runs into a pipe cut its lines: %+v", r)
	}
	bare := newEnv(t)
	bare.run("", "bd", "list")
	if r := bare.run("", "trace"); r.code != 1 || !strings.Contains(r.stderr, "GT_OTEL_LOGS_URL") {
		t.Fatalf("trace without an endpoint: %+v", r)
	}
}

// One version string: gtrun version, gtrun-shipper --version and every
// record's scope.version (issue 22: dev / v0.0.0-… / "unknown").
func TestOneVersionEverywhere(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "versions")
	v := strings.TrimPrefix(strings.TrimSpace(e.run("", "version").stdout), "gtrun ")
	out, err := exec.Command(filepath.Join(filepath.Dir(gtrunBin), "gtrun-shipper"), "--version").CombinedOutput()
	if v == "" || err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), " "+v) {
		t.Fatalf("gtrun version %q, gtrun-shipper --version %q (%v)", v, out, err)
	}
	e.run("", "bd", "list")
	e.run("", "flush")
	rec := vl.WaitCount(t, `"run.id":="versions"`, 1, 20*time.Second)[0]
	if rec["scope.version"] != v {
		t.Fatalf("scope.version %q, want %q", rec["scope.version"], v)
	}
}

// Every forwarded command's help says gtrun (issue 22: "Usage:
// gtrun-shipper trace"), and an error at run time is exit 1 with no usage
// hint; only a command line cobra rejects is a usage error (exit 2).
func TestForwardedCommandsSayGtrun(t *testing.T) {
	e := newEnv(t)
	for _, c := range [][]string{{"trace"}, {"runs"}, {"cost"}, {"flush"}, {"shipper"}, {"shipper", "status"}, {"shipper", "stop"}} {
		r := e.run("", append(c, "--help")...)
		want := "gtrun " + strings.Join(c, " ")
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "gtrun-shipper") || !strings.Contains(r.stdout, "\n  "+want) {
			t.Errorf("%s --help: want usage %q, no gtrun-shipper: %+v", want, want, r)
		}
	}
	// gtrun help CMD is CMD --help, the host's flags included.
	for name, flag := range map[string]string{"trace": "--logs-query-url", "runs": "--logs-query-url", "cost": "--logs-query-url",
		"flush": "give up after this long", "shipper": "Available Commands"} {
		if r := e.run("", "help", name); r.code != 0 || !strings.Contains(r.stdout, "\n  gtrun "+name) || !strings.Contains(r.stdout, flag) {
			t.Errorf("gtrun help %s: want its usage and %s: %+v", name, flag, r)
		}
	}
	for _, c := range [][]string{{"help", "shipper", "status"}, {"shipper", "help", "status"}} {
		if r := e.run("", c...); r.code != 0 || !strings.Contains(r.stdout, "\n  gtrun shipper status [--json]") {
			t.Errorf("gtrun %s: %+v", strings.Join(c, " "), r)
		}
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.set("GTRUN_STATE_DIR", notDir)
	defer e.set("GTRUN_STATE_DIR", e.state)
	for _, c := range [][]string{{"shipper", "status"}, {"flush"}} {
		r := e.run("", c...)
		if r.code != 1 || strings.Contains(r.stderr, "--help") || !strings.HasPrefix(r.stderr, "gtrun: "+strings.Join(c, " ")+": ") {
			t.Errorf("%v with an unusable state dir: want exit 1, no usage hint: %+v", c, r)
		}
	}
	e.set("GTRUN_STATE_DIR", e.state)
	if r := e.run("", "shipper", "bogus"); r.code != 2 || !strings.Contains(r.stderr, `"bogus"`) {
		t.Errorf("shipper bogus: %+v", r)
	}
	if r := e.run("", "runs", "--since", "3x"); r.code != 2 || !strings.Contains(r.stderr, "--help") {
		t.Errorf("a bad flag value stays a usage error: %+v", r)
	}
}

// An agent run read from last month's transcript today is found by when it
// was recorded (issue 22: runs/cost --since 24h missed it, the records
// carry the transcript's times); a live call's record carries no extra
// attribute.
func TestLateRunFoundWhenRecorded(t *testing.T) {
	vl := backendtest.StartVL(t)
	roots, _ := costLayout(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "late-run", "CLAUDE_CONFIG_DIR", roots, "GT_WORK_BEAD", "gt-late")
	if r := e.run("", "agent-log", "--session", "gt-b", "--work-dir", "/home/marco/projects/spotter", "--agent", "claudecode", "--once"); r.code != 0 {
		t.Fatalf("agent-log: %+v", r)
	}
	live := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "live-run")
	live.run("", "bd", "list")
	e.run("", "flush")
	live.run("", "flush")
	usage := vl.WaitCount(t, `"run.id":="late-run" _msg:="agent.usage"`, 1, 20*time.Second)[0]
	if at, err := time.Parse(time.RFC3339Nano, usage["_time"]); err != nil || time.Since(at) < 24*time.Hour {
		t.Fatalf("the fixture's usage is not from the past: %q", usage["_time"])
	}
	// In a stream of its own: --since selects it from the stream index.
	if !strings.Contains(usage["_stream"], `gtrun.late="true"`) || usage["recorded_unix"] == "" {
		t.Fatalf("late record: stream %q recorded_unix %q", usage["_stream"], usage["recorded_unix"])
	}
	if rec := vl.WaitCount(t, `"run.id":="live-run"`, 1, 20*time.Second)[0]; rec["recorded_unix"] != "" || strings.Contains(rec["_stream"], "gtrun.late") {
		t.Fatalf("a live record carries recorded_unix %q, stream %q", rec["recorded_unix"], rec["_stream"])
	}
	vl.Flush(t)
	r := e.run("", "runs", "--since", "1h", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"late-run"`) || !strings.Contains(r.stdout, `"live-run"`) {
		t.Fatalf("runs --since 1h misses a run recorded now: %+v", r)
	}
	c := e.run("", "cost", "--by", "run", "--since", "1h", "--json")
	var rep runview.CostReport
	if err := json.Unmarshal([]byte(c.stdout), &rep); c.code != 0 || err != nil {
		t.Fatalf("cost: %v %+v", err, c)
	}
	found := false
	for _, row := range rep.Rows {
		found = found || row.Key == "late-run" && row.Responses > 0 && row.CostUSD != nil && *row.CostUSD > 0
	}
	if !found {
		t.Fatalf("cost --since 1h has no priced row for the late run: %+v", rep.Rows)
	}
}
