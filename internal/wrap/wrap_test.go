package wrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// The test binary doubles as a tiny wrapper: with GTRUN_WRAP_HELPER set it
// runs wrap.Run on its arguments and exits with the child's status, so
// signal and orphan tests exercise a real separate process.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == counterArg {
		os.Exit(counterMain(os.Args[2]))
	}
	if os.Getenv("GTRUN_WRAP_HELPER") != "" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// counterArg as the first argument makes the test binary the counting
// child (counterMain); the wrapper's environment is inherited, so it
// cannot be the switch.
const counterArg = "gtrun-wrap-counter"

// counterMain is a child that logs every signal it receives, one line per
// delivery, and exits 0 once DIR/stop exists. Unlike a shell trap (which
// runs once for signals that arrive during one command), it shows a
// duplicate delivery.
func counterMain(dir string) int {
	c := make(chan os.Signal, 64)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGQUIT, syscall.SIGWINCH)
	log, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 3
	}
	fmt.Fprintln(log, "ready")
	tick := time.NewTicker(5 * time.Millisecond)
	for {
		select {
		case s := <-c:
			fmt.Fprintln(log, "got", s.(syscall.Signal).String())
		case <-tick.C:
			if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
				return 0
			}
		}
	}
}

func helperMain(args []string) int {
	mode := PTYAuto
	switch os.Getenv("GTRUN_WRAP_PTY") {
	case "on":
		mode = PTYOn
	case "off":
		mode = PTYOff
	}
	var capFn func(string, []byte)
	var capLog *os.File
	if p := os.Getenv("GTRUN_WRAP_CAPTURE"); p != "" {
		capLog, _ = os.Create(p)
		capFn = func(stream string, line []byte) { fmt.Fprintf(capLog, "%s:%s\n", stream, line) }
	}
	path, err := LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return err.(*Error).Code
	}
	res, err := Run(context.Background(), Options{
		Path: path, Args: args, Env: os.Environ(), PTY: mode,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Capture: capFn,
		Started: func(pid int) {
			if p := os.Getenv("GTRUN_WRAP_PIDFILE"); p != "" {
				os.WriteFile(p, []byte(strconv.Itoa(pid)), 0o600)
			}
		},
	})
	if capLog != nil {
		capLog.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return res.ExitCode
	}
	return ExitLike(res) // as gtrun does: a signal death is re-raised
}

// noExitSleep: a -race binary sleeps a second at exit while goroutines
// remain; the helper is measured, and run thousands of times.
const noExitSleep = "GORACE=atexit_sleep_ms=0"

func helper(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "GTRUN_WRAP_HELPER=1", noExitSleep), env...)
	return cmd
}

// exitCode is the shell's $? for a finished command: 128+N for a death by
// signal N.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// signaled reports the signal a finished command died of, or 0.
func signaled(err error) syscall.Signal {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	// An executable script without "#!": the shell (and execvp) run it with sh.
	bangless := filepath.Join(dir, "bangless")
	os.WriteFile(bangless, []byte("echo from-sh \"$0\" \"$1\"\nexit 5\n"), 0o755)
	binary := filepath.Join(dir, "binary")
	os.WriteFile(binary, []byte("\x7fELF\x00\x01garbage\n"), 0o755)
	// PATH has only a non-executable file of that name: bash says 126.
	pathDir := filepath.Join(dir, "bin")
	os.Mkdir(pathDir, 0o755)
	os.WriteFile(filepath.Join(pathDir, "gtrun-mode644"), []byte("#!/bin/sh\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want int
		sig  syscall.Signal // the helper must die of it (ExitLike)
		msg  string
		out  string
	}{
		{"ok", []string{"sh", "-c", "exit 0"}, 0, 0, "", ""},
		{"one", []string{"sh", "-c", "exit 1"}, 1, 0, "", ""},
		{"three", []string{"sh", "-c", "exit 3"}, 3, 0, "", ""},
		{"255", []string{"sh", "-c", "exit 255"}, 255, 0, "", ""},
		{"sigkill", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, syscall.SIGKILL, "", ""},
		{"sigterm", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, syscall.SIGTERM, "", ""},
		{"sigusr1", []string{"sh", "-c", "kill -USR1 $$"}, 128 + 10, syscall.SIGUSR1, "", ""},
		{"sigsegv no core", []string{"sh", "-c", "kill -SEGV $$"}, 128 + 11, syscall.SIGSEGV, "", ""},
		{"not found", []string{"gtrun-no-such-command"}, 127, 0, "gtrun-no-such-command: command not found", ""},
		{"missing path", []string{filepath.Join(dir, "nope")}, 127, 0, "No such file or directory", ""},
		{"not executable", []string{noexec}, 126, 0, "Permission denied", ""},
		{"mode 644 on PATH", []string{"gtrun-mode644"}, 126, 0, "Permission denied", ""},
		{"directory", []string{dir}, 126, 0, "Is a directory", ""},
		{"script without #!", []string{bangless, "arg"}, 5, 0, "", "from-sh " + bangless + " arg\n"},
		{"binary garbage", []string{binary}, 126, 0, "cannot execute binary file", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := helper(t, []string{"GTRUN_WRAP_PTY=off", "PATH=" + pathDir + ":" + os.Getenv("PATH")}, c.args...)
			cmd.Dir = dir // a core file, if any, would land here
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if got := exitCode(err); got != c.want {
				t.Fatalf("exit %d, want %d (stderr %q)", got, c.want, stderr.String())
			}
			if got := signaled(err); got != c.sig {
				t.Fatalf("wrapper died of signal %d, want %d: the caller must see the child's signal death", got, c.sig)
			}
			if c.msg != "" && (!strings.Contains(stderr.String(), c.msg) || strings.Count(stderr.String(), "\n") != 1) {
				t.Fatalf("stderr %q, want one line containing %q", stderr.String(), c.msg)
			}
			if c.out != "" && stdout.String() != c.out {
				t.Fatalf("stdout %q, want %q", stdout.String(), c.out)
			}
			if ents, _ := filepath.Glob(filepath.Join(dir, "core*")); len(ents) > 0 {
				t.Fatalf("core file left behind: %v", ents)
			}
		})
	}
}

