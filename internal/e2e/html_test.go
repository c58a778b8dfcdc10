package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/logsq"
	"github.com/gastown/gtrun/internal/runview"
)

// The HTML view of a run (gtrun trace --html / --serve), loaded in real
// headless Chromium (Debian's chromium package, as .ci/run installs it).

func chromiumBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is required for the HTML view tests: apt-get install -y chromium (as .ci/run does)")
	return ""
}

// browsed is what Chromium made of a page.
type browsed struct {
	DOM     string   // the DOM after load (and after the virtual time budget)
	Console []string // every console message, uncaught exception and CSP violation
}

var consoleLine = regexp.MustCompile(`:CONSOLE[:(\]]`)

// browse runs headless Chromium on url. budget > 0 lets the page's timers
// and fetches run for that much virtual time before the DOM is taken.
// shot, when set, is a PNG screenshot of a width×height window.
func browse(t *testing.T, url string, budget time.Duration, shot string, width, height int) browsed {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-default-apps", "--no-default-browser-check", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	if budget > 0 {
		args = append(args, fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()))
	}
	if shot != "" {
		args = append(args, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", width, height))
	} else {
		args = append(args, "--dump-dom", "--window-size=1400,900")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumBin(t), append(args, url)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, se.String())
	}
	var b browsed
	b.DOM = so.String()
	for _, l := range strings.Split(se.String(), "\n") {
		if consoleLine.MatchString(l) {
			b.Console = append(b.Console, l)
		}
	}
	if shot == "" && !strings.Contains(b.DOM, "</html>") {
		t.Fatalf("chromium gave no DOM for %s:\n%s", url, se.String())
	}
	return b
}

var (
	domRecord  = regexp.MustCompile(`<div class="row k-[a-z-]+( error)?( point)?" data-record="(\d+)" data-name="([^"]+)" data-status="([a-z]+)"`)
	domTag     = regexp.MustCompile(`<div((?:\s+[a-zA-Z-]+(?:="[^"]*")?)*)\s*>|</div>`)
	domAttr    = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)
	domSelf    = regexp.MustCompile(`<html[^>]* data-selfcheck="([^"]*)"`)
	domSpanIDs = regexp.MustCompile(`<th>span_id</th><td>([0-9a-f]{16})</td>`)
)

// pageRecord is one record row as the DOM has it, with the names of the
// rows it is nested under (outermost first).
type pageRecord struct {
	Index   int
	Name    string
	Status  string
	Marked  bool // class error
	Parents []string
}

// records reads the record rows and their nesting from the DOM.
func records(t *testing.T, dom string) []pageRecord {
	t.Helper()
	type open struct {
		node bool
		name string // the name of the node's own row
	}
	var stack []*open
	var out []pageRecord
	for _, m := range domTag.FindAllStringSubmatch(dom, -1) {
		if m[0] == "</div>" {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		attrs := map[string]string{}
		for _, a := range domAttr.FindAllStringSubmatch(m[1], -1) {
			attrs[a[1]] = a[2]
		}
		cls := " " + attrs["class"] + " "
		o := &open{node: strings.HasPrefix(attrs["class"], "node")}
		if strings.Contains(cls, " row ") {
			name := attrs["data-name"]
			if name == "" {
				name = attrs["data-group"]
			}
			var parents []string
			owner := -1 // the node this row heads
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].node {
					owner = i
					break
				}
			}
			if owner >= 0 && stack[owner].name == "" {
				stack[owner].name = name
			}
			for i := 0; i < owner; i++ {
				if stack[i].node && stack[i].name != "" {
					parents = append(parents, stack[i].name)
				}
			}
			if idx, err := strconv.Atoi(attrs["data-record"]); err == nil {
				out = append(out, pageRecord{Index: idx, Name: name, Status: attrs["data-status"], Marked: strings.Contains(cls, " error "), Parents: parents})
			}
		}
		stack = append(stack, o)
	}
	if len(out) != len(domRecord.FindAllString(dom, -1)) {
		t.Fatalf("DOM scan found %d records, the row pattern %d", len(out), len(domRecord.FindAllString(dom, -1)))
	}
	return out
}

