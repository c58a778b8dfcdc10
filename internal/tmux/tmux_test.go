package tmux

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testEnv is our environment minus anything that would point tmux at
// another server, plus a private TMUX_TMPDIR.
func testEnv(tmpdir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "TMUX" && k != "TMUX_TMPDIR" {
			env = append(env, kv)
		}
	}
	return append(env, "TMUX_TMPDIR="+tmpdir)
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required for these tests and is not on PATH: apt-get install -y tmux")
	}
}

// newServer returns a private server: socket "gtrun-test-<random>" in a
// private TMUX_TMPDIR. tmux starts it on the first new-session; cleanup
// kills it (KillServer waits for it to exit) before TempDir removal.
func newServer(t *testing.T) (*Server, string) {
	t.Helper()
	requireTmux(t)
	tmp := t.TempDir()
	b := make([]byte, 6)
	rand.Read(b)
	s := &Server{Socket: "gtrun-test-" + hex.EncodeToString(b), Env: testEnv(tmp)}
	sock := filepath.Join(tmp, fmt.Sprintf("tmux-%d", os.Getuid()), s.Socket)
	t.Cleanup(func() {
		if err := s.KillServer(context.Background()); err != nil {
			t.Errorf("kill-server: %v", err)
		}
	})
	return s, sock
}

