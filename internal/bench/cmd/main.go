// Command bench is `make bench`. In one run, interleaved, it measures the
// added wall time of a wrapped call (`gtrun /bin/true`) against bare
// `/bin/true` and against the floor (a minimal Go exec wrapper), with no
// backend, the backends up (VictoriaMetrics, VictoriaLogs, Jaeger), refusing
// and black-holed (a loopback listener that never answers); a bd-like call
// (the bd stand-in taking 220 ms) through the shim; peak RSS; the delivery
// latency (a call's exit → its record queryable in VictoriaLogs) with the
// agent warm and cold; and agent-log throughput on the real transcripts. It
// prints medians, p95s and ratios and marks results over the SPEC §6
// budgets; it asserts nothing (the machines are noisy).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

var (
	n       = flag.Int("n", 300, "iterations per scenario")
	mb      = flag.Int("mb", 100, "agent-log input size in MB")
	binDir  = flag.String("gtrun", "bin", "directory of gtrun and gtrun-shipper")
	srvDir  = flag.String("servers", ".bin", "directory of the server binaries")
	fixture = flag.String("fixtures", "internal/parse/testdata/transcripts", "transcript fixtures")
	repo    = flag.String("repo", ".", "repository root (for testdata/bd)")
)

func main() {
	flag.Parse()
	work, err := os.MkdirTemp("", "gtrun-bench-")
	must(err)
	defer os.RemoveAll(work)
	gtrun, _ := filepath.Abs(filepath.Join(*binDir, "gtrun"))
	vm := startServer(filepath.Join(*srvDir, "victoria-metrics"), work, "vm", "-search.latencyOffset=0s", "-retentionPeriod=100y")
	defer vm.stop()
	vl := startServer(filepath.Join(*srvDir, "victoria-logs"), work, "vl", "-retentionPeriod=100y")
	defer vl.stop()
	jaegerOTLP, stopJaeger := startJaeger(filepath.Join(*srvDir, "jaeger"), work)
	defer stopJaeger()
	hole, refused := blackHole(), refusedAddr()

	type scenario struct {
		name string
		env  []string
	}
	urls := func(logs, metrics, traces string) []string {
		return []string{"GT_OTEL_LOGS_URL=" + logs, "GT_OTEL_METRICS_URL=" + metrics, "GT_OTEL_TRACES_URL=" + traces}
	}
	scen := []scenario{
		{"no backend configured", nil},
		{"backends up (VM+VL+Jaeger)", urls(vl.url+"/insert/opentelemetry/v1/logs", vm.url+"/opentelemetry/api/v1/push", jaegerOTLP)},
		// The receiver's cost on the call (issue 19): the same, the child pointed at it.
		{"backends up, GTRUN_RECEIVER=1", append(urls(vl.url+"/insert/opentelemetry/v1/logs", vm.url+"/opentelemetry/api/v1/push", jaegerOTLP), "GTRUN_RECEIVER=1")},
		{"backend refusing connections", urls("http://"+refused+"/v1/logs", "http://"+refused+"/v1/metrics", "http://"+refused+"/v1/traces")},
		{"backend black-holed", urls("http://"+hole+"/v1/logs", "http://"+hole+"/v1/metrics", "http://"+hole+"/v1/traces")},
	}
	floor := buildFloor(work)
	envs := make([][]string, len(scen))
	defer func() { // the delivery agents these calls started
		for _, e := range append(envs, append(os.Environ(), "GTRUN_STATE_DIR="+filepath.Join(work, "state-latency"))) {
			stop := exec.Command(gtrun, "shipper", "stop")
			stop.Env = e
			stop.Run()
		}
	}()
	for i, s := range scen {
		state := filepath.Join(work, fmt.Sprintf("state-%d", i))
		envs[i] = append(append(os.Environ(), "GTRUN_STATE_DIR="+state, "GT_RUN=bench"), s.env...)
		timeRSS(envs[i], gtrun, "/bin/true") // start its delivery agent before measuring
	}
	fmt.Printf("gtrun overhead: `gtrun /bin/true` vs bare `/bin/true` and the floor, %d runs each, all interleaved\n\n", *n)
	bare, fl := make([]time.Duration, 0, *n), make([]time.Duration, 0, *n)
	wrapped := make([][]time.Duration, len(scen))
	var peak int64
	for i := 0; i < *n; i++ {
		bare = append(bare, timeRun(nil, "/bin/true"))
		fl = append(fl, timeRun(nil, floor, "/bin/true"))
		for k := range scen {
			d, rss := timeRSS(envs[k], gtrun, "/bin/true")
			wrapped[k] = append(wrapped[k], d)
			peak = max(peak, rss)
		}
	}
	b50, b95 := pct(bare, 50), pct(bare, 95)
	f50, f95 := pct(fl, 50)-b50, pct(fl, 95)-b95
	fmt.Printf("%-32s %10s %10s %10s %12s %s\n", "", "p50", "added p50", "added p95", "vs floor p50", "budget (added: ≤ floor+1 ms p50, ≤ floor+3 ms p95)")
	fmt.Printf("%-32s %10s\n", "bare /bin/true", ms(b50))
	fmt.Printf("%-32s %10s %10s %10s %12s (reference)\n", "floor: minimal Go exec wrapper", ms(pct(fl, 50)), ms(f50), ms(f95), "1.00x")
	for k, s := range scen {
		a50, a95 := pct(wrapped[k], 50)-b50, pct(wrapped[k], 95)-b95
		mark := "ok"
		if a50 > f50+time.Millisecond || a95 > f95+3*time.Millisecond {
			mark = "OVER"
		}
		fmt.Printf("%-32s %10s %10s %10s %11.2fx %s\n", s.name, ms(pct(wrapped[k], 50)), ms(a50), ms(a95),
			float64(pct(wrapped[k], 50))/float64(pct(fl, 50)), mark)
	}
	mark := "ok"
	if peak > 15<<10 {
		mark = "OVER"
	}
	fmt.Printf("\npeak RSS of a wrapped call: %.1f MB (budget ≤ 15 MB) %s\n", float64(peak)/1024, mark)

	bdLike(work, gtrun, envs[1])
	latency(work, gtrun, vl)
	agentLog(work, gtrun, vl)
}