func TestResultAndRusage(t *testing.T) {
	res, err := Run(context.Background(), Options{Path: "/bin/sh", Args: []string{"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 4"}, PTY: PTYOff})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 4 || res.Signal != 0 || res.PTY {
		t.Fatalf("result %+v", res)
	}
	if res.MaxRSSKB <= 0 || res.UserCPU+res.SysCPU <= 0 || !res.End.After(res.Start) {
		t.Fatalf("rusage/time missing: %+v", res)
	}
}

// binary output of 1.5 MB, with and without capture, reaches stdout byte for byte.
func TestBinaryOutputExact(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "blob")
	blob := make([]byte, 1536*1024+7) // no trailing newline
	for i := range blob {
		blob[i] = byte(i*7 + i/251)
	}
	os.WriteFile(src, blob, 0o600)
	want := sha256.Sum256(blob)
	for _, capture := range []bool{false, true} {
		t.Run(fmt.Sprintf("capture=%v", capture), func(t *testing.T) {
			env := []string{"GTRUN_WRAP_PTY=off"}
			if capture {
				env = append(env, "GTRUN_WRAP_CAPTURE="+filepath.Join(dir, "cap"))
			}
			cmd := helper(t, env, "cat", src)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(out) != want || len(out) != len(blob) {
				t.Fatalf("output differs: %d bytes, want %d", len(out), len(blob))
			}
		})
	}
}

func TestInterleavingAndCapture(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "cap")
	script := `for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done; printf tail`
	// stdout and stderr are the same file: order must be exact.
	shared, _ := os.Create(filepath.Join(dir, "shared"))
	cmd := helper(t, []string{"GTRUN_WRAP_PTY=off", "GTRUN_WRAP_CAPTURE=" + capFile}, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = shared, shared
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	shared.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "shared"))
	want := "out 1\nerr 1\nout 2\nerr 2\nout 3\nerr 3\nout 4\nerr 4\nout 5\nerr 5\ntail"
	if string(got) != want {
		t.Fatalf("shared file:\n%q\nwant\n%q", got, want)
	}
	caps, _ := os.ReadFile(capFile)
	if !strings.HasPrefix(string(caps), "combined:out 1\ncombined:err 1\n") || !strings.HasSuffix(string(caps), "combined:tail\n") {
		t.Fatalf("capture: %q", caps)
	}
	// Separate files: each stream captured under its own name.
	var so, se bytes.Buffer
	cmd = helper(t, []string{"GTRUN_WRAP_PTY=off", "GTRUN_WRAP_CAPTURE=" + capFile}, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if so.String() != "out 1\nout 2\nout 3\nout 4\nout 5\ntail" || se.String() != "err 1\nerr 2\nerr 3\nerr 4\nerr 5\n" {
		t.Fatalf("streams: %q / %q", so.String(), se.String())
	}
	caps, _ = os.ReadFile(capFile)
	for _, l := range []string{"stdout:out 3", "stderr:err 3", "stdout:tail"} {
		if !strings.Contains(string(caps), l+"\n") {
			t.Fatalf("capture lacks %q: %q", l, caps)
		}
	}
}

