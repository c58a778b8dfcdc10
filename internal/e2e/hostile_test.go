package e2e

// Issue 21: hostile data stays harmless. Records carry what agents and
// commands say; read back, none of it may drive the operator's terminal.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// Escape sequences as the issue found them: a pane title (OSC 0), a
// screen wipe, a clipboard write (OSC 52), a CR hiding what precedes it.
const (
	escTitle = "a\x1b]0;PWNED\x07b"
	escWipe  = "\x1b[2J"
	escClip  = "\x1b]52;c;cHduZWQ=\x07"
	escCR    = "visible\rHIDDEN"
)

// hostileRun records one run whose every source of strings holds escape
// sequences: argv, an emit attribute, GT_RUN, GT_WORK_BEAD, GT_ROLE and
// an error line.
func hostileRun(t *testing.T, e *env, run string) {
	t.Helper()
	e.set("GT_RUN", run, "GT_WORK_BEAD", "gt-"+escTitle, "GT_ROLE", "pole"+escClip)
	e.run("", "echo", escTitle, escWipe, escClip, escCR)
	e.run("", "emit", "sling", "bead="+escWipe+"x", "target="+escClip)
	e.run("", "sh", "-c", "echo 'Error: "+escTitle+"' >&2; exit 1")
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
}

// noControls fails when out holds a byte a terminal acts on (C0 but tab
// and line feed, DEL).
func noControls(t *testing.T, what, out string) {
	t.Helper()
	for i := 0; i < len(out); i++ {
		if c := out[i]; c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
			t.Errorf("%s: control byte %q at %d:\n%q", what, c, i, out)
			return
		}
	}
}

// Every read-back command, on bytes: trace, runs, cost --by bead|role,
// and a backend's error body in shipper status.
func TestReadBackEscapesControls(t *testing.T) {
	_, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	run := "esc1-" + escTitle
	hostileRun(t, e, run)
	vl.WaitCount(t, `_msg:"sling"`, 1, 20*time.Second)
	vl.WaitCount(t, `_msg:"cmd.call"`, 2, 20*time.Second)
	for _, args := range [][]string{{"trace", run, "--width", "300"}, {"runs", "--width", "300"},
		{"cost", "--by", "bead"}, {"cost", "--by", "role"}, {"cost", "--by", "run"}} {
		r := e.run("", args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		noControls(t, strings.Join(args, " "), r.stdout+r.stderr)
		if !strings.Contains(r.stdout, `\x1b`) {
			t.Errorf("%v: the escape is not shown visibly:\n%s", args, r.stdout)
		}
	}
	// --json keeps the original value.
	if r := e.run("", "trace", run, "--json"); !strings.Contains(r.stdout, `a\u001b]0;PWNED\u0007b`) {
		t.Errorf("trace --json lost the original value:\n%s", r.stdout)
	}

}

// A backend (or a proxy in front of it) answering with escapes in its
// error body: shipper status shows the body, terminal-safe.
func TestShipperStatusEscapesBackendBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "bad "+escTitle+escWipe+escClip, http.StatusBadRequest)
	}))
	defer srv.Close()
	e := newEnv(t).set("GT_OTEL_LOGS_URL", srv.URL+"/insert/opentelemetry/v1/logs", "GT_RUN", "esc3")
	e.run("", "true")
	e.run("", "flush")
	r := e.run("", "shipper", "status")
	if !strings.Contains(r.stdout, "last error") {
		t.Fatalf("no error recorded: %+v", r)
	}
	noControls(t, "shipper status", r.stdout+r.stderr)
}