// bdLike wraps the bd stand-in made to take 220 ms (a real `bd list`)
// through the shim, with and without output rules, against bare bd.
func bdLike(work, gtrun string, env []string) {
	shim := filepath.Join(work, "shim")
	must(os.MkdirAll(shim, 0o700))
	must(os.Symlink(gtrun, filepath.Join(shim, "bd")))
	real, _ := filepath.Abs(filepath.Join(*repo, "testdata", "bd"))
	env = append(append([]string(nil), env...), "BD_STANDIN_SLEEP=0.22", "PATH="+shim+":"+real+":"+os.Getenv("PATH"))
	bareEnv := append(append([]string(nil), env...), "PATH="+real+":"+os.Getenv("PATH"))
	const runs = 30
	fmt.Printf("\nbd-like call (the bd stand-in taking 220 ms) through the shim, %d runs, interleaved:\n", runs)
	for _, args := range [][]string{{"list"}, {"mol", "squash", "gt-wisp-1"}} {
		var b, w []time.Duration
		for i := 0; i < runs; i++ {
			b = append(b, timeRun(bareEnv, filepath.Join(real, "bd"), args...))
			w = append(w, timeRun(env, filepath.Join(shim, "bd"), args...))
		}
		rules := "no rule: the user's terminal itself"
		if args[0] == "mol" {
			rules = "a rule reads its output (mol.squash)"
		}
		ratio := float64(pct(w, 50)) / float64(pct(b, 50))
		mark := "ok"
		if ratio > 1.02 {
			mark = "OVER"
		}
		fmt.Printf("  bd %-22s bare %8s  wrapped %8s  wrapped/bare %.3f (budget ≤ 1.02) %s  [%s]\n",
			strings.Join(args, " "), ms(pct(b, 50)), ms(pct(w, 50)), ratio, mark, rules)
	}
}

// latency measures a wrapped call's exit → its record queryable in
// VictoriaLogs (polled every 10 ms, with VictoriaLogs' force_flush so the
// number is gtrun's, not VictoriaLogs' own in-memory buffering).
func latency(work, gtrun string, vl *server) {
	const runs = 20
	state := filepath.Join(work, "state-latency")
	env := append(os.Environ(), "GTRUN_STATE_DIR="+state, "GT_OTEL_LOGS_URL="+vl.url+"/insert/opentelemetry/v1/logs")
	fmt.Printf("\ndelivery latency (call exit → record queryable in VictoriaLogs), %d runs each:\n", runs)
	for _, warm := range []bool{true, false} {
		var ds []time.Duration
		for i := 0; i < runs; i++ {
			if !warm {
				cmd := exec.Command(gtrun, "shipper", "stop")
				cmd.Env = env
				cmd.Run()
			}
			run := fmt.Sprintf("latency-%t-%d-%d", warm, i, time.Now().UnixNano())
			e := append(env, "GT_RUN="+run)
			timeRun(e, gtrun, "/bin/true")
			end := time.Now()
			for !vl.has(run) {
				if time.Since(end) > 10*time.Second {
					fmt.Fprintf(os.Stderr, "bench: record %s never arrived\n", run)
					os.Exit(1)
				}
				time.Sleep(10 * time.Millisecond)
			}
			ds = append(ds, time.Since(end))
		}
		name, budget := "agent warm", time.Second
		if !warm {
			name, budget = "agent started by the call", 2*time.Second
		}
		mark := "ok"
		if pct(ds, 95) > budget {
			mark = "OVER"
		}
		fmt.Printf("  %-28s p50 %8s  p95 %8s  (budget p95 ≤ %v) %s\n", name, ms(pct(ds, 50)), ms(pct(ds, 95)), budget, mark)
	}
}

