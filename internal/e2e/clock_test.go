package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/export"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/shipper"
)

// These tests drive the delivery agent's clock (Options.Clock, an injected
// clock: a test hook, no user setting), in this process, against the real
// VictoriaMetrics and VictoriaLogs: hours of simulated calls, outages and
// agent restarts take seconds.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// agentRig is a journal and an agent directory in a temp dir.
type agentRig struct {
	t      *testing.T
	j      *journal.Journal
	dir    string
	clock  *fakeClock
	log    *syncBuffer
	dest   journal.Dest
	cur    *shipper.Shipper
	done   chan error
	cancel context.CancelFunc
	opts   func(*shipper.Options)
}

func newAgentRig(t *testing.T, start time.Time, dest journal.Dest) *agentRig {
	root := t.TempDir()
	for _, d := range []string{"journal", "shipper"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	r := &agentRig{t: t, j: journal.Open(filepath.Join(root, "journal")), dir: filepath.Join(root, "shipper"),
		clock: &fakeClock{t: start}, log: &syncBuffer{}, dest: dest}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("agent log:\n%s", r.log.String())
		}
	})
	return r
}

// start runs an agent unless one runs.
func (r *agentRig) start() {
	if r.cur != nil {
		select {
		case <-r.done:
			r.cur = nil
		default:
			return
		}
	}
	o := shipper.Options{Journal: r.j, Dir: r.dir, Exporter: export.NewClient("test"), Clock: r.clock.Now,
		Interval: 10 * time.Second, Idle: 10 * time.Minute, Log: r.log}
	if r.opts != nil {
		r.opts(&o)
	}
	r.cur = shipper.New(o)
	r.done = make(chan error, 1)
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func(s *shipper.Shipper, done chan error) { done <- s.Run(ctx) }(r.cur, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for shipper.Running(r.dir) == 0 { // it holds its lock: requests reach it
		if time.Now().After(deadline) {
			r.t.Fatal("agent did not take its lock")
		}
		time.Sleep(time.Millisecond)
	}
}

// call appends one cmd.call record at the clock's time (what a wrapped
// call does) and makes sure an agent runs, as a call does.
func (r *agentRig) call(run string) { r.callCmd(run, "true") }

func (r *agentRig) callCmd(run, command string) {
	now := r.clock.Now()
	e := journal.Entry{Dest: r.dest, RunID: run, Written: now.UnixNano(), Records: []journal.Record{
		journal.FromEvent(event.Record{Name: "cmd.call", Time: now, Attrs: []event.Attr{
			event.String("command", command), event.Int("duration_ms", 1), event.Int("exit_code", 0)}})}}
	p, _ := e.Encode()
	if err := r.j.Append(p); err != nil {
		r.t.Fatal(err)
	}
	r.start()
}

// waitScanned waits until the running agent has read n frames.
func (r *agentRig) waitScanned(n int64) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.cur.Scanned() < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("agent read %d frames, want %d", r.cur.Scanned(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flush asks the running agent to deliver everything.
func (r *agentRig) flush(timeout time.Duration) {
	r.t.Helper()
	rep, asked, err := shipper.Ask(r.dir, shipper.Request{Op: "flush"}, timeout)
	if err != nil || !asked || !rep.OK {
		r.t.Fatalf("flush: asked=%v ok=%v err=%v %+v", asked, rep.OK, err, rep)
	}
}

// waitExit waits for the running agent to exit on its own (idle).
func (r *agentRig) waitExit() {
	r.t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Fatalf("agent: %v", err)
		}
		r.cur = nil
	case <-time.After(30 * time.Second):
		r.t.Fatal("agent did not exit after its idle period")
	}
}

func (r *agentRig) stop() {
	if r.cur == nil {
		return
	}
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.t.Error("agent did not stop")
	}
	r.cur = nil
}

// increaseAt evaluates sum(increase(metric[w])) at time at.
func increaseAt(t *testing.T, vm *backendtest.VM, metric string, w string, at time.Time) float64 {
	t.Helper()
	q := fmt.Sprintf(`sum(increase(%s[%s]))`, metric, w)
	s, err := vm.TryQueryAt(q, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) == 0 {
		return 0
	}
	return s[0].Value
}