// The same run read back in a real tmux pane: the pane's title, tmux's
// paste buffers (OSC 52 with set-clipboard on) and the header lines stay.
func TestReadBackInTmuxPane(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required: install tmux")
	}
	_, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	hostileRun(t, e, "esc2")
	vl.WaitCount(t, `_msg:"sling"`, 1, 20*time.Second)
	vl.WaitCount(t, `_msg:"cmd.call"`, 2, 20*time.Second)

	sock := filepath.Join(t.TempDir(), "tmux.sock")
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g set-clipboard on\nset -g allow-rename on\nset -g history-limit 0\n"), 0o644)
	tm := func(args ...string) string {
		t.Helper()
		c := exec.Command("tmux", append([]string{"-S", sock, "-f", conf}, args...)...)
		c.Env = append(e.list(), "TERM=xterm-256color")
		out, err := c.CombinedOutput()
		if err != nil && args[0] != "list-buffers" {
			t.Fatalf("tmux %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	// The pane waits for a line before reading back, so that the title
	// is taken before any output; cat then keeps the pane open.
	script := "read x; " + gtrunBin + " trace esc2 --width 150; " + gtrunBin + " runs --width 150; " +
		gtrunBin + " cost --by bead; echo __DONE__; exec cat"
	tm("new-session", "-d", "-s", "h", "-x", "160", "-y", "60", "sh", "-c", script)
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	tm("select-pane", "-t", "h", "-T", "before")
	title := tm("display-message", "-p", "-t", "h", "#{pane_title}")
	tm("send-keys", "-t", "h", "Enter")
	var screen string
	for deadline := time.Now().Add(30 * time.Second); ; {
		screen = tm("capture-pane", "-p", "-t", "h")
		if strings.Contains(screen, "__DONE__") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read-back did not finish:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond) // polling the pane, with a deadline
	}
	if got := tm("display-message", "-p", "-t", "h", "#{pane_title}"); got != title {
		t.Errorf("pane title changed: %q → %q", title, got)
	}
	if b := tm("list-buffers"); strings.TrimSpace(b) != "" {
		t.Errorf("a record wrote tmux's buffers: %q", b)
	}
	if !strings.Contains(screen, "run esc2") || !strings.Contains(screen, "visible\\rHIDDEN") {
		t.Errorf("the header or the CR'd text is gone from the pane:\n%s", screen)
	}
}

// One --since parser for the read-back commands: positive durations with
// d and w, RFC3339 times; anything else exit 2 with an example.
func TestSinceParsedOnce(t *testing.T) {
	_, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "since-1")
	e.run("", "true")
	e.run("", "flush")
	vl.WaitCount(t, `"run.id":="since-1"`, 1, 20*time.Second)
	for _, args := range [][]string{{"runs", "--since", "-5h"}, {"runs", "--since", "-1s"}, {"cost", "--since", "-1h"},
		{"runs", "--since", "0"}, {"cost", "--since", "yesterday"}, {"runs", "--since", "2099-01-01T00:00:00Z"}} {
		r := e.run("", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "7d") || r.stdout != "" {
			t.Errorf("%v: want exit 2 with an example: %+v", args, r)
		}
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, args := range [][]string{{"runs", "--since", "7d"}, {"runs", "--since", "1w"}, {"runs", "--since", past},
		{"cost", "--by", "run", "--since", "2w"}, {"cost", "--by", "run", "--since", past}} {
		if r := e.run("", args...); r.code != 0 || !strings.Contains(r.stdout, "since-1") {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// Issue 21 item 3: ten 100 KB arguments make a bounded args field in
// VictoriaLogs and a bounded span tag in Jaeger; GT_LOG_ARGS_LIMIT sets
// the bound; an emit attribute of 100 KB is bounded too.
func TestArgsBounded(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	vm, vl := backendtest.StartBoth(t)
	run := "5f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", run)
	big := strings.Repeat("é", 50_000) // 100 KB of 2-byte runes
	args := []string{"true"}
	for i := 0; i < 10; i++ {
		args = append(args, big)
	}
	e.run("", args...)
	e.set("GT_LOG_ARGS_LIMIT", "100")
	e.run("", "echo", "short", big)
	delete(e.vars, "GT_LOG_ARGS_LIMIT")
	e.run("", "emit", "mail", "operation=send", "msg.body="+big)
	e.run("", "flush")
	recs := vl.WaitCount(t, `"run.id":="`+run+`"`, 3, 30*time.Second)
	for _, r := range recs {
		switch {
		case r["command"] == "true" && (len(r["args"]) > 4096+3 || !strings.HasSuffix(r["args"], "…")):
			t.Errorf("args of the 1 MB call: %d bytes", len(r["args"]))
		case r["command"] == "echo" && (len(r["args"]) > 103 || !strings.HasPrefix(r["args"], "short é")):
			t.Errorf("args under GT_LOG_ARGS_LIMIT=100: %d bytes %q", len(r["args"]), r["args"])
		case r["_msg"] == "mail" && len(r["msg.body"]) > 16<<10+3:
			t.Errorf("emit attribute: %d bytes", len(r["msg.body"]))
		}
	}
	spans := jg.WaitSpans(t, strings.ReplaceAll(run, "-", ""), 2, 30*time.Second)
	for _, s := range spans {
		for _, tag := range s.Tags {
			if v := fmt.Sprint(tag.Value); len(v) > 16<<10+3 {
				t.Errorf("span %s tag %s: %d bytes", s.OperationName, tag.Key, len(v))
			}
		}
	}
}

// tmpfsStateDir mounts a tmpfs (root only) for a state directory: full
// (filled to the last block) or read-only.
func tmpfsStateDir(t *testing.T, opts string, fill bool) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("mounting a full or read-only file system needs root: run the suite as root (as .ci/run does)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	if fill {
		os.MkdirAll(filepath.Join(mnt, "st"), 0o700)
		f, _ := os.Create(filepath.Join(mnt, "fill"))
		for {
			if _, err := f.Write(make([]byte, 4096)); err != nil {
				break
			}
		}
		f.Close()
	}
	return filepath.Join(mnt, "st")
}

// Issue 21 item 4: with the state directory full or read-only, five calls
// print at most one warning line, leave no empty file, and keep the
// child's exit status and bytes.
func TestUnusableStateDirQuiet(t *testing.T) {
	for _, c := range []struct {
		name, opts string
		fill       bool
	}{{"full", "size=16k", true}, {"read-only", "ro,size=16k", false}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.set("GTRUN_STATE_DIR", tmpfsStateDir(t, c.opts, c.fill), "XDG_RUNTIME_DIR", t.TempDir(),
				"GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/insert/opentelemetry/v1/logs"))
			e.state = e.vars["GTRUN_STATE_DIR"]
			lines := 0
			for i := 0; i < 5; i++ {
				r := e.run("", "sh", "-c", "printf 'out\\nbytes'; printf err >&2; exit 3")
				if r.code != 3 || r.stdout != "out\nbytes" || !strings.HasPrefix(r.stderr, "err") {
					t.Fatalf("call %d: %+v", i, r)
				}
				lines += strings.Count(strings.TrimPrefix(r.stderr, "err"), "\n")
			}
			if lines > 1 {
				t.Errorf("%d warning lines in 5 calls, want at most 1", lines)
			}
			filepath.WalkDir(filepath.Dir(e.state), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() && filepath.Base(p) != "fill" {
					if fi, _ := d.Info(); fi != nil && fi.Size() == 0 {
						t.Errorf("empty file left: %s", p)
					}
				}
				return nil
			})
		})
	}
}

