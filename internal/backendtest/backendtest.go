// Package backendtest starts the real VictoriaMetrics and VictoriaLogs
// servers (built into .bin/ by `make backends`) on free loopback ports with
// temporary data directories, and offers the flush, query and polling
// helpers end-to-end tests need. A missing binary fails the test with the
// command that builds it; it never skips.
//
// Facts about the servers that tests and gtrun rely on (checked by this
// package's tests):
//   - VictoriaLogs stores an OTLP log record with the body in _msg, the
//     timestamp in _time, every log attribute and resource attribute as a
//     field under its own (dotted) key, typed values as their text
//     ("exit_code":"3", "digest_created":"true"), severity in
//     severity_text/severity_number and the event name in event_name.
//     Resource attributes (plus event_name) form the _stream, so gtrun keeps
//     per-run values out of its resource.
//   - VictoriaMetrics keeps OTLP metric names with their dots
//     (gastown.bd.calls.total), turns data point and resource attributes
//     into labels, and a histogram into _bucket{le}, _count and _sum series.
package backendtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RepoRoot walks up from the working directory to go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	d, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("backendtest: go.mod not found above the working directory")
		}
		d = p
	}
}

// Binary returns the path of a server binary in .bin/, failing the test
// when it is missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), ".bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("backendtest: %s is missing: run `make backends` (scripts/backends.sh ensure) to build it", p)
	}
	return p
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type server struct {
	URL string
	cmd *exec.Cmd
}

func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("backendtest: %v", err)
	}
	return v
}

// start runs a server on a free loopback port until the test ends. It only
// returns errors (it may run on another goroutine than the test's).
func start(t testing.TB, bin string, args ...string) (*server, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
		all := append([]string{fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port), "-loggerLevel=WARN"}, args...)
		s.cmd = exec.Command(bin, all...)
		var log lockedBuffer
		s.cmd.Stdout, s.cmd.Stderr = &log, &log
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { s.cmd.Wait(); close(exited) }()
		if last = waitHealthy(s.URL, exited, &log); last == nil {
			t.Cleanup(func() {
				s.cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("%s log:\n%s", filepath.Base(bin), log.String())
				}
			})
			return s, nil
		}
		s.cmd.Process.Kill()
		<-exited
		last = fmt.Errorf("%s: %v", filepath.Base(bin), last)
	}
	return nil, last
}

// waitHealthy polls /health until 200, the process exits or 30 s pass.
func waitHealthy(url string, exited <-chan struct{}, log *lockedBuffer) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", log.String())
		default:
		}
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("did not answer /health within 30s: %s", log.String())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// VM is a running VictoriaMetrics.
type VM struct {
	URL     string
	OTLPURL string
}

// VL is a running VictoriaLogs.
type VL struct {
	URL     string
	OTLPURL string
}

func startVM(t testing.TB, bin string) (*VM, error) {
	s, err := start(t, bin, "-storageDataPath="+t.TempDir(),
		"-search.latencyOffset=0s", "-retentionPeriod=100y", "-search.disableCache")
	if err != nil {
		return nil, err
	}
	return &VM{URL: s.URL, OTLPURL: s.URL + "/opentelemetry/api/v1/push"}, nil
}

func startVL(t testing.TB, bin string) (*VL, error) {
	s, err := start(t, bin, "-storageDataPath="+t.TempDir(), "-retentionPeriod=100y")
	if err != nil {
		return nil, err
	}
	return &VL{URL: s.URL, OTLPURL: s.URL + "/insert/opentelemetry/v1/logs"}, nil
}

// StartVM starts VictoriaMetrics; it is killed when the test ends.
func StartVM(t testing.TB) *VM {
	t.Helper()
	vm, err := startVM(t, Binary(t, "victoria-metrics"))
	return must(t, vm, err)
}

// StartVL starts VictoriaLogs with a retention that keeps old transcripts.
func StartVL(t testing.TB) *VL {
	t.Helper()
	vl, err := startVL(t, Binary(t, "victoria-logs"))
	return must(t, vl, err)
}

// StartBoth starts both servers concurrently (failing on the test's own
// goroutine).
func StartBoth(t testing.TB) (*VM, *VL) {
	t.Helper()
	vmBin, vlBin := Binary(t, "victoria-metrics"), Binary(t, "victoria-logs")
	var vm *VM
	var vmErr error
	done := make(chan struct{})
	go func() { defer close(done); vm, vmErr = startVM(t, vmBin) }()
	vl, vlErr := startVL(t, vlBin)
	<-done
	must(t, vm, vmErr)
	return vm, must(t, vl, vlErr)
}