// checkWindows compares increase() over several windows at many evaluation
// times with the number of calls in each window. A call counts in the
// sample of the first 10 s tick at or after it, so evaluation points within
// one interval after a call (or after a window start) would test the grid,
// not the counts: they are skipped.
func checkWindows(t *testing.T, vm *backendtest.VM, metric string, calls []time.Time, evals []time.Time) int {
	t.Helper()
	checked := 0
	near := func(x time.Time) bool {
		for _, c := range calls {
			if d := x.Sub(c); d >= -time.Second && d < 11*time.Second {
				return true
			}
		}
		return false
	}
	for _, w := range []struct {
		name string
		d    time.Duration
	}{{"10m", 10 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}} {
		for _, at := range evals {
			if near(at) || near(at.Add(-w.d)) {
				continue
			}
			want := 0
			for _, c := range calls {
				if c.After(at.Add(-w.d)) && !c.After(at) {
					want++
				}
			}
			vm.Flush(t)
			if got := increaseAt(t, vm, metric, w.name, at); got != float64(want) {
				t.Errorf("increase(%s[%s]) at %s = %v, want %d", metric, w.name, at.Format(time.TimeOnly), got, want)
			}
			checked++
		}
	}
	return checked
}

// Rare events: calls minutes to hours apart, the agent exiting after its
// idle period and starting again with the next call, so most calls meet a
// fresh agent lifetime. increase() over 10m, 1h, 6h and 1d windows equals
// the number of calls in each window (VictoriaMetrics reads 0 for samples
// 40 at −70 min and 50 at −10 min of a sparse series).
func TestSparseCountsExactAcrossAgentRestarts(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	base := time.Now().Add(-50 * time.Hour).Truncate(time.Hour).Add(7 * time.Second)
	r := newAgentRig(t, base, journal.Dest{Logs: vl.OTLPURL, Metrics: vm.OTLPURL})
	offsets := []time.Duration{0, 3 * time.Minute, 4*time.Minute + 20*time.Second, 50 * time.Minute,
		2 * time.Hour, 2*time.Hour + time.Minute, 5 * time.Hour, 9*time.Hour + 30*time.Minute,
		20 * time.Hour, 26 * time.Hour, 26*time.Hour + 30*time.Second, 40 * time.Hour}
	var calls []time.Time
	lifetimes := 0
	for i, off := range offsets {
		r.clock.Set(base.Add(off))
		if r.cur == nil {
			lifetimes++
		}
		r.call(fmt.Sprintf("sparse-%d", i))
		calls = append(calls, base.Add(off))
		r.flush(20 * time.Second)
		if i+1 == len(offsets) || offsets[i+1]-off > 10*time.Minute {
			// Quiet for longer than the idle period: the agent exits.
			r.clock.Set(base.Add(off + 11*time.Minute))
			r.waitExit()
		}
	}
	if lifetimes < 8 {
		t.Fatalf("only %d agent lifetimes", lifetimes)
	}
	vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":~"sparse-.*"`, len(calls), 20*time.Second)
	var evals []time.Time
	for _, c := range calls {
		for _, d := range []time.Duration{30 * time.Second, 5 * time.Minute, 9 * time.Minute, 45 * time.Minute, 3 * time.Hour} {
			evals = append(evals, c.Add(d))
		}
	}
	n := checkWindows(t, vm, `gastown.cmd.calls.total{command="true"}`, calls, evals)
	t.Logf("%d calls in %d agent lifetimes; %d windows checked", len(calls), lifetimes, n)

	// A rare event in a busy town: the agent stays up (a busy call every
	// 5 minutes) while the rare series sees 40 calls, then 10 more 70
	// minutes later: the very pattern VictoriaMetrics reads as 0 or 50
	// when the series is only sampled when it moves.
	start := base.Add(45 * time.Hour)
	var rare, busy []time.Time
	for m := 0; m <= 120; m += 5 {
		at := start.Add(time.Duration(m)*time.Minute + 2*time.Second)
		r.clock.Set(at)
		r.callCmd("busy", "busy")
		busy = append(busy, at)
		burst := 0
		switch m {
		case 0:
			burst = 40
		case 70:
			burst = 10
		}
		for i := 0; i < burst; i++ {
			r.clock.Set(at.Add(time.Duration(i+1) * 50 * time.Millisecond))
			r.callCmd("rare", "rare")
			rare = append(rare, r.clock.Now())
		}
		r.flush(20 * time.Second)
	}
	evals = nil
	for m := 1; m <= 125; m += 4 {
		evals = append(evals, start.Add(time.Duration(m)*time.Minute+30*time.Second))
	}
	n = checkWindows(t, vm, `gastown.cmd.calls.total{command="rare"}`, rare, evals)
	n += checkWindows(t, vm, `gastown.cmd.calls.total{command="busy"}`, busy, evals)
	t.Logf("rare and busy series in one lifetime: %d windows checked", n)
}