func agentLog(work, gtrun string, vl *server) {
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
	fmt.Printf("  %-8s %-44s %9s %9s %10s\n", "input", "", "seconds", "MB/s", "peak RSS")
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
		for _, exp := range []struct{ name, url string }{{"tail+parse (no endpoint)", ""}, {"tail+parse → journal (VictoriaLogs endpoint)", vl.url + "/insert/opentelemetry/v1/logs"}} {
			state := filepath.Join(work, fmt.Sprintf("al-%d-%t", size, exp.url != ""))
			env := append(os.Environ(), "GTRUN_STATE_DIR="+state, "CLAUDE_CONFIG_DIR="+root, "GOMAXPROCS=1", "GT_RUN=bench-agentlog")
			if exp.url != "" {
				env = append(env, "GT_OTEL_LOGS_URL="+exp.url)
			}
			d, rss := timeRSS(env, gtrun, "agent-log", "--session", "bench", "--work-dir", "/bench", "--once")
			mbs := float64(written) / (1 << 20)
			fmt.Printf("  %-8s %-44s %9.2f %9.1f %7.1f MB\n", fmt.Sprintf("%d MB", written>>20), exp.name, d.Seconds(), mbs/d.Seconds(), float64(rss)/1024)
			if exp.url != "" {
				fd, frss := timeRSS(env, gtrun, "flush", "--timeout", "10m")
				fmt.Printf("  %-8s %-44s %9.2f %9.1f %7.1f MB\n", "", "+ gtrun flush: the agent delivers it all", fd.Seconds(), mbs/fd.Seconds(), float64(frss)/1024)
				fmt.Printf("  %-8s %-44s %9.2f %9.1f\n", "", "= end to end, in VictoriaLogs", (d + fd).Seconds(), mbs/(d+fd).Seconds())
				stop := exec.Command(gtrun, "shipper", "stop")
				stop.Env = env
				stop.Run()
			}
		}
		os.Remove(path)
	}
	fmt.Println("  (budget: ≥ 100 MB/s on one core with export; peak RSS flat as the input grows)")
}

// buildFloor compiles a ten-line Go program that runs its argument, static
// like `make build`'s gtrun.
func buildFloor(work string) string {
	dir := filepath.Join(work, "floor")
	must(os.MkdirAll(dir, 0o700))
	src := "package main\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc main() {\n\tc := exec.Command(os.Args[1], os.Args[2:]...)\n\tc.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr\n\tc.Run()\n}\n"
	must(os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600))
	must(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module floor\n\ngo 1.21\n"), 0o600))
	bin := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
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
	if errb.Len() > 0 && filepath.Base(name) == "gtrun" && len(args) > 0 && args[0] == "/bin/true" {
		fmt.Fprintf(os.Stderr, "bench: gtrun wrote to stderr: %q\n", errb.String())
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

type server struct {
	url string
	cmd *exec.Cmd
}

func (s *server) stop() { s.cmd.Process.Kill(); s.cmd.Wait() }

// has reports whether VictoriaLogs can return a record of run.
func (s *server) has(run string) bool {
	http.Get(s.url + "/internal/force_flush")
	resp, err := http.PostForm(s.url+"/select/logsql/query", url.Values{"query": {`"run.id":="` + run + `"`}})
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	return sc.Scan() && len(bytes.TrimSpace(sc.Bytes())) > 0
}

func startServer(bin, work, name string, args ...string) *server {
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s missing: run `make backends`\n", bin)
		os.Exit(1)
	}
	addr := freeAddr()
	cmd := exec.Command(bin, append([]string{"-httpListenAddr=" + addr, "-storageDataPath=" + filepath.Join(work, name), "-loggerLevel=ERROR"}, args...)...)
	must(cmd.Start())
	s := &server{url: "http://" + addr, cmd: cmd}
	for i := 0; i < 300; i++ {
		if r, err := http.Get(s.url + "/health"); err == nil {
			r.Body.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: %s did not start\n", bin)
	os.Exit(1)
	return nil
}

func startJaeger(bin, work string) (string, func()) {
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s missing: run `make backends`\n", bin)
		os.Exit(1)
	}
	otlp, query := freeAddr(), freeAddr()
	cmd := exec.Command(bin, "--collector.otlp.http.host-port="+otlp, "--collector.otlp.grpc.host-port="+freeAddr(),
		"--collector.http-server.host-port="+freeAddr(), "--collector.grpc-server.host-port="+freeAddr(),
		"--query.http-server.host-port="+query, "--query.grpc-server.host-port="+freeAddr(),
		"--admin.http.host-port="+freeAddr(), "--log-level=error")
	must(cmd.Start())
	for i := 0; i < 600; i++ {
		if r, err := http.Get("http://" + query + "/api/services"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + otlp + "/v1/traces", func() { cmd.Process.Kill(); cmd.Wait() }
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().String()
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

func refusedAddr() string { return freeAddr() }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