// waitFor polls ok until it holds or a generous deadline (loaded CI) passes;
// last is what ok saw, for the failure message.
func waitFor(t *testing.T, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		done, last := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last saw: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(path string) func() (bool, string) {
	return func() (bool, string) {
		b, err := os.ReadFile(path)
		return err == nil && strings.HasSuffix(string(b), "\n"), fmt.Sprintf("%q %v", b, err)
	}
}

// waitReady waits for the pane to print "ready": keys typed before the
// pane's program set up its tty are cooked under the pty's initial
// settings (Enter would arrive as a bare CR).
func waitReady(t *testing.T, s *Server, name string) {
	t.Helper()
	waitFor(t, name+" to print ready", func() (bool, string) {
		p, err := s.CapturePane(context.Background(), name)
		return strings.Contains(p, "ready"), fmt.Sprintf("%q %v", p, err)
	})
}

func mustNew(t *testing.T, s *Server, n NewSession) {
	t.Helper()
	if err := s.NewSession(context.Background(), n); err != nil {
		t.Fatalf("new-session %q: %v", n.Name, err)
	}
}

func has(t *testing.T, s *Server, name string) bool {
	t.Helper()
	ok, err := s.HasSession(context.Background(), name)
	if err != nil {
		t.Fatalf("has-session %q: %v", name, err)
	}
	return ok
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct{ name, err string }{
		{"gt-gastown-Toast", ""},
		{"hq_mayor", ""},
		{"ünï-日本", ""},
		{"semi;colon", ""},
		{"a.b", `invalid session name "a.b": tmux does not allow '.' or ':'`},
		{"a:b", "tmux does not allow '.' or ':'"},
		{"", "invalid session name: empty"},
		{"-x", "must not start with '-'"},
		{"a#{pid}", "expands '#'"},
		{"$1", `rewrites '$' and '\'`},
		{`a\b`, `rewrites '$' and '\'`},
		{"a b", "no whitespace"},
		{"a\tb", "no whitespace"},
		{"a\nb", "no whitespace"},
		{"a\x1bb", "control"},
		{"a\u200bb", "non-printing"},
		{"a\xffb", "not valid UTF-8"},
	} {
		err := ValidateName(tc.name)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ValidateName(%q) = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestEscapeArg(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "a;b": "a;b", ";": `\;`, "a;": `a\;`, `a\;`: `a\\;`, "": "",
	} {
		if got := escapeArg(in); got != want {
			t.Errorf("escapeArg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		s   *Server
		err string
	}{
		{&Server{Bin: "tmux-does-not-exist"}, "tmux not found on PATH: install tmux"},
		{&Server{Socket: "a", SocketPath: "/tmp/b"}, "not both"},
	} {
		if _, err := tc.s.HasSession(ctx, "x"); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: HasSession error %v, want %q", tc.s, err, tc.err)
		}
	}
	s := &Server{Socket: "never-started"}
	for _, n := range []NewSession{
		{Name: "a.b", Argv: []string{"true", "x"}},
		{Name: "ok", Env: []string{"NOEQUALS"}, Argv: []string{"true", "x"}},
		{Name: "ok", Env: []string{"=v"}, Argv: []string{"true", "x"}},
		{Name: "ok", Dir: "/nonexistent-gtrun-dir", Argv: []string{"true", "x"}},
	} {
		if err := s.NewSession(ctx, n); err == nil {
			t.Errorf("NewSession(%+v) succeeded", n)
		}
	}
}

// The pane gets Env and Dir, and every Argv word arrives unchanged: ';' and
// "#{...}" words, a directory tmux's -c would format-expand, an env value
// that looks like a tmux shell format.
func TestNewSessionEnvDirArgv(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	dir := filepath.Join(t.TempDir(), "d#{session_name};#(echo x)")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	val := "hello world #(echo pwned) $HOME;"
	mustNew(t, s, NewSession{Name: "env", Dir: dir, Env: []string{"GT_TEST_VAR=" + val, "OUT=" + out},
		Argv: []string{"sh", "-c", `printf '%s|%s|%s|%s|%s\n' "$$" "$GT_TEST_VAR" "$(pwd -P)" "$1" "$2" > "$OUT"; exec sleep 60`,
			"sh", ";", "#{session_name}"}})
	waitFor(t, "the pane command to write "+out, readFile(out))
	b, _ := os.ReadFile(out)
	f := strings.Split(strings.TrimSuffix(string(b), "\n"), "|")
	realDir, _ := filepath.EvalSymlinks(dir)
	if len(f) != 5 || f[1] != val || f[2] != realDir || f[3] != ";" || f[4] != "#{session_name}" {
		t.Fatalf("pane saw %q, want pid|%s|%s|;|#{session_name}", b, val, realDir)
	}
	// sh exec'd sleep, so the pane pid is still the one sh printed.
	pid, err := s.PanePID(context.Background(), "env")
	if err != nil || strconv.Itoa(pid) != f[0] {
		t.Fatalf("PanePID = %d, %v; the pane printed pid %s", pid, err, f[0])
	}
}

// One word would be a shell command line for tmux; it must run as a program
// path even when the path is full of shell syntax.
func TestNewSessionSingleWord(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	dir := filepath.Join(t.TempDir(), "my dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, `run me;$(touch bad) #x'"`)
	out := filepath.Join(dir, "out")
	body := "#!/bin/sh\necho \"ran $0 $#\" > \"$OUT\"\nexec sleep 60\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	mustNew(t, s, NewSession{Name: "one", Dir: dir, Env: []string{"OUT=" + out}, Argv: []string{script}})
	waitFor(t, "the script to run", readFile(out))
	if b, _ := os.ReadFile(out); string(b) != "ran "+script+" 0\n" {
		t.Fatalf("script wrote %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Fatal("the path was run through a shell")
	}
}

func TestDuplicateSession(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	mustNew(t, s, NewSession{Name: "foo", Argv: []string{"sleep", "60"}})
	err := s.NewSession(context.Background(), NewSession{Name: "foo", Argv: []string{"sleep", "60"}})
	var te *Error
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "duplicate session: foo") {
		t.Fatalf("second new-session foo: %v, want tmux's duplicate session error", err)
	}
}

// Bare names prefix-match in tmux; every call must hit only the exact name.
func TestExactTargets(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	for _, n := range []string{"foo", "foobar", "semi;"} {
		mustNew(t, s, NewSession{Name: n, Argv: []string{"sleep", "60"}})
	}
	if !has(t, s, "foo") || !has(t, s, "semi;") || has(t, s, "foob") || has(t, s, "semi") {
		t.Fatal("has-session is not exact")
	}
	if err := s.KillSession(ctx, "foo"); err != nil {
		t.Fatal(err)
	}
	if has(t, s, "foo") || !has(t, s, "foobar") {
		t.Fatal("killing foo did not leave exactly foobar")
	}
	// With foo gone, "foo" must not fall through to foobar.
	calls := map[string]error{"KillSession": s.KillSession(ctx, "foo"), "SendLiteral": s.SendLiteral(ctx, "foo", "x"),
		"SendEnter": s.SendEnter(ctx, "foo")}
	_, calls["CapturePane"] = s.CapturePane(ctx, "foo")
	_, calls["PanePID"] = s.PanePID(ctx, "foo")
	calls["SetOption"] = s.SetOption(ctx, "foo", "@x", "y")
	for call, err := range calls {
		if !IsNotFound(err) {
			t.Errorf("%s(foo) after kill: %v, want can't find session", call, err)
		}
	}
	if !has(t, s, "foobar") {
		t.Fatal("a call on foo ended foobar")
	}
	if err := s.KillSession(ctx, "semi;"); err != nil || has(t, s, "semi;") {
		t.Fatalf("kill semi;: %v", err)
	}
}

func TestSendLiteral(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	mustNew(t, s, NewSession{Name: "cat", Argv: []string{"sh", "-c", "echo ready; exec cat"}, Width: 200, Height: 60})
	waitReady(t, s, "cat")
	for _, text := range []string{
		"hello world",
		`-n "quoted" it's`,
		"; kill-server",
		"ends with;",
		";",
		`ends with backslash-semicolon \;`,
		"Enter C-c Escape",
		"#{pane_pid} #(touch pwned) $HOME ~",
		"ünï 日本 ✓",
		"-l",
		"--",
	} {
		if err := s.SendLiteral(ctx, "cat", text); err != nil {
			t.Fatalf("SendLiteral(%q): %v", text, err)
		}
		if err := s.SendEnter(ctx, "cat"); err != nil {
			t.Fatal(err)
		}
		// The tty echoes the line, then cat prints it back: two rows.
		waitFor(t, fmt.Sprintf("%q typed and echoed by cat", text), func() (bool, string) {
			p, err := s.CapturePane(ctx, "cat")
			n := 0
			for _, line := range strings.Split(p, "\n") {
				if strings.TrimRight(line, " ") == text {
					n++
				}
			}
			return n == 2, fmt.Sprintf("%q %v", p, err)
		})
	}
	if err := s.SendLiteral(ctx, "cat", ""); err != nil {
		t.Fatalf("empty text: %v", err)
	}
}

// A session whose command ends is gone; with the last one gone the server
// exits too, and has-session still answers false rather than failing.
func TestSessionEnds(t *testing.T) {
	t.Parallel()
	s, sock := newServer(t)
	if has(t, s, "short") {
		t.Fatal("session exists before the server was started")
	}
	mustNew(t, s, NewSession{Name: "short", Argv: []string{"sleep", "0.2"}})
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket not at $TMUX_TMPDIR/tmux-UID/NAME: %v", err)
	}
	waitFor(t, "the session to end with its command", func() (bool, string) {
		ok, err := s.HasSession(context.Background(), "short")
		return !ok && err == nil, fmt.Sprint(ok, err)
	})
}

func TestSetOptionRemainOnExit(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	// The command waits for a line so the option is set before it exits.
	mustNew(t, s, NewSession{Name: "stay", Argv: []string{"sh", "-c", "echo ready; read x; exit 3"}})
	waitReady(t, s, "stay")
	if err := s.SetOption(ctx, "stay", "remain-on-exit", "on"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOption(ctx, "stay", "no-such-option", "on"); err == nil {
		t.Fatal("unknown option accepted")
	}
	if err := s.SendEnter(ctx, "stay"); err != nil {
		t.Fatal(err)
	}
	// pane_dead rather than the "Pane is dead (status N)" banner: tmux 3.3a
	// often records neither the status nor the banner when the pty's EOF
	// beats the exit status.
	waitFor(t, "the dead pane to remain", func() (bool, string) {
		out, err := s.run(ctx, "", "list-panes", "-t", "=stay:", "-F", "#{pane_dead}")
		return out == "1\n", fmt.Sprintf("pane_dead %q %v", out, err)
	})
	if !has(t, s, "stay") {
		t.Fatal("session gone despite remain-on-exit")
	}
}

func TestKillServer(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		mustNew(t, s, NewSession{Name: n, Argv: []string{"sleep", "60"}})
	}
	if err := s.KillServer(ctx); err != nil {
		t.Fatal(err)
	}
	if has(t, s, "a") || has(t, s, "b") {
		t.Fatal("sessions survived kill-server")
	}
	if err := s.KillServer(ctx); err != nil {
		t.Fatalf("kill-server with no server: %v", err)
	}
}

// -S PATH is its own server: the -L server in the same TMUX_TMPDIR does not
// see its sessions.
func TestSocketPath(t *testing.T) {
	t.Parallel()
	other, _ := newServer(t)
	tmp := t.TempDir()
	s := &Server{SocketPath: filepath.Join(tmp, "sock"), Env: other.Env}
	t.Cleanup(func() {
		if err := s.KillServer(context.Background()); err != nil {
			t.Errorf("kill-server -S: %v", err)
		}
	})
	mustNew(t, s, NewSession{Name: "p", Argv: []string{"sleep", "60"}})
	if fi, err := os.Stat(s.SocketPath); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no socket at %s: %v", s.SocketPath, err)
	}
	if !has(t, s, "p") || has(t, other, "p") {
		t.Fatal("-S server not separate")
	}
}

// Only "no such session/server" means false; a socket tmux cannot reach
// for another reason is an error.
func TestHasSessionError(t *testing.T) {
	requireTmux(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{SocketPath: filepath.Join(file, "sock")}
	if ok, err := s.HasSession(context.Background(), "x"); ok || err == nil || IsNotFound(err) {
		t.Fatalf("HasSession via a socket under a regular file = %v, %v; want an error", ok, err)
	}
}
