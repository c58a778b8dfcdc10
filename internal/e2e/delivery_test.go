package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/shipper"
)

// 20 sequential + 10 concurrent wrapped bd calls, each its own GT_RUN,
// three subcommands, some failing: the seed's queries are exact, there is
// one series per (subcommand, status), not per run, 30 records and 30 spans.
// bdMix is call i of a mix of bd calls: creates, lists, closes, and a
// close that fails.
func bdMix(i int) []string {
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

// mixSeries is the subcommand/status a bdMix call is counted under.
func mixSeries(args []string) string {
	status := "ok"
	if args[len(args)-1] == "gt-nope" {
		status = "error"
	}
	return args[1] + "/" + status
}

func TestCountsExactAcrossProcesses(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	jg := backendtest.StartJaeger(t)
	base := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL)
	mk := bdMix
	want := map[string]int{}
	count := func(args []string) { want[mixSeries(args)]++ }
	runID := func(i int) string { return fmt.Sprintf("0000c0de-0000-4000-8000-%012d", i) }
	for i := 0; i < 20; i++ {
		args := mk(i)
		count(args)
		e := base.with("GT_RUN", runID(i))
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
			base.with("GT_RUN", runID(i)).run("", args...)
		}(i, args)
	}
	wg.Wait()
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
	for i := 0; i < 30; i++ {
		jg.WaitSpans(t, strings.ReplaceAll(runID(i), "-", ""), 1, 20*time.Second)
	}
}

// with returns a copy of e with more variables.
func (e *env) with(kv ...string) *env {
	c := *e
	c.vars = copyVars(e.vars, kv...)
	return &c
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

// gated points e at VictoriaLogs and VictoriaMetrics through gates.
func gated(t *testing.T) (*env, *backendtest.VM, *backendtest.VL, *backendtest.Gate, *backendtest.Gate) {
	vm, vl := backendtest.StartBoth(t)
	gl, gm := backendtest.NewGate(t, vl.OTLPURL), backendtest.NewGate(t, vm.OTLPURL)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", gl.URL("/insert/opentelemetry/v1/logs"),
		"GT_OTEL_METRICS_URL", gm.URL("/opentelemetry/api/v1/push"))
	return e, vm, vl, gl, gm
}