func flush(t testing.TB, base string) {
	t.Helper()
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatalf("backendtest: force_flush: %v", err)
	}
	resp.Body.Close()
}

// Flush makes recently ingested samples searchable.
func (v *VM) Flush(t testing.TB) { flush(t, v.URL) }

// Flush makes recently ingested records searchable.
func (v *VL) Flush(t testing.TB) { flush(t, v.URL) }

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL/MetricsQL query at now.
func (v *VM) Query(t testing.TB, promql string) []Sample {
	t.Helper()
	s, err := v.TryQuery(promql)
	if err != nil {
		t.Fatalf("backendtest: %v", err)
	}
	return s
}

// TryQuery is Query returning errors (for non-test callers).
func (v *VM) TryQuery(promql string) ([]Sample, error) {
	return v.query(url.Values{"query": {promql}, "nocache": {"1"}})
}

// TryQueryAt evaluates an instant query at time at.
func (v *VM) TryQueryAt(promql string, at time.Time) ([]Sample, error) {
	return v.query(url.Values{"query": {promql}, "nocache": {"1"}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}})
}

func (v *VM) query(form url.Values) ([]Sample, error) {
	promql := form.Get("query")
	resp, err := http.PostForm(v.URL+"/api/v1/query", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("query %q: HTTP %d: %s", promql, resp.StatusCode, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: %v", promql, err)
	}
	var out []Sample
	for _, e := range r.Data.Result {
		s, _ := e.Value[1].(string)
		f, _ := strconv.ParseFloat(s, 64)
		out = append(out, Sample{Labels: e.Metric, Value: f})
	}
	return out, nil
}

// Scalar returns the single value of a query, ok=false when it has none.
func (v *VM) Scalar(t testing.TB, promql string) (float64, bool) {
	t.Helper()
	s := v.Query(t, promql)
	if len(s) != 1 {
		return 0, false
	}
	return s[0].Value, true
}

// WaitValue polls (flush + query) until the query's single value equals
// want, failing with the last result at the deadline. A new series is
// searchable about a second after ingestion, hence polling.
func (v *VM) WaitValue(t testing.TB, promql string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last []Sample
	for {
		v.Flush(t)
		last = v.Query(t, promql)
		if len(last) == 1 && last[0].Value == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backendtest: %s = %v, want %v", promql, last, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Query runs a LogsQL query over all time and returns the records.
func (v *VL) Query(t testing.TB, logsql string) []map[string]string {
	t.Helper()
	recs, err := v.TryQuery(logsql)
	if err != nil {
		t.Fatalf("backendtest: %v", err)
	}
	return recs
}

// TryQuery is Query returning errors.
func (v *VL) TryQuery(logsql string) ([]map[string]string, error) {
	resp, err := http.PostForm(v.URL+"/select/logsql/query", url.Values{"query": {logsql}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("logsql %q: HTTP %d: %s", logsql, resp.StatusCode, b)
	}
	var out []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("logsql %q: %v", logsql, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// WaitCount polls until the query returns exactly want records, then
// checks once more a moment later that no extra record arrived.
func (v *VL) WaitCount(t testing.TB, logsql string, want int, within time.Duration) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v.Flush(t)
		recs := v.Query(t, logsql)
		if len(recs) == want {
			time.Sleep(300 * time.Millisecond)
			v.Flush(t)
			if again := v.Query(t, logsql); len(again) != want {
				t.Fatalf("backendtest: %s: %d records, then %d (want %d)", logsql, want, len(again), want)
			}
			return recs
		}
		if len(recs) > want || time.Now().After(deadline) {
			t.Fatalf("backendtest: %s: %d records, want %d:\n%s", logsql, len(recs), want, dump(recs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dump(recs []map[string]string) string {
	var b strings.Builder
	for i, r := range recs {
		if i == 20 {
			fmt.Fprintf(&b, "… %d more\n", len(recs)-20)
			break
		}
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// BlackHole returns an OTLP URL on a loopback listener that accepts
// connections and never answers.
func BlackHole(t testing.TB, path string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String() + path
}

// RefusedURL returns an OTLP URL on a loopback port nothing listens on.
func RefusedURL(t testing.TB, path string) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d%s", FreePort(t), path)
}

// lockedBuffer is a bytes.Buffer safe for a process's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