// Issue 21 item 3: near ARG_MAX, a command that runs bare runs under
// gtrun too. The arguments are sized (by a search with /bin/true) so that
// gtrun itself starts with them but the child does not fit with the
// variables gtrun adds: gtrun runs it with the user's environment and
// records the call with a note.
func TestNearArgMaxRunsWithUserEnv(t *testing.T) {
	_, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "argmax-1")
	fill := func(n int) []string { // n bytes in 64 KiB arguments
		var a []string
		for n > 0 {
			k := min(n, 64<<10)
			a = append(a, strings.Repeat("x", k))
			n -= k
		}
		return a
	}
	// gtrun starts with n bytes of arguments (the search's calls go to a
	// run id of the same length, argmax-0: the environment's size counts).
	search := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "argmax-0")
	fits := func(n int) bool {
		c := exec.Command(gtrunBin, append([]string{"true"}, fill(n)...)...)
		c.Env = search.list()
		err := c.Run()
		_, exited := err.(*exec.ExitError)
		return err == nil || exited
	}
	lo, hi := 0, 4<<20 // fits(lo), !fits(hi)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	r := e.run("", append([]string{"true"}, fill(lo)...)...)
	if r.code != 0 {
		t.Fatalf("gtrun true with %d bytes of arguments: %+v", lo, r)
	}
	e.run("", "flush")
	recs := vl.WaitCount(t, `"run.id":="argmax-1" AND _msg:"cmd.call"`, 1, 30*time.Second)
	if !strings.Contains(recs[0]["note"], "E2BIG") || recs[0]["exit_code"] != "0" {
		t.Errorf("the call's record: note %q exit %s", recs[0]["note"], recs[0]["exit_code"])
	}
}

