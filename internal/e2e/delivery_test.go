package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// Issue 4: 20 sequential + 10 concurrent wrapped bd calls, each its own
// GT_RUN, three subcommands, some failing: the seed's queries are exact and
// there is one series per (subcommand, status), not per run.
func TestCountsExactAcrossProcesses(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	base := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL)
	type call struct{ args []string }
	mk := func(i int) []string {
		switch i % 4 {
		case 0:
			return []string{"bd", "create", fmt.Sprintf("issue %d", i), "--silent"}
		case 1:
			return []string{"bd", "list"}
		case 2:
			return []string{"bd", "close", fmt.Sprintf("gt-c%02d", i)}
		default:
			return []string{"bd", "close", "gt-nope"} // fails
		}
	}
	want := map[string]int{}
	count := func(args []string) {
		status := "ok"
		if args[len(args)-1] == "gt-nope" {
			status = "error"
		}
		want[args[1]+"/"+status]++
	}
	for i := 0; i < 20; i++ {
		args := mk(i)
		count(args)
		e := *base
		e.vars = copyVars(base.vars, "GT_RUN", fmt.Sprintf("seq-%d", i))
		if r := e.run("", args...); r.code != 0 && args[2] != "gt-nope" {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	var wg sync.WaitGroup
	for i := 20; i < 30; i++ {
		args := mk(i)
		count(args)
		wg.Add(1)
		go func(i int, args []string) {
			defer wg.Done()
			e := *base
			e.vars = copyVars(base.vars, "GT_RUN", fmt.Sprintf("conc-%d", i))
			e.run("", args...)
		}(i, args)
	}
	wg.Wait()

	// A call slowed past its flush deadline (a loaded machine) spooled its
	// batch; delivery includes the spool, so flush it before counting.
	if r := base.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 30, 20*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.duration_ms_count[1h]))`, 30, 10*time.Second)
	got := map[string]int{}
	for _, s := range vm.Query(t, `sum by (subcommand, status) (increase(gastown.bd.calls.total[1h]))`) {
		got[s.Labels["subcommand"]+"/"+s.Labels["status"]] = int(s.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by (subcommand,status): got %v want %v", got, want)
	}
	series := vm.Query(t, `count(gastown.bd.calls.total)`)
	if len(series) != 1 || int(series[0].Value) != len(want) {
		t.Fatalf("series of gastown.bd.calls.total: %v, want %d (one per subcommand/status pair)", series, len(want))
	}
	vl.WaitCount(t, `_msg:"bd.call"`, 30, 20*time.Second)
}

func copyVars(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Issue 4: the logs backend is down (refusing) during 10 calls; the calls
// are unaffected; after `gtrun flush` each record is in VictoriaLogs once.
func TestLogsSpooledWhileDownThenFlushedOnce(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	down := backendtest.RefusedURL(t, "/insert/opentelemetry/v1/logs")
	e := newEnv(t).set("GT_OTEL_LOGS_URL", down, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_RUN", "run-down-logs")
	for i := 0; i < 10; i++ {
		start := time.Now()
		r := e.run("", "bd", "create", fmt.Sprintf("while down %d", i))
		if r.code != 0 || !strings.Contains(r.stdout, "✓ Created issue: ") {
			t.Fatalf("call %d changed by the outage: %+v", i, r)
		}
		if !strings.Contains(r.stderr, "gtrun: warning: telemetry backend unreachable, spooled logs") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("want one short warning, got %q", r.stderr)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("call %d took %v with the backend refusing", i, d)
		}
	}
	if n := countSpool(t, e.state, "logs"); n != 10 {
		t.Fatalf("spool holds %d logs batches, want 10", n)
	}
	up := *e
	up.vars = copyVars(e.vars, "GT_OTEL_LOGS_URL", vl.OTLPURL)
	r := up.run("", "flush")
	if r.code != 0 || !strings.Contains(r.stdout, "logs: 10 delivered") {
		t.Fatalf("flush: %+v", r)
	}
	if r := up.run("", "flush"); !strings.Contains(r.stdout, "logs: 0 delivered") {
		t.Fatalf("second flush resent something: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="run-down-logs"`, 10, 20*time.Second)
	seen := map[string]bool{}
	for _, rec := range recs {
		if seen[rec["_time"]] {
			t.Fatalf("duplicate record %v", rec)
		}
		seen[rec["_time"]] = true
	}
	vl.WaitCount(t, `_msg:"bead.create" AND "run.id":="run-down-logs"`, 10, 5*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 10, 20*time.Second)
}

