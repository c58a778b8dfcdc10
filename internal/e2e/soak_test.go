package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/otlptest"
	"github.com/gastown/gtrun/internal/shipper"
)

// soakLength is how long the writers run: GTRUN_SOAK (`make soak`: 10m),
// else a compressed 24 s that keeps the whole test under a minute in
// `make test`.
func soakLength(t *testing.T) time.Duration {
	if v := os.Getenv("GTRUN_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GTRUN_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 24 * time.Second
}

// phase is one state of the misbehaving logs backend.
type phase struct {
	name  string
	rule  otlptest.Rule
	limit int
}

var logPhases = []phase{
	{name: "500", rule: otlptest.Rule{Status: 500}},
	{name: "429", rule: otlptest.Rule{Status: 429, RetryAfter: "1"}},
	{name: "400", rule: otlptest.Rule{Status: 400}},
	{name: "413", limit: 1500},
	{name: "partial", rule: otlptest.Rule{Rejected: 1}},
	{name: "down", rule: otlptest.Rule{Down: true}},
	{name: "up, slow", rule: otlptest.Rule{Trickle: 150 * time.Millisecond}},
}

// The metrics backend only ever fails as a whole (down, throttled,
// overloaded): no sample is refused, so the counters must come out exact.
var metricPhases = []otlptest.Rule{{Status: 503}, {Status: 429, RetryAfter: "1"}, {Down: true}, {}}

// soakCall is one call a writer made: its run id and the record it makes.
type soakCall struct{ run, name, dir string }

// TestSoak: four writers on two state directories (two agents) call at
// varying rates while the logs backend cycles through 500, 429, 400, 413,
// partial success, down and up (slowly answering), and the metrics backend through 503, 429,
// down and up. At the end every record is exactly once in VictoriaLogs,
// the dead-letter file or the partial-success refusals; the dead letters
// and refusals are counted by reason; the call counters are exact per
// agent and in sum; an agent backing off uses under 1 % of a core.
func TestSoak(t *testing.T) {
	length := soakLength(t)
	vm, vl := backendtest.StartBoth(t)
	fl, fm := otlptest.StartFault(t), otlptest.StartFault(t)
	fl.Forward("/v1/logs", vl.OTLPURL)
	fm.Forward("/v1/metrics", vm.OTLPURL)
	fl.Poison("soak-POISON", 400)
	envs := map[string]*env{}
	for _, dir := range []string{"A", "B"} {
		envs[dir] = newEnv(t).set("GT_OTEL_LOGS_URL", fl.URL+"/v1/logs", "GT_OTEL_METRICS_URL", fm.URL+"/v1/metrics",
			"GT_SHIPPER_DEAD_TRIES", "3", "GT_SHIPPER_DEAD_AGE", "2s", "GT_SHIPPER_UNREACHABLE_AGE", "1h")
	}
	calls := soakWriters(t, envs, fl, fm, length)
	for _, dir := range []string{"A", "B"} {
		calls = append(calls, soakBackoffCPU(t, envs[dir], fl, fm, dir))
	}
	fl.Default(otlptest.Rule{})
	fl.Limit(0)
	fm.Default(otlptest.Rule{})
	for round := 0; round < 2; round++ { // the second ships the drops the first counted
		for _, e := range envs {
			if r := e.run("", "flush", "--timeout", "60s"); r.code != 0 {
				t.Fatalf("final flush: %+v", r)
			}
		}
	}
	soakCheckRecords(t, envs, vl, fl, calls)
	soakCheckCounters(t, envs, vm, fl, calls)
	t.Logf("%d calls in %v; logs requests %d, metrics requests %d", len(calls), length, len(fl.Requests()), len(fm.Requests()))
}

// soakWriters runs the writers for length while the backends cycle.
func soakWriters(t *testing.T, envs map[string]*env, fl, fm *otlptest.Fault, length time.Duration) []soakCall {
	var mu sync.Mutex
	var calls []soakCall
	stop := time.Now().Add(length)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		dir := []string{"A", "B"}[w%2]
		wg.Add(1)
		go func(w int, e *env) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := 0; time.Now().Before(stop); i++ {
				c := soakCall{run: fmt.Sprintf("soak-%s-w%d-%04d", dir, w, i), name: "cmd.call", dir: dir}
				if i%13 == 7 {
					c.run = fmt.Sprintf("soak-POISON-%s-w%d-%04d", dir, w, i)
				}
				args := []string{"sh", "-c", "exit 0"}
				if i%3 == 0 {
					args, c.name = []string{"bd", "list"}, "bd.call"
				}
				if r := e.with("GT_RUN", c.run).run("", args...); r.code != 0 || r.stderr != "" {
					t.Errorf("call %s: %+v", c.run, r)
					return
				}
				mu.Lock()
				calls = append(calls, c)
				mu.Unlock()
				// Varying rates: writer w pauses up to (w+1)·60 ms.
				time.Sleep(time.Duration(rng.Int63n(int64(w+1) * int64(60*time.Millisecond))))
			}
		}(w, envs[dir])
	}
	step := length / time.Duration(len(logPhases))
	for i := 0; time.Now().Before(stop); i++ {
		p := logPhases[i%len(logPhases)]
		fl.Default(p.rule)
		fl.Limit(p.limit)
		fm.Default(metricPhases[i%len(metricPhases)])
		next := time.Now().Add(step)
		for time.Now().Before(next) && time.Now().Before(stop) {
			time.Sleep(50 * time.Millisecond) // the phase's length, not synchronisation
		}
	}
	wg.Wait()
	return calls
}

