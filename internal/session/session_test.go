package session

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/tmux"
)

// manager is a Manager on a private tmux server (real tmux) and store.
func manager(t *testing.T) *Manager {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required: apt-get install -y tmux")
	}
	t.Setenv("TMUX_TMPDIR", t.TempDir())
	m := &Manager{Tmux: &tmux.Server{Socket: "gtrun-session-test"}, Store: Store{Dir: t.TempDir()}}
	t.Cleanup(func() { m.Tmux.KillServer(context.Background()) })
	return m
}

// Whoever sees the end first claims the stop; everybody else sees it done.
func TestStopClaimedExactlyOnce(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	si := Info{Name: "Toast", RunID: "run-1"}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.ClaimStop(si) {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || !s.Stopped(si) {
		t.Fatalf("%d claims", wins.Load())
	}
	if !s.ClaimStop(Info{Name: "Toast", RunID: "run-2"}) {
		t.Fatal("a new run of the session is a new stop")
	}
}

func TestStopMissingSession(t *testing.T) {
	m := manager(t)
	for range 2 {
		rec, _, err := m.Stop(context.Background(), "Nobody", 0)
		if rec != nil || err == nil || err.Error() != "no session Nobody" {
			t.Fatalf("%v %v", rec, err)
		}
	}
}

// The pane's command cannot report (no wrapper in it): stop reports, once.
func TestStopReportsForAKilledPane(t *testing.T) {
	m := manager(t)
	si := Info{Name: "sleeper", RunID: "r", Start: time.Now()}
	rec, err := m.Start(context.Background(), si, "", nil, []string{"sleep", "60"})
	if err != nil || rec.Name != "session.start" || rec.Err != "" {
		t.Fatalf("%+v %v", rec, err)
	}
	stop, _, err := m.Stop(context.Background(), "sleeper", 50*time.Millisecond)
	if err != nil || stop == nil || stop.Get("exit_code") != int64(-1) {
		t.Fatalf("%+v %v", stop, err)
	}
	if late := m.Ended(si, 0, syscall.SIGHUP, nil); late != nil {
		t.Fatalf("a second session.stop: %+v", late)
	}
}

func TestEndedStatus(t *testing.T) {
	m := &Manager{Store: Store{Dir: t.TempDir()}}
	for i, c := range []struct {
		code int
		sig  syscall.Signal
		perr error
		want string
	}{
		{0, 0, nil, ""}, {129, syscall.SIGHUP, nil, ""}, {143, syscall.SIGTERM, nil, ""},
		{3, 0, nil, "exit status 3"}, {127, 0, errors.New("gtrun: nope: command not found"), "gtrun: nope: command not found"},
	} {
		rec := m.Ended(Info{Name: "s", RunID: string(rune('a' + i))}, c.code, c.sig, c.perr)
		if rec == nil || rec.Err != c.want || rec.Get("exit_code") != int64(c.code) {
			t.Errorf("code %d sig %v: %+v", c.code, c.sig, rec)
		}
	}
}