// Metrics backend down: counters exact after the flush, nothing double.
func TestMetricsSpooledWhileDownThenExact(t *testing.T) {
	vm := backendtest.StartVM(t)
	down := backendtest.BlackHole(t, "/opentelemetry/api/v1/push")
	e := newEnv(t).set("GT_OTEL_METRICS_URL", down, "GT_RUN", "run-down-metrics", "GT_OTEL_FLUSH_TIMEOUT", "200ms")
	for i := 0; i < 6; i++ {
		start := time.Now()
		r := e.run("", "bd", "list")
		if r.code != 0 {
			t.Fatalf("%+v", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("call took %v with a black-holed backend", d)
		}
	}
	e.set("GT_OTEL_METRICS_URL", refusedPlaceholder(t))
	for i := 0; i < 4; i++ {
		e.run("", "bd", "close", "gt-nope")
	}
	if n := countSpool(t, e.state, "metrics"); n != 10 {
		t.Fatalf("spool holds %d metrics batches, want 10", n)
	}
	e.set("GT_OTEL_METRICS_URL", vm.OTLPURL)
	if r := e.run("", "flush"); r.code != 0 || !strings.Contains(r.stdout, "metrics: 10 delivered") {
		t.Fatalf("flush: %+v", r)
	}
	e.run("", "flush")
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 10, 20*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total{status="error"}[1h]))`, 4, 5*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.duration_ms_count[1h]))`, 10, 5*time.Second)
}

func refusedPlaceholder(t *testing.T) string {
	return backendtest.RefusedURL(t, "/opentelemetry/api/v1/push")
}

func countSpool(t *testing.T, state, kind string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(state, "spool", kind, "*.otlp"))
	return len(m)
}

// A flusher killed with SIGKILL while it sends loses nothing and sends
// nothing twice; a damaged spool entry is skipped, not fatal.
func TestFlushKilledMidSend(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs"), "GT_RUN", "run-kill")
	for i := 0; i < 5; i++ {
		e.run("", "sh", "-c", "true")
	}
	hole := backendtest.BlackHole(t, "/v1/logs")
	cmd := exec.Command(gtrunBin, "flush", "--timeout", "30s")
	cmd.Env = append(e.list(), "GT_OTEL_LOGS_URL="+hole)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // it is now blocked on the black hole
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// A damaged entry, as a crash or a full disk could leave.
	bad := filepath.Join(e.state, "spool", "logs", "00000000000000000001-1-bad.otlp")
	os.WriteFile(bad, []byte("GTRUNSPOOL1\n{\"size\":999,\"sha256\":\"00\"}\nshort"), 0o600)

	e.set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	r := e.run("", "flush")
	if _, err := os.Stat(bad + ".bad"); err != nil {
		t.Errorf("damaged entry not set aside: %v", err)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "logs: 5 delivered, 1 damaged skipped") {
		t.Fatalf("flush after kill: %+v", r)
	}
	vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-kill"`, 5, 20*time.Second)
}

// Concurrent flushers never double-send.
func TestConcurrentFlushersSendOnce(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs"), "GT_RUN", "run-conc-flush")
	for i := 0; i < 8; i++ {
		e.run("", "sh", "-c", "true")
	}
	e.set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.run("", "flush") }()
	}
	wg.Wait()
	if n := countSpool(t, e.state, "logs"); n != 0 {
		t.Fatalf("%d entries left", n)
	}
	vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-conc-flush"`, 8, 20*time.Second)
}

// The next ordinary call delivers the spool in the background of its own work.
func TestNextCallDeliversSpool(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs"), "GT_RUN", "run-next")
	for i := 0; i < 3; i++ {
		e.run("", "sh", "-c", "true")
	}
	e.set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	if r := e.run("", "sh", "-c", "sleep 0.2"); r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	if n := countSpool(t, e.state, "logs"); n != 0 {
		t.Fatalf("%d entries left after the next call", n)
	}
	vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-next"`, 4, 20*time.Second)
}
