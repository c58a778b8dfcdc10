package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/otlptest"
	"github.com/gastown/gtrun/internal/shipper"
)

// The rows of issue 20 against a misbehaving OTLP server (otlptest.Fault):
// each test fails on the agent of 4d521bf and passes since.

// faultEnv points e's logs at a fault server, with delivery bounds short
// enough for a test (a record failing alone: 3 tries and 1 s); an endpoint
// is taken for gone or broken only after an hour.
func faultEnv(t *testing.T) (*env, *otlptest.Fault) {
	fs := otlptest.StartFault(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", fs.URL+"/v1/logs",
		"GT_SHIPPER_DEAD_TRIES", "3", "GT_SHIPPER_DEAD_AGE", "1s", "GT_SHIPPER_UNREACHABLE_AGE", "1h")
	return e, fs
}

// call makes one wrapped call whose cmd.call record carries run id run.
func (e *env) call(t *testing.T, run string, args ...string) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"sh", "-c", "exit 0"}
	}
	if r := e.with("GT_RUN", run).run("", args...); r.code != 0 || r.stderr != "" {
		t.Fatalf("call %s: %+v", run, r)
	}
}

// runsOf counts the log records by run.id.
func runsOf(recs []*logspb.LogRecord) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[otlptest.Attr(r, "run.id")]++
	}
	return out
}