// An outage costs a wrapped call nothing: no line on stderr, no wait for
// the network (a refused or black-holed backend), and once the backend is
// back every record arrives once with exact counters.
func TestOutageCostsTheCallNothing(t *testing.T) {
	e, vm, vl, gl, gm := gated(t)
	e.set("GT_RUN", "run-outage")
	call := func(i int, mode string) {
		start := time.Now()
		r := e.run("", "bd", "create", fmt.Sprintf("during %s %d", mode, i))
		if r.code != 0 || !strings.Contains(r.stdout, "✓ Created issue: ") || r.stderr != "" {
			t.Fatalf("call %d (%s) changed by the outage: %+v", i, mode, r)
		}
		// Not a timing test: a call that waited on the network at all
		// would wait for the 10 s request timeout.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("call %d (%s) took %v", i, mode, d)
		}
	}
	for i := 0; i < 10; i++ {
		call(i, "refused")
	}
	gl.Hold()
	gm.Hold()
	for i := 0; i < 10; i++ {
		call(i, "black-holed")
	}
	gl.Pass()
	gm.Pass()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="run-outage"`, 20, 20*time.Second)
	assertUnique(t, recs)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 20, 20*time.Second)
}

// assertUnique fails on two records of the same time and message.
func assertUnique(t *testing.T, recs []map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range recs {
		k := r["_time"] + r["_msg"] + r["run.id"]
		if seen[k] {
			t.Fatalf("duplicate record %v", r)
		}
		seen[k] = true
	}
}

// shipperPID returns the running agent's pid of e's state directory.
func (e *env) shipperPID(t *testing.T) int {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(e.state, "shipper", "lock"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("no agent pid in the lock file (%q)", b)
	}
	return pid
}

// The agent killed with SIGKILL while its requests hang: the next agent
// (here `gtrun flush`, with none running) delivers everything once.
func TestAgentKilledMidDelivery(t *testing.T) {
	e, vm, vl, gl, gm := gated(t)
	gl.Hold()
	gm.Hold()
	e.set("GT_RUN", "run-kill-agent")
	for i := 0; i < 5; i++ {
		if r := e.run("", "sh", "-c", "true"); r.code != 0 || r.stderr != "" {
			t.Fatalf("%+v", r)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for gl.Held() == 0 || gm.Held() == 0 { // its requests are in flight now
		if time.Now().After(deadline) {
			t.Fatalf("the agent never sent (held logs %d, metrics %d)", gl.Held(), gm.Held())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := e.shipperPID(t)
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
	gl.Pass()
	gm.Pass()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush after the kill: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-kill-agent"`, 5, 20*time.Second)
	assertUnique(t, recs)
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h]))`, 5, 20*time.Second)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Wrapped calls killed with SIGKILL at random moments, and a torn frame in
// the journal (a writer killed in the middle of its write): every call that
// finished is delivered once, the torn frame is skipped and counted.
func TestCallsKilledMidAppend(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	var mu sync.Mutex
	finished := map[string]bool{}
	started := 0
	var wg sync.WaitGroup
	t0 := time.Now()
	e.with("GT_RUN", "run-killed-warmup").run("", "sh", "-c", "exit 0")
	finished["run-killed-warmup"] = true
	life := time.Since(t0) // kill each call at a random moment of about its life
	for i := 0; i < 20; i++ {
		run := fmt.Sprintf("run-killed-%02d", i)
		cmd := exec.Command(gtrunBin, "sh", "-c", "exit 0")
		cmd.Env = e.with("GT_RUN", run).list()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started++
		wg.Add(1)
		go func(delay time.Duration) {
			defer wg.Done()
			time.Sleep(delay) // a random moment of its life, not synchronisation
			cmd.Process.Signal(syscall.SIGKILL)
			if cmd.Wait() == nil {
				mu.Lock()
				finished[run] = true
				mu.Unlock()
			}
		}(time.Duration(rand.Int63n(int64(2 * life))))
		time.Sleep(life / 4) // spread them, so they do not all start at once
	}
	wg.Wait()
	// A torn frame: a header that promises more than was written.
	os.MkdirAll(filepath.Join(e.state, "journal"), 0o700)
	seg := filepath.Join(e.state, "journal", journal.SegmentName(time.Now()))
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("GTJ1E\x40\x00\x00\x00\x00\x00\x00\x00{\"dest\":"))
	f.Close()
	for i := 0; i < 5; i++ {
		run := fmt.Sprintf("run-after-%d", i)
		if r := e.with("GT_RUN", run).run("", "sh", "-c", "exit 0"); r.code != 0 {
			t.Fatalf("%+v", r)
		}
		finished[run] = true
	}
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vl.Flush(t)
	recs := vl.Query(t, `_msg:"cmd.call"`)
	got := map[string]int{}
	for _, r := range recs {
		got[r["run.id"]]++
	}
	for run := range finished {
		if got[run] != 1 {
			t.Errorf("finished call %s delivered %d times", run, got[run])
		}
	}
	for run, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", run, n)
		}
	}
	if len(got) > started+6 {
		t.Errorf("%d runs delivered, only %d started", len(got), started+6)
	}
	st := shipperStatus(t, e)
	if st.Torn < 1 {
		t.Errorf("torn frame not counted: %+v", st)
	}
	t.Logf("%d of %d killed calls finished first (a call lives %v); %d torn frame(s) skipped", len(finished)-6, started, life, st.Torn)
}

type statusJSON struct {
	Running bool  `json:"running"`
	Torn    int64 `json:"torn_frames"`
	Journal int64 `json:"journal_bytes"`
}

func shipperStatus(t *testing.T, e *env) statusJSON {
	t.Helper()
	r := e.run("", "shipper", "status", "--json")
	var st statusJSON
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("shipper status: %+v", r)
	}
	return st
}

// 200 wrapped calls at once: 200 records, no frame torn.
func TestConcurrentCallsJournalIntact(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-200")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50) // 200 at once would only measure fork on two cores
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if r := e.run("", "sh", "-c", "exit "+strconv.Itoa(i%3)); r.code != i%3 || r.stderr != "" {
				t.Errorf("%+v", r)
			}
		}(i)
	}
	wg.Wait()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-200"`, 200, 30*time.Second)
	assertUnique(t, recs)
	if st := shipperStatus(t, e); st.Torn != 0 {
		t.Fatalf("torn frames with concurrent writers: %+v", st)
	}
}

// 50 parallel calls × 10 rounds with the backend refusing, then up: the
// counters read exactly 500, and 500 records (the old exporter lost the
// metrics of 237 of these 500 calls).
func TestRefusingThenUpExact(t *testing.T) {
	e, vm, vl, gl, gm := gated(t)
	e.set("GT_RUN", "run-500")
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := e.run("", "bd", "list"); r.code != 0 || r.stderr != "" {
					t.Errorf("%+v", r)
				}
			}()
		}
		wg.Wait()
	}
	gl.Pass()
	gm.Pass()
	if r := e.run("", "flush", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 500, 30*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.duration_ms_count[1h]))`, 500, 10*time.Second)
	vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="run-500"`, 500, 30*time.Second)
}

// An agent whose state directory is deleted (here while it retries a
// refused backend, so it would never be idle) exits instead of following
// a journal no call can reach: a new agent starts on a fresh lock.
func TestAgentExitsWhenItsStateIsRemoved(t *testing.T) {
	e := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs"))
	if r := e.run("", "true"); r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	dir := filepath.Join(e.state, "shipper")
	deadline := time.Now().Add(10 * time.Second)
	for shipper.Running(dir) <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call started no agent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := e.shipperPID(t)
	if err := os.RemoveAll(e.state); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

// An agent a call started after its state directory was deleted (the call
// appended, then the directory went) does not create the directory anew
// to wait in it.
func TestSpawnedAgentFindsNoState(t *testing.T) {
	e := newEnv(t)
	gone := filepath.Join(e.state, "gone")
	e.set("GTRUN_STATE_DIR", gone)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gtrunBin, "shipper", "run", "--spawned")
	cmd.Env = e.list()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("the agent created %s (stat: %v)", gone, err)
	}
}