// checkPage checks what every HTML view must satisfy against the run's
// records in VictoriaLogs: no console message, the in-page self-check
// passed, every record once, failures marked.
func checkPage(t *testing.T, b browsed, vlRecs []map[string]string) []pageRecord {
	t.Helper()
	if len(b.Console) > 0 {
		t.Fatalf("the page logged to the console:\n%s", strings.Join(b.Console, "\n"))
	}
	if m := domSelf.FindStringSubmatch(b.DOM); m == nil || m[1] != "ok" {
		t.Fatalf("in-page self-check: %v", m)
	}
	recs := records(t, b.DOM)
	want, got := map[string]int{}, map[string]int{}
	wantErr := 0
	for _, r := range vlRecs {
		want[r["_msg"]]++
		if r["status"] == "error" {
			wantErr++
		}
	}
	seen := map[int]bool{}
	gotErr := 0
	for _, r := range recs {
		if seen[r.Index] {
			t.Fatalf("record %d twice in the DOM", r.Index)
		}
		seen[r.Index] = true
		got[r.Name]++
		if r.Status == "error" {
			gotErr++
			if !r.Marked {
				t.Errorf("failed %s (record %d) is not marked as an error", r.Name, r.Index)
			}
		} else if r.Marked {
			t.Errorf("%s (record %d) marked as an error", r.Name, r.Index)
		}
	}
	if len(recs) != len(vlRecs) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DOM has %d records %v, VictoriaLogs %d %v", len(recs), got, len(vlRecs), want)
	}
	if gotErr != wantErr {
		t.Fatalf("%d failed records in the DOM, %d in VictoriaLogs", gotErr, wantErr)
	}
	return recs
}