// waitRuns waits until the fault server accepted every run of want (once
// or more), then checks each was accepted exactly once.
func waitRuns(t *testing.T, fs *otlptest.Fault, want []string, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := runsOf(fs.Accepted())
		missing := 0
		for _, w := range want {
			if got[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			for _, w := range want {
				if got[w] != 1 {
					t.Errorf("run %s accepted %d times", w, got[w])
				}
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d runs never accepted: got %v; requests %s", within, missing, len(want), got, reqText(fs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reqText(fs *otlptest.Fault) string {
	var b strings.Builder
	for _, r := range fs.Requests() {
		fmt.Fprintf(&b, "[%s %d %d rec %d B] ", r.At.Format("05.000"), r.Status, r.Records, r.Bytes)
	}
	return b.String()
}

// deadLetters reads e's dead-letter file: run id -> reason.
func deadLetters(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	f, err := os.Open(shipper.DeadLetterPath(filepath.Join(e.state, "shipper")))
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct{ Run, Reason string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out[l.Run] = l.Reason
	}
	return out
}

// waitDead waits until run is in the dead-letter file, and returns its reason.
func waitDead(t *testing.T, e *env, run string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if r, ok := deadLetters(t, e)[run]; ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not dead-lettered after %v (status: %s)", run, within, e.run("", "shipper", "status").stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fullStatus is `gtrun shipper status --json`.
func fullStatus(t *testing.T, e *env) shipper.Status {
	t.Helper()
	r := e.run("", "shipper", "status", "--json")
	var st shipper.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("shipper status: %+v", r)
	}
	return st
}

// Row 4: a backend answering 500 to any batch that holds one poison record
// delivers everything else, once; the poison record ends in the
// dead-letter file past its bound, counted, shown by status.
func TestFaultPoisonDoesNotBlock(t *testing.T) {
	e, fs := faultEnv(t)
	vm := backendtest.StartVM(t)
	e.set("GT_OTEL_METRICS_URL", vm.OTLPURL)
	fs.Poison("run-POISON", 500)
	fs.Default(otlptest.Rule{Status: 503}) // let them queue into one batch
	var good []string
	for i := 0; i < 6; i++ {
		if i == 3 {
			e.call(t, "run-POISON")
		}
		good = append(good, fmt.Sprintf("run-good-%d", i))
		e.call(t, good[i])
	}
	fs.Default(otlptest.Rule{})
	waitRuns(t, fs, good, 30*time.Second)
	if reason := waitDead(t, e, "run-POISON", 30*time.Second); reason != "failing" {
		t.Errorf("poison dead-lettered as %q, want failing", reason)
	}
	more := []string{"run-after-poison"}
	e.call(t, more[0])
	waitRuns(t, fs, append(good, more...), 20*time.Second)
	if ep := endpointOf(t, e, shipper.KindLogs); ep.DeadLettered != 1 {
		t.Fatalf("status does not show the dead letter: %+v", ep)
	}
	if out := e.run("", "shipper", "status").stdout; !strings.Contains(out, "dead-letter") {
		t.Errorf("status text does not name the dead-letter file:\n%s", out)
	}
	if r := e.run("", "flush", "--timeout", "20s"); r.code != 0 {
		t.Fatalf("flush after the dead letter: %+v", r)
	}
	vm.WaitValue(t, `sum(increase(gastown.telemetry.dropped.total{signal="logs",reason="failing"}[1h]))`, 1, 20*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h]))`, 8, 10*time.Second)
}

// Row 6, 400: the backend answers 503 while four records queue (one
// poison, three good), then 400 to any batch holding the poison: the
// three good ones are delivered, only the poison is dead-lettered.
func TestFault400SplitsTheBatch(t *testing.T) {
	e, fs := faultEnv(t)
	fs.Poison("run-POISON", 400)
	fs.Default(otlptest.Rule{Status: 503})
	good := []string{"run-good-0", "run-good-1", "run-good-2"}
	e.call(t, good[0])
	e.call(t, "run-POISON")
	e.call(t, good[1])
	e.call(t, good[2])
	fs.Default(otlptest.Rule{})
	waitRuns(t, fs, good, 30*time.Second)
	if reason := waitDead(t, e, "run-POISON", 20*time.Second); reason != "refused" {
		t.Errorf("poison dead-lettered as %q, want refused", reason)
	}
	if d := deadLetters(t, e); len(d) != 1 {
		t.Errorf("dead letters %v, want the poison alone", d)
	}
}

// Row 6, 413: a body over the backend's limit is split and its halves
// sent; only a record too big alone is dead-lettered.
func TestFault413SplitsTheBatch(t *testing.T) {
	e, fs := faultEnv(t)
	e.call(t, "run-size")
	waitRuns(t, fs, []string{"run-size"}, 20*time.Second)
	one := fs.Requests()[0].Bytes
	fs.Limit(2 * one) // two records pass, four do not
	fs.Default(otlptest.Rule{Status: 503})
	good := []string{"run-good-0", "run-good-1", "run-good-2", "run-good-3"}
	for _, g := range good[:2] {
		e.call(t, g)
	}
	e.call(t, "run-big", "sh", "-c", "exit 0", strings.Repeat("x", 3*one))
	for _, g := range good[2:] {
		e.call(t, g)
	}
	fs.Default(otlptest.Rule{})
	waitRuns(t, fs, good, 30*time.Second)
	if reason := waitDead(t, e, "run-big", 20*time.Second); reason != "refused" {
		t.Errorf("big record dead-lettered as %q, want refused", reason)
	}
	if d := deadLetters(t, e); len(d) != 1 {
		t.Errorf("dead letters %v, want the big one alone", d)
	}
}

// Row 5: a 200 with partial_success is not sent again; the refused count
// is in the status and the agent's log says so once.
func TestFaultPartialSuccessNotResent(t *testing.T) {
	e, fs := faultEnv(t)
	fs.Default(otlptest.Rule{Status: 503})
	runs := []string{"run-p0", "run-p1", "run-p2"}
	for _, r := range runs {
		e.call(t, r)
	}
	fs.Push(otlptest.Rule{Rejected: 1})
	fs.Default(otlptest.Rule{})
	if r := e.run("", "flush", "--timeout", "20s"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	got := runsOf(append(fs.Accepted(), fs.Rejected()...))
	for _, r := range runs {
		if got[r] != 1 {
			t.Errorf("run %s sent %d times (accepted or refused), want once: %v", r, got[r], reqText(fs))
		}
	}
	if len(fs.Rejected()) != 1 {
		t.Fatalf("the server refused %d records, want 1", len(fs.Rejected()))
	}
	st := fullStatus(t, e)
	if len(st.Endpoints) != 1 || st.Endpoints[0].Rejected != 1 {
		t.Errorf("status does not count the refused record: %+v", st.Endpoints)
	}
	log, _ := os.ReadFile(filepath.Join(e.state, "shipper", "log"))
	lines := 0
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "partial success") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("agent log names the partial success in %d lines, want 1:\n%s", lines, log)
	}
}

// Row 7: a 429 with Retry-After (seconds, or an HTTP date) is honoured:
// the next try comes no sooner; a long one is capped.
func TestFaultRetryAfterHonoured(t *testing.T) {
	for _, c := range []struct {
		name     string
		value    func() string
		cap      string
		min, max time.Duration
	}{
		{"seconds", func() string { return "2" }, "", 2 * time.Second, 10 * time.Second},
		// An HTTP date has whole seconds: 3 s from now is at least 2 s.
		{"date", func() string { return time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat) }, "", 2 * time.Second, 12 * time.Second},
		{"capped", func() string { return "3600" }, "1s", 900 * time.Millisecond, 10 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, fs := faultEnv(t)
			if c.cap != "" {
				e.set("GT_SHIPPER_MAX_RETRY_AFTER", c.cap)
			}
			fs.Push(otlptest.Rule{Status: 429, RetryAfter: c.value()})
			e.call(t, "run-throttled")
			waitRuns(t, fs, []string{"run-throttled"}, 30*time.Second)
			reqs := fs.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2: %s", len(reqs), reqText(fs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < c.min || gap > c.max {
				t.Fatalf("retried after %v, want between %v and %v", gap, c.min, c.max)
			}
		})
	}
}

// timedRun runs gtrun with args and reports its CPU time.
func (e *env) timedRun(t *testing.T, args ...string) (result, time.Duration) {
	t.Helper()
	cmd := exec.Command(gtrunBin, args...)
	cmd.Env = e.list()
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return result{code: cmd.ProcessState.ExitCode(), stdout: so.String(), stderr: se.String()}, cpu
}

// cpuTicks is a process's CPU time so far, in clock ticks (1/100 s).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var u, s int64
	fmt.Sscan(f[11], &u) // utime, field 14 of stat
	fmt.Sscan(f[12], &s) // stime, field 15
	return u + s
}

// requestsSince counts the requests the fault server answered since t0.
func requestsSince(fs *otlptest.Fault, t0 time.Time) int {
	n := 0
	for _, r := range fs.Requests() {
		if !r.At.Before(t0) {
			n++
		}
	}
	return n
}

// Row 3: a flush against a failing endpoint waits on the agent's backoff
// (one try now, then the schedule), with or without a running agent; the
// agent backing off costs no CPU, and its log gains a line, not a line
// per try.
func TestFaultFlushDoesNotSpin(t *testing.T) {
	e, fs := faultEnv(t)
	e.set("GT_SHIPPER_DEAD_AGE", "1h", "GT_SHIPPER_UNREACHABLE_AGE", "1h")
	fs.Default(otlptest.Rule{Status: 503})
	e.call(t, "run-spin")
	waitAgent(t, e) // else the flush may be the agent, and the call's exit
	t0 := time.Now()
	r, cpu := e.timedRun(t, "flush", "--timeout", "4s")
	if r.code != 1 || !strings.Contains(r.stdout, "NOT delivered") {
		t.Fatalf("flush of an undeliverable record: %+v", r)
	}
	// 0.5 s doubling: about 4 tries in 4 s, a few more for the flush's
	// own try and one at its start.
	if n := requestsSince(fs, t0); n > 8 {
		t.Errorf("a 4 s flush with a running agent made %d requests", n)
	}
	pid := e.shipperPID(t)
	c0, w0 := cpuTicks(t, pid), time.Now()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) { // a poll, not synchronisation: the agent runs meanwhile
		time.Sleep(100 * time.Millisecond)
	}
	if used := float64(cpuTicks(t, pid)-c0) / 100 / time.Since(w0).Seconds(); used > 0.02 {
		t.Errorf("agent backing off used %.1f%% of a core", used*100)
	}
	e.stopShipper()
	t1 := time.Now()
	r, cpu = e.timedRun(t, "flush", "--timeout", "4s")
	if r.code != 1 {
		t.Fatalf("flush with no agent: %+v", r)
	}
	if n := requestsSince(fs, t1); n > 8 || cpu > 500*time.Millisecond {
		t.Errorf("a 4 s flush with no agent made %d requests, used %v of CPU", n, cpu)
	}
	log, _ := os.ReadFile(filepath.Join(e.state, "shipper", "log"))
	if n := strings.Count(string(log), "\n"); n > 12 {
		t.Errorf("agent log has %d lines after 8 s of retries:\n%s", n, log)
	}
}

// waitAgent waits until an agent runs for e with its pid written.
func waitAgent(t *testing.T, e *env) {
	t.Helper()
	dir := filepath.Join(e.state, "shipper")
	deadline := time.Now().Add(10 * time.Second)
	for shipper.Running(dir) <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("no agent running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inOneMinute waits, when needed, so that about need of work fits in the
// current journal segment (a minute of wall clock).
func inOneMinute(t *testing.T, need time.Duration) {
	t.Helper()
	for time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)) < need {
		time.Sleep(200 * time.Millisecond) // waiting for the clock, not for a process
	}
}

// Row 8: the live segment cut to half under the agent, then more calls in
// the same minute: every intact frame is delivered once (none of the
// later ones lost behind the cut), and the damage is counted.
func TestFaultTruncatedSegmentResyncs(t *testing.T) {
	e, fs := faultEnv(t)
	inOneMinute(t, 40*time.Second)
	seg := filepath.Join(e.state, "journal", journal.SegmentName(time.Now()))
	var runs []string
	for i := 0; i < 20; i++ {
		runs = append(runs, fmt.Sprintf("run-before-%02d", i))
		e.call(t, runs[i])
	}
	waitRuns(t, fs, runs, 20*time.Second)
	if _, err := os.Stat(seg); err != nil {
		t.Fatalf("the calls did not share one segment: %v", err)
	}
	// Cut in the middle of the 11th frame (whatever the frames' sizes).
	c, err := journal.Open(filepath.Dir(seg)).ReadSegment(filepath.Base(seg), 0, 1<<20)
	if err != nil || len(c.Frames) != 20 {
		t.Fatalf("the segment holds %d frames (%v), want the 20 calls", len(c.Frames), err)
	}
	mid := c.Frames[10]
	if err := os.Truncate(seg, (mid.Off+mid.End)/2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		run := fmt.Sprintf("run-after-%02d", i)
		runs = append(runs, run)
		e.call(t, run)
	}
	waitRuns(t, fs, runs, 30*time.Second)
	if _, err := os.Stat(seg); err != nil {
		t.Fatalf("the minute ended during the test (%v): the cut segment was not the live one", err)
	}
	// The cut frame's remains, its header and half its payload, are one
	// torn frame of that many bytes.
	if st := fullStatus(t, e); st.Torn != 1 || st.Garbled != 0 || st.Damaged != (mid.End-mid.Off)/2 {
		t.Errorf("status after the cut: %d torn frame(s), %d unreadable region(s), %d damaged bytes; want 1 torn frame of %d bytes",
			st.Torn, st.Garbled, st.Damaged, (mid.End-mid.Off)/2)
	}
}

// Row 8: twenty frames zeroed before delivery are reported as what they
// are, an unreadable region of so many bytes, and the calls after them
// are delivered.
func TestFaultZeroedRegionCounted(t *testing.T) {
	e, fs := faultEnv(t)
	inOneMinute(t, 40*time.Second)
	e.call(t, "run-first")
	waitRuns(t, fs, []string{"run-first"}, 20*time.Second)
	e.stopShipper()
	seg := filepath.Join(e.state, "journal", journal.SegmentName(time.Now()))
	fi, _ := os.Stat(seg)
	// Twenty entries as calls write them, with no agent to start.
	j := journal.Open(filepath.Join(e.state, "journal"))
	for i := 0; i < 20; i++ {
		en := journal.Entry{Dest: journal.Dest{Logs: fs.URL + "/v1/logs"}, RunID: fmt.Sprintf("run-zeroed-%02d", i), Written: time.Now().UnixNano(),
			Records: []journal.Record{journal.FromEvent(event.Record{Name: "cmd.call", Attrs: []event.Attr{event.String("command", "sh")}})}}
		p, _ := en.Encode()
		if err := j.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	zeroed := int64(len(b)) - fi.Size()
	clear(b[fi.Size():])
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.call(t, "run-after")
	waitRuns(t, fs, []string{"run-first", "run-after"}, 20*time.Second)
	st := fullStatus(t, e)
	if st.Torn != 0 || st.Garbled != 1 || st.Damaged != zeroed {
		t.Errorf("status: %d torn, %d unreadable region(s), %d damaged bytes; want 0, 1, %d", st.Torn, st.Garbled, st.Damaged, zeroed)
	}
	if out := e.run("", "shipper", "status").stdout; !strings.Contains(out, "unreadable region") {
		t.Errorf("status text:\n%s", out)
	}
}

// Row 2: two agents on one host (two state directories) counting the same
// command: their series carry different service.instance.id, so the sum
// across them is exact, and each agent keeps its id across lifetimes.
func TestTwoAgentsOneHostSumExact(t *testing.T) {
	vm := backendtest.StartVM(t)
	a := newEnv(t).set("GT_OTEL_METRICS_URL", vm.OTLPURL)
	b := newEnv(t).set("GT_OTEL_METRICS_URL", vm.OTLPURL)
	// Interleaved, so both agents are up and sample at the same times.
	for i := 0; i < 50; i++ {
		if i%10 == 0 {
			a.call(t, "run-a")
		}
		b.call(t, "run-b")
	}
	for _, e := range []*env{a, b} {
		if r := e.run("", "flush"); r.code != 0 {
			t.Fatalf("flush: %+v", r)
		}
	}
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h]))`, 55, 20*time.Second)
	ids := vm.Query(t, `sum by (service.instance.id) (increase(gastown.cmd.calls.total[1h]))`)
	got := map[int]bool{}
	for _, s := range ids {
		got[int(s.Value+0.5)] = s.Labels["service.instance.id"] != ""
	}
	if len(ids) != 2 || !got[5] || !got[50] {
		t.Fatalf("per instance: %+v, want 5 and 50 under two ids", ids)
	}
	// A new lifetime of agent a: the same id, so still two series.
	a.stopShipper()
	a.call(t, "run-a")
	if r := a.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h]))`, 56, 20*time.Second)
	if n := vm.Query(t, `count(count by (service.instance.id) (gastown.cmd.calls.total))`); len(n) != 1 || n[0].Value != 2 {
		t.Fatalf("instances after a restart: %+v, want 2", n)
	}
}

// Row 9: the status shows one line per endpoint identity (URL and
// headers), a signal whose URL is invalid as disabled with why, and a
// flush with no endpoint at all says so.
func TestFaultStatusEndpoints(t *testing.T) {
	e, fs := faultEnv(t)
	e.with("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=a").call(t, "run-tenant-a")
	e.with("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=b").call(t, "run-tenant-b")
	waitRuns(t, fs, []string{"run-tenant-a", "run-tenant-b"}, 20*time.Second)
	st := fullStatus(t, e)
	if len(st.Endpoints) != 2 || st.Endpoints[0].HeaderID == st.Endpoints[1].HeaderID {
		t.Fatalf("two tenants of one URL: %+v", st.Endpoints)
	}
	out := e.run("", "shipper", "status").stdout
	if n := strings.Count(out, fs.URL+"/v1/logs (headers x-tenant"); n != 2 {
		t.Errorf("status shows %d lines for the two tenants:\n%s", n, out)
	}
	bad := e.with("GT_OTEL_LOGS_URL", "not-a-url").run("", "shipper", "status").stdout
	if !strings.Contains(bad, "logs:    disabled — invalid URL") || !strings.Contains(bad, "not-a-url") {
		t.Errorf("status with an invalid logs URL:\n%s", bad)
	}
	none := newEnv(t)
	r := none.run("", "flush")
	if r.code != 0 || !strings.Contains(r.stderr, "no endpoint is configured") || !strings.Contains(r.stderr, "GT_OTEL_LOGS_URL") {
		t.Errorf("flush with no endpoint: %+v", r)
	}
}

// Also noticed in issue 20: an agent whose journal holds records for an
// endpoint that is gone ends once they pass the dead-letter bound, instead
// of retrying forever and never going idle.
func TestFaultGoneEndpointAgentEnds(t *testing.T) {
	e := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs"),
		"GT_SHIPPER_DEAD_TRIES", "3", "GT_SHIPPER_UNREACHABLE_AGE", "1s", "GT_SHIPPER_IDLE", "2s")
	e.call(t, "run-gone")
	waitAgent(t, e)
	waitGone(t, e.shipperPID(t))
	if reason := deadLetters(t, e)["run-gone"]; reason != "unreachable" {
		t.Fatalf("record for a gone endpoint: dead-letter reason %q, want unreachable", reason)
	}
}

// endpointOf is e's one endpoint of kind in the status.
func endpointOf(t *testing.T, e *env, kind string) shipper.EndpointRep {
	t.Helper()
	var out []shipper.EndpointRep
	for _, ep := range fullStatus(t, e).Endpoints {
		if ep.Kind == kind {
			out = append(out, ep)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d %s endpoints in the status: %+v", len(out), kind, out)
	}
	return out[0]
}

// An endpoint that refuses everything with 500 is broken, not fed a poison
// record: past UnreachableAge its batches go whole to the dead-letter file
// (reason unreachable), not one record per bound, and the agent ends.
func TestFaultBrokenEndpointAgentEnds(t *testing.T) {
	e, fs := faultEnv(t)
	e.set("GT_SHIPPER_DEAD_AGE", "1h", "GT_SHIPPER_UNREACHABLE_AGE", "2s", "GT_SHIPPER_IDLE", "2s")
	fs.Default(otlptest.Rule{Status: 500})
	runs := []string{"run-broken-0", "run-broken-1", "run-broken-2", "run-broken-3"}
	for _, r := range runs {
		e.call(t, r)
	}
	waitAgent(t, e)
	waitGone(t, e.shipperPID(t))
	d := deadLetters(t, e)
	for _, r := range runs {
		if d[r] != "unreachable" {
			t.Errorf("%s: dead-letter reason %q, want unreachable (all: %v)", r, d[r], d)
		}
	}
}
