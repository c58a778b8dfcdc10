// Command bench is `make bench`: the added wall time of a wrapped call
// against the bare command, in one run, with the backends up, refusing and
// black-holed (a loopback listener that accepts and never answers); gtrun's
// peak RSS; and agent-log throughput on the real transcripts repeated to
// over 100 MB. It prints medians, p95s and ratios; it asserts nothing (the
// machines are noisy) but marks results over the SPEC §6 budgets.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

var (
	n       = flag.Int("n", 200, "iterations per scenario")
	mb      = flag.Int("mb", 100, "agent-log input size in MB")
	gtrun   = flag.String("gtrun", "bin/gtrun", "gtrun binary")
	binDir  = flag.String("bin", ".bin", "directory of the server binaries")
	fixture = flag.String("fixtures", "internal/parse/testdata/transcripts", "transcript fixtures")
)

func main() {
	flag.Parse()
	work, err := os.MkdirTemp("", "gtrun-bench-")
	must(err)
	defer os.RemoveAll(work)
	vmURL, stopVM := startServer(filepath.Join(*binDir, "victoria-metrics"), work, "vm", "-search.latencyOffset=0s", "-retentionPeriod=100y")
	defer stopVM()
	vlURL, stopVL := startServer(filepath.Join(*binDir, "victoria-logs"), work, "vl", "-retentionPeriod=100y")
	defer stopVL()
	hole := blackHole()
	refused := refusedAddr()

	fmt.Printf("gtrun overhead: `gtrun /bin/true` vs bare `/bin/true`, %d runs each, interleaved\n\n", *n)
	fmt.Printf("%-34s %10s %10s %10s %10s %8s %s\n", "scenario", "bare p50", "wrap p50", "added p50", "added p95", "ratio", "budget")
	scen := []struct {
		name, logs, metrics string
		budget              time.Duration
	}{
		{"no backend configured", "", "", 3 * time.Millisecond},
		{"backends up (VictoriaMetrics+Logs)", vlURL + "/insert/opentelemetry/v1/logs", vmURL + "/opentelemetry/api/v1/push", 3 * time.Millisecond},
		{"backend refusing connections", "http://" + refused + "/v1/logs", "http://" + refused + "/v1/metrics", 5 * time.Millisecond},
		{"backend black-holed", "http://" + hole + "/v1/logs", "http://" + hole + "/v1/metrics", 300 * time.Millisecond},
	}
	// The floor: the smallest possible Go wrapper (exec the child, wait).
	// Process start-up on this machine bounds every Go wrapper from below.
	floor := buildFloor(work)
	var fb, fw []time.Duration
	for i := 0; i < *n; i++ {
		fb = append(fb, timeRun(nil, "/bin/true"))
		fw = append(fw, timeRun(nil, floor, "/bin/true"))
	}
	fmt.Printf("%-34s %10s %10s %10s %10s %7.1fx (reference, not gtrun)\n", "floor: minimal Go exec wrapper", ms(pct(fb, 50)), ms(pct(fw, 50)),
		ms(pct(fw, 50)-pct(fb, 50)), ms(pct(fw, 95)-pct(fb, 95)), float64(pct(fw, 50))/float64(pct(fb, 50)))
	var peak int64
	for _, s := range scen {
		state := filepath.Join(work, "state-"+strings.ReplaceAll(s.name, " ", "-"))
		env := append(os.Environ(), "GTRUN_STATE_DIR="+state, "GT_RUN=bench")
		if s.logs != "" {
			env = append(env, "GT_OTEL_LOGS_URL="+s.logs, "GT_OTEL_METRICS_URL="+s.metrics)
		}
		iters := *n
		if s.budget > 100*time.Millisecond {
			iters = min(*n, 20) // each wrapped call waits for the flush deadline
		}
		var bare, wrapped []time.Duration
		for i := 0; i < iters; i++ {
			bare = append(bare, timeRun(nil, "/bin/true"))
			d, rss := timeRSS(env, *gtrun, "/bin/true")
			wrapped = append(wrapped, d)
			peak = max(peak, rss)
			if s.budget > 100*time.Millisecond {
				os.RemoveAll(filepath.Join(state, "spool")) // keep each call's spool work the same
			}
		}
		bp, wp := pct(bare, 50), pct(wrapped, 50)
		added50 := wp - bp
		added95 := pct(wrapped, 95) - pct(bare, 95)
		mark := "ok"
		if added50 > s.budget {
			mark = "OVER"
		}
		fmt.Printf("%-34s %10s %10s %10s %10s %7.1fx ≤%v %s\n", s.name, ms(bp), ms(wp), ms(added50), ms(added95),
			float64(wp)/float64(bp), s.budget, mark)
	}
	mark := "ok"
	if peak > 30<<10 {
		mark = "OVER"
	}
	fmt.Printf("\npeak RSS of gtrun while wrapping: %.1f MB (budget ≤ 30 MB) %s\n", float64(peak)/1024, mark)

	agentLog(work, vlURL)
}

