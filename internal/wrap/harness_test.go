package wrap

// A pseudo-terminal standing in for the user's terminal, on which a
// command runs either bare or under the wrapper (the test binary in helper
// mode), so the two can be compared byte for byte.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// userTerm is the user's terminal: the test holds the master (the screen
// and the keyboard); each run opens the slave afresh, so every run sees
// the same /dev/pts/N.
type userTerm struct {
	master *os.File
	name   string
}

func newUserTerm(t testing.TB) *userTerm {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	name := s.Name()
	s.Close()
	pty.Setsize(m, &pty.Winsize{Rows: 30, Cols: 100})
	t.Cleanup(func() { m.Close() })
	return &userTerm{master: m, name: name}
}

// key is input typed at a moment after the start.
type key struct {
	at time.Duration
	b  []byte
}

// session describes one run on the terminal.
type session struct {
	keys      []key
	readDelay time.Duration // the terminal's reader pauses this long first
	timeout   time.Duration // a run still going then is a hang
	stdout    *os.File      // instead of the terminal, when set
}

// outcome is what the user saw.
type outcome struct {
	out  []byte
	code int // $?: 128+N for a death by signal N
	sig  syscall.Signal
	hung bool
	dur  time.Duration
}

func (o outcome) String() string {
	return fmt.Sprintf("code=%d sig=%d hung=%v dur=%v out=%q", o.code, o.sig, o.hung, o.dur.Round(time.Millisecond), o.out)
}

// run runs argv as a new session whose controlling terminal is the user's
// terminal (as a login shell's job would be), types the keys, and returns
// what the terminal showed once every holder of it is gone.
func (ut *userTerm) run(t testing.TB, env []string, s session, argv ...string) outcome {
	t.Helper()
	if s.timeout == 0 {
		s.timeout = 20 * time.Second
	}
	slave, err := os.OpenFile(ut.name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening %s: %v", ut.name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if s.stdout != nil {
		cmd.Stdout = s.stdout
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatalf("starting %v: %v", argv, err)
	}
	slave.Close()

	var typing sync.WaitGroup
	typing.Add(1)
	go func() {
		defer typing.Done()
		for _, k := range s.keys {
			// The delay is the experiment (keys typed at that moment), not
			// a wait for something to happen.
			time.Sleep(time.Until(start.Add(k.at)))
			ut.master.Write(k.b)
		}
	}()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		time.Sleep(s.readDelay)  // the slow reader under test
		io.Copy(&out, ut.master) // ends with EIO: no holder of the slave left
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var o outcome
	select {
	case err = <-waited:
	case <-time.After(s.timeout):
		o.hung = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-waited
	}
	o.dur = time.Since(start)
	o.code, o.sig = exitCode(err), signaled(err)
	select {
	case <-read:
	case <-time.After(s.timeout):
		o.hung = true // something still holds the terminal
	}
	typing.Wait()
	o.out = out.Bytes()
	return o
}

// wrapped is argv under the wrapper (modeEnv sets the mode).
func wrapped(argv ...string) []string {
	return append([]string{os.Args[0]}, argv...)
}

// modeEnv is the environment of the wrapper for a mode: "inherit" (no
// rules need the output), "pty" (--pty), "capture" (a command with rules:
// output PTY because stdout is a terminal), "pipes" (rules, --no-pty).
func modeEnv(t testing.TB, mode string) []string {
	env := append(os.Environ(), "GTRUN_WRAP_HELPER=1", noExitSleep)
	capFile := func() string { return "GTRUN_WRAP_CAPTURE=" + t.TempDir() + "/cap" }
	switch mode {
	case "inherit":
		return env
	case "pty":
		return append(env, "GTRUN_WRAP_PTY=on")
	case "capture":
		return append(env, capFile())
	case "pipes":
		return append(env, "GTRUN_WRAP_PTY=off", capFile())
	}
	t.Fatalf("unknown mode %q", mode)
	return nil
}

// runs returns n, or n/10 under -short, or $GTRUN_TORTURE_N when set (to
// run the full counts the issue asks for, or more).
func runs(n int) int {
	if v, err := strconv.Atoi(os.Getenv("GTRUN_TORTURE_N")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return max(1, n/10)
	}
	return n
}

// parallel runs f(i) for i in [0, n) on w workers, each with its own
// terminal, and collects the failures (at most a few reported in full).
func parallel(t *testing.T, n, w int, f func(ut *userTerm, i int) error) {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	next := 0
	var wg sync.WaitGroup
	for range min(w, n) {
		wg.Add(1)
		ut := newUserTerm(t)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				if err := f(ut, i); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("run %d: %w", i, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		shown := errs[:min(5, len(errs))]
		t.Fatalf("%d of %d runs wrong; first ones:\n%v", len(errs), n, errors.Join(shown...))
	}
	t.Logf("%d runs, 0 wrong", n)
}

// rng is a reproducible source for the random delays of one test.
func rng(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("GTRUN_TORTURE_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("GTRUN_TORTURE_SEED=%d", seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// diff describes where two outputs first differ.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-20)
	return fmt.Sprintf("%d bytes, want %d; first difference at %d: got %q, want %q",
		len(got), len(want), i, got[lo:min(len(got), i+20)], want[lo:min(len(want), i+20)])
}