// demoRun runs a Gas Town scenario like scripts/demo.sh into run: calls
// before a tmux session, and inside it an agent over two turns (priced and
// unpriced usage) doing bd calls, a failing command and a failing bd call.
func demoRun(t *testing.T, vl *backendtest.VL, jg *backendtest.Jaeger, run string) []map[string]string {
	t.Helper()
	e := tmuxEnv(t, nil, vl)
	e.set("GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", run, "GT_WORK_BEAD", "gt-demo", "GT_WORK_RIG", "gastown",
		"GT_ROLE", "gastown/polecats/Toast", "PATH", filepath.Dir(gtrunBin)+":"+e.vars["PATH"])
	if r := e.run("", "bd", "create", "Fix login"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := e.run("", "emit", "sling", "bead=gt-demo", "target=gastown/polecats/Toast"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	script := strings.Join([]string{
		"gtrun emit agent.instantiate agent_type=claudecode role=polecat agent_name=Toast",
		"gtrun emit agent.event agent_type=claudecode event_type=user content='Fix the login bug (gt-demo)'",
		`gtrun emit agent.event agent_type=claudecode event_type=tool_use tool_name=Bash content='Bash {"command":"bd show gt-demo"}'`,
		"gtrun bd show gt-demo",
		"gtrun emit agent.usage agent_type=claudecode model=claude-sonnet-4-5 input_tokens=1200 output_tokens=450 cache_read_tokens=23806 cache_creation_tokens=3000 cost_usd=0.0421",
		"gtrun emit agent.event agent_type=claudecode event_type=user content='Run the tests, then close the bead'",
		"gtrun sh -c 'sleep 0.4; echo FAIL: TestLogin >&2; exit 2'",
		"gtrun bd mol squash --bogus",
		"gtrun bd close gt-demo",
		"gtrun emit agent.usage agent_type=claudecode model=claude-next-1 input_tokens=310 output_tokens=120 cache_read_tokens=24100 cache_creation_tokens=0 cost_unknown_model=true",
	}, "; ")
	if r := e.run("", "session", "start", "Toast", "--role", "polecat", "--", "sh", "-c", script); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	vl.WaitCount(t, `_msg:"session.stop" AND "run.id":="`+run+`"`, 1, 60*time.Second)
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	// 2 before the session (bd.call, sling: a bd create is one bd.call),
	// session.start and .stop, and 10 inside it.
	return vl.WaitCount(t, `"run.id":="`+run+`"`, 14, 30*time.Second)
}

func TestHTMLDemoRun(t *testing.T) {
	jg := backendtest.StartJaeger(t) // on the test's goroutine: it may fail the test
	vl := backendtest.StartVL(t)
	const run = "9d2c4b1a-7e3f-4a55-8c21-5f0e6d7c8b9a"
	vlRecs := demoRun(t, vl, jg, run)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	dir := t.TempDir()
	file := filepath.Join(dir, "demo.html")
	if r := e.run("", "trace", run, "--html", file); r.code != 0 || !strings.Contains(r.stdout, "wrote "+file+" (14 events)") {
		t.Fatalf("%+v", r)
	}
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// --html=- is the same page on stdout; the default name is in the cwd.
	if r := e.run("", "trace", run, "--html=-"); r.stdout != string(page) {
		t.Fatalf("--html=- differs from the file")
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") {
		t.Fatal("the page refers to the network")
	}

	b := browse(t, "file://"+file, 0, "", 0, 0)
	recs := checkPage(t, b, vlRecs)
	// Nesting: the session holds what ran in it; the agent its turns and
	// their events; the calls before the session are at the top.
	under := map[string]int{}
	for _, r := range recs {
		under[r.Name+" < "+strings.Join(r.Parents, " < ")]++
	}
	wantUnder := map[string]int{
		"bd.call < ": 1, "sling < ": 1, "session.start < ": 1,
		"session.stop < session.start": 1, "agent.instantiate < session.start": 1,
		"bd.call < session.start": 3, "cmd.call < session.start": 1,
		"agent.event < session.start < agent.instantiate < turn": 3,
		"agent.usage < session.start < agent.instantiate < turn": 2,
	}
	if fmt.Sprint(under) != fmt.Sprint(wantUnder) {
		t.Fatalf("nesting:\n got %v\nwant %v", under, wantUnder)
	}
	if n := strings.Count(b.DOM, `data-group="turn"`); n != 2 {
		t.Fatalf("%d turns, want 2", n)
	}
	// Attributes are in the DOM: the trace correlation of every record
	// that has it, the failure's message, the footer's cost.
	spans := 0
	for _, r := range vlRecs {
		if r["span_id"] != "" {
			spans++
			if !strings.Contains(b.DOM, "<th>span_id</th><td>"+r["span_id"]+"</td>") {
				t.Errorf("%s: span_id %s not in the DOM", r["_msg"], r["span_id"])
			}
		}
	}
	if spans < 5 || len(domSpanIDs.FindAllString(b.DOM, -1)) != spans {
		t.Errorf("%d records with span ids, %d in the DOM", spans, len(domSpanIDs.FindAllString(b.DOM, -1)))
	}
	for _, want := range []string{"unknown flag: --bogus", "<th>claudecode</th><td>1510</td><td>570</td><td>47906</td><td>3000</td>",
		"cost <b>$0.0421</b> for 1 of 2 responses", "no price for: <code>claude-next-1</code>", "trace <code>" + runview.TraceID(run) + "</code>"} {
		if !strings.Contains(b.DOM, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}

	// #KEY opens a record's attributes: the failed bd mol squash here (a
	// call some rule reads, so its own Error line is the record's error).
	m := regexp.MustCompile(`<div class="node" data-key="([^"]+)"[^>]*>\s*<div class="row k-bd error"`).FindStringSubmatch(b.DOM)
	if m == nil {
		t.Fatal("no failed bd.call node")
	}
	linked := "file://" + file + "#" + m[1]
	lb := browse(t, linked, 0, "", 0, 0)
	open := regexp.MustCompile(`data-key="` + regexp.QuoteMeta(m[1]) + `"[^>]*>\s*<div class="row k-bd error open"[^>]*>.*?</div>\s*<div class="attrs">(.*?)</div>`).FindStringSubmatch(lb.DOM)
	if len(lb.Console) > 0 || open == nil || !strings.Contains(open[1], "<th>error</th><td>Error: unknown flag: --bogus") {
		t.Fatalf("the linked record's attributes are not open: %v %v", lb.Console, open)
	}

	// The screenshot, with that record open: docs/run.png comes from here
	// (GTRUN_UPDATE_DOCS=1).
	shot := filepath.Join(dir, "run.png")
	rows := strings.Count(b.DOM, `<div class="row `)
	w, h := 1400, 275+25*rows+19*strings.Count(open[1], "<tr>")
	browse(t, linked, 0, shot, w, h)
	checkScreenshot(t, shot, w, h)
	if os.Getenv("GTRUN_UPDATE_DOCS") == "1" {
		png, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join(repo(t), "docs", "run.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("docs/run.png updated (%dx%d)", w, h)
	}
}

// checkScreenshot: the PNG has the window's size, is not blank, and shows
// the error colour.
func checkScreenshot(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("screenshot %v, want %dx%d", img.Bounds(), w, h)
	}
	colours := map[uint32]bool{}
	red := 0
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			colours[r<<16|g<<8|b] = true
			if r > 200 && g < 70 && b < 60 { // --err #d92d20
				red++
			}
		}
	}
	if len(colours) < 50 || red < 20 {
		t.Fatalf("screenshot looks wrong: %d colours, %d error-red pixels", len(colours), red)
	}
}

// A run that only failed: every record marked, the counts in the header.
func TestHTMLFailingRun(t *testing.T) {
	vl := backendtest.StartVL(t)
	const run = "fa11fa11-0000-4000-8000-000000000002"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", run)
	e.run("", "bd", "close", "gt-nope")
	e.run("", "bd", "show", "gt-nope")
	e.run("", "sh", "-c", "echo 'panic: <nil> & more' >&2; exit 3")
	e.run("", "emit", "done", "exit_type=ESCALATED", "status=error", "error=tests failed")
	e.run("", "flush")
	vlRecs := vl.WaitCount(t, `"run.id":="`+run+`"`, 4, 30*time.Second)
	dir := t.TempDir()
	cmd := exec.Command(gtrunBin, "trace", run, "--html")
	cmd.Dir, cmd.Env = dir, e.list()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	file := filepath.Join(dir, "gtrun-trace-"+run+".html")
	// `--html FILE.html` without a run: the last run, into FILE.html.
	cmd = exec.Command(gtrunBin, "trace", "--html", "named.html")
	cmd.Dir, cmd.Env = dir, e.list()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "wrote named.html (4 events)") {
		t.Fatalf("%v: %s", err, out)
	}
	a, _ := os.ReadFile(file)
	if n, _ := os.ReadFile(filepath.Join(dir, "named.html")); len(a) == 0 || !bytes.Equal(a, n) {
		t.Fatal("--html named.html differs from the default file")
	}
	b := browse(t, "file://"+file, 0, "", 0, 0)
	recs := checkPage(t, b, vlRecs)
	for _, r := range recs {
		if !r.Marked {
			t.Errorf("%s not marked", r.Name)
		}
	}
	if !strings.Contains(b.DOM, `<span class="errors"><b>4</b> errors</span>`) || !strings.Contains(b.DOM, "panic: &lt;nil&gt; &amp; more") {
		t.Fatalf("header or escaped error missing:\n%s", b.DOM)
	}
	if strings.Contains(b.DOM, `class="tokens"`) {
		t.Fatal("a token table for a run without usage")
	}
}