func agentLog(work, vlURL string) {
	root := filepath.Join(work, "claude")
	dir := filepath.Join(root, "projects", "-bench")
	must(os.MkdirAll(dir, 0o700))
	var src []byte
	for _, f := range []string{"claude/ccl_v2.0.55_a7da6a22_main.jsonl", "claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl", "claude/spotter_v2.1.38_short_one-msgid-5-lines.jsonl"} {
		b, err := os.ReadFile(filepath.Join(*fixture, f))
		must(err)
		src = append(src, b...)
	}
	fmt.Printf("\nagent-log throughput (GOMAXPROCS=1, the real Claude transcripts repeated):\n")
	fmt.Printf("%-12s %-28s %10s %10s %12s\n", "input", "export", "seconds", "MB/s", "peak RSS")
	for _, size := range []int{*mb / 4, *mb} {
		path := filepath.Join(dir, "session.jsonl")
		f, err := os.Create(path)
		must(err)
		var written int
		for written < size<<20 {
			f.Write(src)
			written += len(src)
		}
		f.Close()
		past := time.Now().Add(-time.Minute)
		os.Chtimes(path, past, past)
		for _, exp := range []struct{ name, url string }{{"none (tail+parse)", ""}, {"VictoriaLogs (real)", vlURL + "/insert/opentelemetry/v1/logs"}} {
			state := filepath.Join(work, fmt.Sprintf("al-%d-%t", size, exp.url != ""))
			env := append(os.Environ(), "GTRUN_STATE_DIR="+state, "CLAUDE_CONFIG_DIR="+root, "GOMAXPROCS=1", "GT_RUN=bench-agentlog")
			if exp.url != "" {
				env = append(env, "GT_OTEL_LOGS_URL="+exp.url, "GT_OTEL_FLUSH_TIMEOUT=30s")
			}
			start := time.Now()
			d, rss := timeRSS(env, *gtrun, "agent-log", "--session", "bench", "--work-dir", "/bench", "--once")
			_ = start
			fmt.Printf("%-12s %-28s %10.2f %10.1f %9.1f MB\n", fmt.Sprintf("%d MB", written>>20), exp.name, d.Seconds(),
				float64(written)/(1<<20)/d.Seconds(), float64(rss)/1024)
		}
		os.Remove(path)
	}
	fmt.Println("(budget: ≥ 50 MB/s on one core; peak RSS flat as the input grows)")
}

// buildFloor compiles a ten-line Go program that runs its argument.
func buildFloor(work string) string {
	dir := filepath.Join(work, "floor")
	must(os.MkdirAll(dir, 0o700))
	src := "package main\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc main() {\n\tc := exec.Command(os.Args[1], os.Args[2:]...)\n\tc.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr\n\tc.Run()\n}\n"
	must(os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600))
	must(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module floor\n\ngo 1.21\n"), 0o600))
	bin := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: building the floor wrapper: %v %s\n", err, out)
		os.Exit(1)
	}
	return bin
}

func timeRun(env []string, name string, args ...string) time.Duration {
	d, _ := timeRSS(env, name, args...)
	return d
}

// timeRSS runs a command and returns its wall time and peak RSS (KB).
func timeRSS(env []string, name string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s %v: %v %s\n", name, args, err, errb.String())
		os.Exit(1)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func startServer(bin, work, name string, args ...string) (string, func()) {
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s missing: run `make backends`\n", bin)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"-httpListenAddr=" + addr, "-storageDataPath=" + filepath.Join(work, name), "-loggerLevel=ERROR"}, args...)...)
	must(cmd.Start())
	url := "http://" + addr
	for i := 0; i < 300; i++ {
		if r, err := http.Get(url + "/health"); err == nil {
			r.Body.Close()
			return url, func() { cmd.Process.Kill(); cmd.Wait() }
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: %s did not start\n", bin)
	os.Exit(1)
	return "", nil
}

func blackHole() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accepted, never read, never answered
		}
	}()
	return l.Addr().String()
}

func refusedAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