func TestStdinEOF(t *testing.T) {
	cmd := helper(t, []string{"GTRUN_WRAP_PTY=off"}, "cat")
	cmd.Stdin = strings.NewReader("a\nb")
	out, err := cmd.Output()
	if err != nil || string(out) != "a\nb" {
		t.Fatalf("out %q err %v", out, err)
	}
}

// waitFile polls until path has content satisfying ok.
func waitFile(t *testing.T, path string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if ok(string(b)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %q", path, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLog waits until the counter's log has line.
func waitLog(t *testing.T, dir, line string, n int) {
	t.Helper()
	waitFile(t, filepath.Join(dir, "log"), func(s string) bool { return strings.Count(s, line+"\n") >= n })
}

// countGot counts the deliveries of sig in the counter's log.
func countGot(dir string, sig syscall.Signal) int {
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	return strings.Count(string(b), "got "+sig.String()+"\n")
}

// waitStopped waits until process pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop: %q", pid, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliveredOnce checks that send() makes the counting child (counterMain)
// see sig exactly once. A duplicate would come from two paths (the kernel
// delivering to the child directly, and the wrapper forwarding), normally
// microseconds apart, where it would merge with the first while pending.
// So the wrapper is held stopped while send() runs: a direct copy reaches
// the child at once (and is counted before a marker sent straight to the
// child), a forwarded copy only once the wrapper continues; a second
// marker, forwarded by the wrapper after sig, closes the count.
func deliveredOnce(t *testing.T, wrapper, child int, dir string, sig syscall.Signal, send func()) {
	t.Helper()
	const marker = syscall.SIGWINCH // numbered above every signal under test
	syscall.Kill(wrapper, syscall.SIGSTOP)
	waitStopped(t, wrapper)
	send()
	syscall.Kill(child, marker)
	waitLog(t, dir, "got "+marker.String(), 1)
	syscall.Kill(wrapper, syscall.SIGCONT)
	waitLog(t, dir, "got "+sig.String(), 1)
	syscall.Kill(wrapper, marker)
	waitLog(t, dir, "got "+marker.String(), 2)
	if n := countGot(dir, sig); n != 1 {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("child saw %v %d times; its log:\n%s", sig, n, b)
	}
}

// A signal sent to the wrapper's whole process group (as a shell's
// `kill %1` does) reaches the child exactly once. The child counts every
// delivery and ends another way (a stop file), so a duplicate shows.
func TestSignalsForwardedOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			pidf := filepath.Join(dir, "pid")
			cmd := helper(t, []string{"GTRUN_WRAP_PTY=off", "GTRUN_WRAP_PIDFILE=" + pidf}, os.Args[0], counterArg, dir)
			// gtrun in its own group, as a shell would start it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitLog(t, dir, "ready", 1)
			child, _ := strconv.Atoi(waitFile(t, pidf, func(s string) bool { return s != "" }))
			deliveredOnce(t, cmd.Process.Pid, child, dir, sig, func() { syscall.Kill(-cmd.Process.Pid, sig) })
			os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600)
			if code := exitCode(cmd.Wait()); code != 0 {
				t.Fatalf("exit %d, want the child's 0", code)
			}
		})
	}
}