// gtrun trace --serve: a loopback page that follows the run; Ctrl-C stops.
func TestHTMLServeFollows(t *testing.T) {
	vl := backendtest.StartVL(t)
	const run = "5e4e5e4e-0000-4000-8000-000000000003"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", run)
	e.run("", "bd", "list")
	e.run("", "bd", "close", "gt-nope")
	e.run("", "flush")
	first := vl.WaitCount(t, `"run.id":="`+run+`"`, 2, 30*time.Second)

	if r := e.run("", "trace", run, "--serve", "--addr", "0.0.0.0:0"); r.code != 2 || !strings.Contains(r.stderr, "loopback") {
		t.Fatalf("a non-loopback --addr: %+v", r)
	}
	down := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/insert/opentelemetry/v1/logs"))
	if r := down.run("", "trace", run, "--serve"); r.code != 1 || !strings.Contains(r.stderr, "cannot reach VictoriaLogs") {
		t.Fatalf("--serve with VictoriaLogs down: %+v", r)
	}
	cmd := exec.Command(gtrunBin, "trace", run, "--serve")
	cmd.Env = e.list()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	urlRe := regexp.MustCompile(`serving run \S+ at (http://127\.0\.0\.1:\d+/)`)
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q", out.String())
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	checkPage(t, browse(t, url, 0, "", 0, 0), first)

	// The run goes on; the server re-reads it every 2s.
	e.run("", "bd", "create", "Later", "--silent")
	e.run("", "emit", "done", "exit_type=COMPLETED")
	e.run("", "flush")
	all := vl.WaitCount(t, `"run.id":="`+run+`"`, 4, 30*time.Second) // + bd.call, done
	waitLive(t, url+"run.json", len(all), 30*time.Second)
	checkPage(t, browse(t, url, 0, "", 0, 0), all)

	// Ctrl-C stops it.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("after Ctrl-C: %v: %s", waitErr, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--serve did not stop on Ctrl-C")
	}
}