// Issue 21 item 3: trace --html of a 10,000-event run stays under 100 MB
// of memory. The records go into the real VictoriaLogs through its JSON
// lines API, as gtrun writes them: 10,000 calls with 4 KB of arguments
// (the GT_LOG_ARGS_LIMIT cut), 25 of them with 200 KB (recorded before args
// were capped).
func TestHTMLBigRunBounded(t *testing.T) {
	_, vl := backendtest.StartBoth(t)
	run := "html-big-1"
	var body bytes.Buffer
	start := time.Now().Add(-time.Hour).UTC()
	enc := json.NewEncoder(&body)
	for i := 0; i < 10000; i++ {
		args := strings.Repeat("a", 4096)
		if i%400 == 0 {
			args = strings.Repeat("b", 200<<10) // VictoriaLogs takes JSON lines up to 256 KB
		}
		enc.Encode(map[string]string{"_msg": "cmd.call", "_time": start.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano),
			"run.id": run, "command": "echo", "args": args, "duration_ms": "1", "exit_code": "0", "status": "ok", "service.name": "gtrun"})
	}
	resp, err := http.Post(vl.URL+"/insert/jsonline?_stream_fields=service.name&_msg_field=_msg&_time_field=_time", "application/stream+json", &body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", err, resp)
	}
	resp.Body.Close()
	vl.WaitCount(t, `"run.id":="`+run+`" | stats count() n | filter n:=10000`, 1, 60*time.Second)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	page := filepath.Join(t.TempDir(), "big.html")
	// Measured by /usr/bin/time, gtrun's parent: a child's max RSS
	// counts from its parent's at fork (the test process's, here).
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Fatal("/usr/bin/time is required to measure gtrun's memory: install time")
	}
	rssFile := filepath.Join(t.TempDir(), "rss")
	c := exec.Command("/usr/bin/time", "-f", "%M", "-o", rssFile, gtrunBin, "trace", run, "--html", page)
	c.Env = e.list()
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("trace --html: %v: %s", err, out)
	}
	b, _ := os.ReadFile(rssFile)
	var rss int64 // KiB
	if _, err := fmt.Sscan(string(b), &rss); err != nil || rss == 0 {
		t.Fatalf("max RSS: %q", b)
	}
	fi, _ := os.Stat(page)
	t.Logf("page %d MB, max RSS %d MB", fi.Size()>>20, rss>>10)
	if rss > 100<<10 || fi.Size() > 24<<20 {
		t.Errorf("trace --html of a 10,000-event run: page %d MB (want ≤ 24), max RSS %d MB (want < 100)", fi.Size()>>20, rss>>10)
	}
}
