package tmux

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// server starts nothing: tmux starts its server on the first new-session,
// on a private socket inside a private TMUX_TMPDIR.
func server(t *testing.T) *Server {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required for these tests: apt-get install -y tmux")
	}
	tmp := t.TempDir()
	s := &Server{Socket: fmt.Sprintf("gtrun-test-%d", time.Now().UnixNano()), Env: append(os.Environ(), "TMUX_TMPDIR="+tmp, "TMUX=")}
	t.Cleanup(func() { s.KillServer(context.Background()) })
	return s
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"gt-gastown-Toast": true, "hq_mayor": true, "a.b": false, "a:b": false, "": false, "-x": false, "a b": false, "a\tb": false} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
	if err := ValidateName("a.b"); !strings.Contains(err.Error(), "tmux does not allow '.' or ':'") {
		t.Error(err)
	}
}

func TestSessionLifecycle(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	err := s.NewSession(ctx, NewSession{Name: "foo", Dir: dir, Env: []string{"GT_TEST_VAR=hello world"},
		Argv: []string{"sh", "-c", `printf '%s|%s' "$GT_TEST_VAR" "$(pwd)" > out; sleep 30`}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pane command", func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	if b, _ := os.ReadFile(out); string(b) != "hello world|"+dir {
		t.Fatalf("pane saw %q", b)
	}
	err = s.NewSession(ctx, NewSession{Name: "foo", Argv: []string{"sleep", "30"}})
	if err == nil || !strings.Contains(err.Error(), "duplicate session: foo") {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.NewSession(ctx, NewSession{Name: "foobar", Argv: []string{"sleep", "30"}}); err != nil {
		t.Fatal(err)
	}
	if pid, err := s.PanePID(ctx, "foo"); err != nil || pid <= 1 {
		t.Fatalf("pane pid %d %v", pid, err)
	}
	// Exact targets: killing foo leaves foobar.
	if err := s.KillSession(ctx, "foo"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSession(ctx, "foo"); ok {
		t.Fatal("foo still there")
	}
	if ok, _ := s.HasSession(ctx, "foobar"); !ok {
		t.Fatal("killing foo killed foobar")
	}
	if ok, _ := s.HasSession(ctx, "foob"); ok {
		t.Fatal("prefix matched")
	}
	if err := s.KillServer(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSession(ctx, "foobar"); ok {
		t.Fatal("server still running")
	}
}

func TestSendLiteral(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	if err := s.NewSession(ctx, NewSession{Name: "cat", Argv: []string{"cat", "-"}, Width: 120, Height: 20}); err != nil {
		t.Fatal(err)
	}
	text := `-n "quoted" it's; Enter C-c ünï $HOME`
	if err := s.SendLiteral(ctx, "cat", text); err != nil {
		t.Fatal(err)
	}
	if err := s.SendEnter(ctx, "cat"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the text echoed twice (typed and by cat)", func() bool {
		p, _ := s.CapturePane(ctx, "cat")
		return strings.Count(p, text) == 2
	})
}

func TestMissingTmux(t *testing.T) {
	s := &Server{Bin: "tmux-does-not-exist"}
	_, err := s.HasSession(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "tmux not found on PATH") {
		t.Fatalf("%v", err)
	}
}