// The page itself follows: loaded with the first records of a run, it
// fetches the run's JSON from its server and redraws with all of them.
// The server is runview.Live reading the real VictoriaLogs.
func TestHTMLLivePageRedraws(t *testing.T) {
	vl := backendtest.StartVL(t)
	const run = "11e11e11-0000-4000-8000-000000000004"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", run)
	e.run("", "bd", "list")
	e.run("", "bd", "create", "One", "--silent")
	e.run("", "bd", "close", "gt-nope")
	e.run("", "flush")
	vlRecs := vl.WaitCount(t, `"run.id":="`+run+`"`, 3, 30*time.Second)

	l := &runview.Live{ID: run, Every: time.Hour, Fetch: func(ctx context.Context) ([]map[string]string, error) {
		return logsq.Run(ctx, vl.URL, run)
	}}
	if err := l.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	early, err := logsq.Query(context.Background(), vl.URL, `"run.id":="`+run+`" AND _msg:"bd.call" AND subcommand:=list`, 0)
	if err != nil || len(early) != 1 {
		t.Fatalf("%v %v", early, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", l.Handler())
	mux.HandleFunc("/stale", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		runview.RenderHTML(w, runview.Build(run, early), runview.HTMLOptions{LiveURL: "run.json", LiveEvery: 500 * time.Millisecond})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	b := browse(t, "http://"+ln.Addr().String()+"/stale", 5*time.Second, "", 0, 0)
	checkPage(t, b, vlRecs)
	if !regexp.MustCompile(`<span id="live-status">live · 3 events · updated [0-9:]+</span>`).MatchString(b.DOM) {
		t.Fatalf("live status missing:\n%s", b.DOM)
	}
}

func waitLive(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last runview.LiveData
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			json.Unmarshal(body, &last)
			if last.Events == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d events, want %d (error %q)", url, last.Events, want, last.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