// A two-hour outage (simulated) with a call every five minutes: the agent
// keeps sampling on time while the backends refuse, and once they are back
// every record arrives once and every counter sample lands at its own time.
func TestSimulatedOutageDeliveredWithOriginalTimes(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	gl, gm := backendtest.NewGate(t, vl.OTLPURL), backendtest.NewGate(t, vm.OTLPURL)
	base := time.Now().Add(-30 * time.Hour).Truncate(time.Hour).Add(3 * time.Second)
	r := newAgentRig(t, base, journal.Dest{Logs: gl.URL(pathOf(vl.OTLPURL)), Metrics: gm.URL(pathOf(vm.OTLPURL))})
	var calls []time.Time
	for i := 0; i < 24; i++ {
		r.clock.Set(base.Add(time.Duration(i) * 5 * time.Minute))
		r.call(fmt.Sprintf("outage-%d", i))
		calls = append(calls, r.clock.Now())
		r.waitScanned(int64(i + 1))
	}
	r.clock.Set(base.Add(2 * time.Hour))
	gl.Pass()
	gm.Pass()
	r.flush(60 * time.Second)
	recs := vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":~"outage-.*"`, len(calls), 20*time.Second)
	assertUnique(t, recs)
	var evals []time.Time
	for m := 0; m <= 130; m += 7 {
		evals = append(evals, base.Add(time.Duration(m)*time.Minute+30*time.Second))
	}
	n := checkWindows(t, vm, "gastown.cmd.calls.total", calls, evals)
	t.Logf("%d calls over a 2 h outage; %d windows checked", len(calls), n)
}

func pathOf(u string) string {
	p, _ := url.Parse(u)
	return p.Path
}

// Past its bound the journal drops its oldest segments: one warning in the
// agent's log, a telemetry.dropped record and counter with the exact count,
// and the agent goes on delivering the rest.
func TestJournalBoundDropsOldest(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	gl, gm := backendtest.NewGate(t, vl.OTLPURL), backendtest.NewGate(t, vm.OTLPURL)
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	r := newAgentRig(t, base, journal.Dest{Logs: gl.URL(pathOf(vl.OTLPURL)), Metrics: gm.URL(pathOf(vm.OTLPURL))})
	r.opts = func(o *shipper.Options) { o.MaxBytes = 8 << 10 }
	wall := &fakeClock{t: base} // the journal's wall clock picks the segment
	r.j.Now = wall.Now
	// Ten minutes of calls, one segment a minute, ~1 KiB each: over 8 KiB.
	segs := 10
	for m := 0; m < segs; m++ {
		at := base.Add(time.Duration(m) * time.Minute)
		wall.Set(at)
		for i := 0; i < 4; i++ {
			r.clock.Set(at.Add(time.Duration(i) * time.Second))
			r.call(fmt.Sprintf("bound-%d-%d", m, i))
		}
	}
	wall.Set(time.Now())
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.log.String(), "journal over its bound") {
		if time.Now().After(deadline) {
			t.Fatalf("no drop warning; log:\n%s", r.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.clock.Set(base.Add(20 * time.Minute))
	r.call("bound-after") // the agent goes on
	gl.Pass()
	gm.Pass()
	r.flush(60 * time.Second)
	if n := strings.Count(r.log.String(), "journal over its bound"); n != 1 {
		t.Fatalf("%d drop warnings, want 1:\n%s", n, r.log.String())
	}
	vl.Flush(t)
	kept := len(vl.Query(t, `_msg:"cmd.call" AND "run.id":~"bound-.*"`))
	// One drop, or more when the agent was already dropping while calls
	// still came in: the counts add up either way.
	dropped := vl.Query(t, `_msg:"telemetry.dropped" AND signal:=logs`)
	if len(dropped) == 0 {
		t.Fatalf("no telemetry.dropped record")
	}
	lost := 0
	for _, d := range dropped {
		var n int
		fmt.Sscan(d["count"], &n)
		lost += n
	}
	if lost == 0 || kept+lost != segs*4+1 {
		t.Fatalf("kept %d + dropped %d != %d calls", kept, lost, segs*4+1)
	}
	vm.WaitValue(t, `sum(increase(gastown.telemetry.dropped.total{signal="logs"}[1d]))`, float64(lost), 20*time.Second)
	t.Logf("%d of %d records dropped past the bound, %d delivered", lost, segs*4+1, kept)
}

// Asking whether an agent runs holds the lock for a moment (Running,
// status, flush, every call): an agent starting at that moment still
// becomes the agent. Each start below races a probe that asks without
// pause.
func TestAgentStartsWhileProbed(t *testing.T) {
	r := newAgentRig(t, time.Now(), journal.Dest{})
	stop := make(chan struct{})
	probed := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				probed <- n
				return
			default:
				shipper.Running(r.dir)
				n++
			}
		}
	}()
	for i := 0; i < 30; i++ {
		r.start()
		r.cancel()
		if err := <-r.done; err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
		r.cur = nil
	}
	close(stop)
	if n := <-probed; n < 1000 {
		t.Fatalf("only %d probes: the race was not exercised", n)
	}
}