func TestNoOrphanOnKill(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "pid")
	cmd := helper(t, []string{"GTRUN_WRAP_PTY=off", "GTRUN_WRAP_PIDFILE=" + pidf}, "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(waitFile(t, pidf, func(s string) bool { return s != "" }))
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
			break // a zombie waiting for init is gone for our purposes
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived the killed wrapper", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// screen collects what the terminal shows; safe to read while it fills.
type screen struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *screen) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitScreen polls until the terminal shows want.
func (s *screen) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows %q", want, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runOnPTY runs the helper with a pty as its stdin/stdout/stderr and
// returns everything the terminal showed. One goroutine reads the pty;
// during() watches what it read through scr.
func runOnPTY(t *testing.T, env []string, rows, cols uint16, during func(ptmx *os.File, cmd *exec.Cmd, scr *screen), args ...string) string {
	t.Helper()
	cmd := helper(t, env, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	scr := &screen{}
	done := make(chan struct{})
	go func() { io.Copy(scr, ptmx); close(done) }()
	if during != nil {
		during(ptmx, cmd, scr)
	}
	cmd.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return scr.String()
}

func TestPTYSeenByChild(t *testing.T) {
	got := runOnPTY(t, nil, 30, 100, nil, "sh", "-c", "test -t 1 && echo TTY1; stty size")
	if !strings.Contains(got, "TTY1") || !strings.Contains(got, "30 100") {
		t.Fatalf("child on pty saw %q", got)
	}
	got = runOnPTY(t, []string{"GTRUN_WRAP_PTY=off"}, 30, 100, nil, "sh", "-c", "test -t 1 && echo TTY1 || echo NOTTY")
	if !strings.Contains(got, "TTY1") {
		// --no-pty: the child inherits gtrun's terminal itself.
		t.Fatalf("no-pty child should inherit the terminal: %q", got)
	}
	var so bytes.Buffer
	cmd := helper(t, nil, "sh", "-c", "test -t 1 && echo TTY || echo NOTTY")
	cmd.Stdout = &so
	if err := cmd.Run(); err != nil || strings.TrimSpace(so.String()) != "NOTTY" {
		t.Fatalf("piped stdout must not get a pty: %q %v", so.String(), err)
	}
}

// A resize of the user's terminal reaches the child with the new size: in
// inherit mode from the kernel; in PTY mode through gtrun, which resizes
// the output PTY first (the child reads its size from stdout there); and
// in PTY mode after the child took the terminal (it read a line), when
// the kernel signals the child directly and gtrun must notice by itself.
// Nobody sends SIGWINCH by hand: resizing the terminal does.
func TestPTYResize(t *testing.T) {
	cases := []struct {
		name, pty, read string
	}{
		{"inherit", "auto", ""},
		{"pty", "on", ""},
		{"pty after handover", "on", "IFS= read -r x; "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready")
			// "stty size <&1" reads the size of the terminal the child writes to.
			script := fmt.Sprintf(`trap 'stty size <&1 >> %s/size' WINCH; %sstty size <&1 > %s; while ! grep -q '40 132' %s/size 2>/dev/null; do sleep 0.02; done; echo resized`, dir, c.read, ready, dir)
			got := runOnPTY(t, []string{"GTRUN_WRAP_PTY=" + c.pty}, 24, 80, func(ptmx *os.File, cmd *exec.Cmd, _ *screen) {
				if c.read != "" {
					ptmx.Write([]byte("go\r"))
				}
				waitFile(t, ready, func(s string) bool { return strings.Contains(s, "24 80") })
				pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 132})
			}, "sh", "-c", script)
			if !strings.Contains(got, "resized") {
				sizes, _ := os.ReadFile(filepath.Join(dir, "size"))
				t.Fatalf("resize not seen: screen %q, sizes seen %q", got, sizes)
			}
		})
	}
}

// Ctrl-C typed on the user's terminal reaches the child exactly once:
// with the terminal handed to the child (inherit) and with gtrun keeping
// it and forwarding (PTY mode, Capture).
func TestPTYCtrlCOnce(t *testing.T) {
	for _, capture := range []bool{false, true} {
		t.Run(fmt.Sprintf("capture=%v", capture), func(t *testing.T) {
			dir := t.TempDir()
			pidf := filepath.Join(dir, "pid")
			env := []string{"GTRUN_WRAP_PIDFILE=" + pidf}
			if capture {
				env = append(env, "GTRUN_WRAP_CAPTURE="+filepath.Join(dir, "cap"))
			}
			runOnPTY(t, env, 24, 80, func(ptmx *os.File, cmd *exec.Cmd, _ *screen) {
				waitLog(t, dir, "ready", 1)
				child, _ := strconv.Atoi(waitFile(t, pidf, func(s string) bool { return s != "" }))
				deliveredOnce(t, cmd.Process.Pid, child, dir, syscall.SIGINT, func() {
					ptmx.Write([]byte{3}) // Ctrl-C typed on the user's terminal
				})
				os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600)
			}, os.Args[0], counterArg, dir)
		})
	}
}

func TestPTYTerminalAnswersFlowBack(t *testing.T) {
	// The child asks the terminal a question (like bd's ESC]11;? query) and
	// waits for the answer; the "terminal" answers on its input.
	script := `printf 'QUERY\n'; IFS= read -r ans; echo "answer=$ans"`
	got := runOnPTY(t, nil, 24, 80, func(ptmx *os.File, cmd *exec.Cmd, scr *screen) {
		scr.wait(t, "QUERY")
		ptmx.Write([]byte("rgb:0000/0000/0000\r"))
	}, "sh", "-c", script)
	if !strings.Contains(got, "answer=rgb:0000/0000/0000") {
		t.Fatalf("answer did not reach the child: %q", got)
	}
}