// soakBackoffCPU makes one call while both backends answer 503, and
// measures the agent's CPU over 5 s of backing off.
func soakBackoffCPU(t *testing.T, e *env, fl, fm *otlptest.Fault, dir string) soakCall {
	fl.Default(otlptest.Rule{Status: 503})
	fl.Limit(0)
	fm.Default(otlptest.Rule{Status: 503})
	c := soakCall{run: "soak-" + dir + "-backoff", name: "cmd.call", dir: dir}
	e.call(t, c.run)
	waitAgent(t, e)
	pid := e.shipperPID(t)
	c0, w0 := cpuTicks(t, pid), time.Now()
	for time.Since(w0) < 5*time.Second {
		time.Sleep(100 * time.Millisecond) // the measuring window, not synchronisation
	}
	used := float64(cpuTicks(t, pid)-c0) / 100 / time.Since(w0).Seconds()
	t.Logf("agent %s backing off: %.2f%% of a core", dir, used*100)
	if used >= 0.01 {
		t.Errorf("agent %s backing off used %.2f%% of a core", dir, used*100)
	}
	return c
}

// soakCheckRecords: every call's record exactly once in VictoriaLogs, a
// dead-letter file or the partial-success refusals; poison never in
// VictoriaLogs.
func soakCheckRecords(t *testing.T, envs map[string]*env, vl *backendtest.VL, fl *otlptest.Fault, calls []soakCall) {
	seen := map[string][]string{}
	vl.Flush(t)
	for _, r := range vl.Query(t, `"run.id":soak*`) {
		seen[r["run.id"]+"/"+r["_msg"]] = append(seen[r["run.id"]+"/"+r["_msg"]], "victorialogs")
	}
	for _, r := range fl.Rejected() {
		k := otlptest.Attr(r, "run.id") + "/" + r.Body.GetStringValue()
		seen[k] = append(seen[k], "rejected")
	}
	for dir, e := range envs {
		for _, l := range deadLines(t, e) {
			k := l.Run + "/" + l.Name
			seen[k] = append(seen[k], "dead-letter "+dir+" "+l.Reason)
		}
	}
	bad := 0
	for _, c := range calls {
		where := seen[c.run+"/"+c.name]
		poisonOK := !strings.Contains(c.run, "POISON") || (len(where) == 1 && strings.HasPrefix(where[0], "dead-letter "+c.dir))
		if len(where) != 1 || !poisonOK {
			if bad++; bad <= 20 {
				t.Errorf("%s %s: %v", c.run, c.name, where)
			}
		}
	}
	for k, where := range seen {
		if len(where) > 1 && bad < 40 {
			bad++
			t.Errorf("%s: %v", k, where)
		}
	}
}

// soakCheckCounters: the call counters exact per agent and in sum, and the
// drops counted by reason as the dead-letter files and refusals hold them.
func soakCheckCounters(t *testing.T, envs map[string]*env, vm *backendtest.VM, fl *otlptest.Fault, calls []soakCall) {
	per := map[string]map[string]int{"A": {}, "B": {}}
	for _, c := range calls {
		per[c.dir][c.name]++
	}
	total := len(calls)
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total[1h])) + sum(increase(gastown.bd.calls.total[1h]))`, float64(total), 30*time.Second)
	for dir, e := range envs {
		id := instanceOf(t, e)
		for name, metric := range map[string]string{"cmd.call": "gastown.cmd.calls.total", "bd.call": "gastown.bd.calls.total"} {
			q := fmt.Sprintf(`sum(increase(%s{service.instance.id=%q}[1h]))`, metric, id)
			vm.WaitValue(t, q, float64(per[dir][name]), 10*time.Second)
		}
	}
	reasons := map[string]int{"rejected": len(fl.Rejected())}
	for _, e := range envs {
		for _, l := range deadLines(t, e) {
			reasons[l.Reason]++
		}
	}
	for reason, n := range reasons {
		if n == 0 {
			continue
		}
		q := fmt.Sprintf(`sum(increase(gastown.telemetry.dropped.total{signal="logs",reason=%q}[1h]))`, reason)
		vm.WaitValue(t, q, float64(n), 20*time.Second)
	}
	t.Logf("dropped by reason: %v", reasons)
}

// deadLine is what the tests read of a dead-letter line.
type deadLine struct {
	Run, Reason, Name string
}

// deadLines reads e's dead-letter file.
func deadLines(t *testing.T, e *env) []deadLine {
	t.Helper()
	b, err := os.ReadFile(shipper.DeadLetterPath(filepath.Join(e.state, "shipper")))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d struct {
			Run, Reason string
			Record      struct {
				Name string `json:"n"`
			}
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", l, err)
		}
		out = append(out, deadLine{Run: d.Run, Reason: d.Reason, Name: d.Record.Name})
	}
	return out
}

// instanceOf is the service.instance.id of e's agent.
func instanceOf(t *testing.T, e *env) string {
	return shipper.InstanceID(filepath.Join(e.state, "shipper"))
}
