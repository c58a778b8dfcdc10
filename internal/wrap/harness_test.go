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
	"golang.org/x/sys/unix"
)

// userTerm is the user's terminal: the test holds the master (the screen
// and the keyboard); each run opens the slave afresh, so every run sees
// the same /dev/pts/N.
//
// A terminal keeps state across runs: input nobody read, output the
// screen has not shown yet, modes, size. Each run therefore ends with
// settle, which gives this run's leftovers to this run's outcome and
// leaves the terminal as newUserTerm made it, so that one run can neither
// fake nor mask a defect in the next.
type userTerm struct {
	master *os.File
	name   string
	modes  unix.Termios // as created; every run starts with these
	size   unix.Winsize
}

func newUserTerm(t testing.TB) *userTerm {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	name := s.Name()
	pty.Setsize(m, &pty.Winsize{Rows: 30, Cols: 100})
	ut := &userTerm{master: m, name: name}
	tio, err1 := unix.IoctlGetTermios(int(s.Fd()), ioctlGetTermios)
	ws, err2 := unix.IoctlGetWinsize(int(s.Fd()), unix.TIOCGWINSZ)
	s.Close()
	if err1 != nil || err2 != nil {
		m.Close()
		t.Fatalf("reading the pty's modes: %v, %v", err1, err2)
	}
	ut.modes, ut.size = *tio, *ws
	t.Cleanup(func() { m.Close() })
	return ut
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

// outcome is what the user saw, and what the run left on the terminal.
type outcome struct {
	out  []byte
	code int // $?: 128+N for a death by signal N
	sig  syscall.Signal
	hung bool
	dur  time.Duration
	// late: how many bytes of out reached the screen only after the last
	// holder of the terminal was gone (the echo of the run's keys: the
	// kernel may write it after waking the reader, so after it exited).
	late int
	// unread: complete lines of input the run left in the terminal
	// (an end of file, ^D at the start of a line, as "\x04"); discarded.
	unread []byte
	// modes: the terminal's modes or size as the run left them, when not
	// as it found them; restored.
	modes string
}

func (o outcome) String() string {
	s := fmt.Sprintf("code=%d sig=%d hung=%v dur=%v out=%q", o.code, o.sig, o.hung, o.dur.Round(time.Millisecond), o.out)
	if o.late > 0 {
		s += fmt.Sprintf(" (last %d late)", o.late)
	}
	if len(o.unread) > 0 {
		s += fmt.Sprintf(" unread=%q", o.unread)
	}
	if o.modes != "" {
		s += " modes: " + o.modes
	}
	return s
}

// leftovers reports what got left on the terminal that bare did not
// leave: input it did not read, modes it did not restore.
func (o outcome) leftovers(bare outcome) error {
	switch {
	case o.modes != "":
		return fmt.Errorf("terminal left changed: %s", o.modes)
	case !bytes.Equal(o.unread, bare.unread):
		return fmt.Errorf("input left unread %q, bare %q", o.unread, bare.unread)
	}
	return nil
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
	readerDone := true
	select {
	case <-read:
	case <-time.After(s.timeout):
		o.hung = true // something still holds the terminal
		readerDone = false
	}
	typing.Wait()
	o.out = out.Bytes()
	ut.settle(t, &o, readerDone)
	return o
}

// settle ends a run (its keys all typed, the reader at EIO unless hung):
// the output still on its way is the run's, the input nobody read and
// the modes it changed are noted, and the terminal is left as created.
//
// The reader stops at EIO, when no one holds the terminal any more; that
// is not "everything shown". In canonical mode the kernel wakes the
// reader at the newline and writes the echo of the typed line only after
// processing the rest of what was typed with it, so cat may read "abc",
// read ^D, exit and close the terminal before the echo of "abc⏎" is
// written: it then waits on the master, and without settle the next run
// on this terminal (the wrapped one) would show it.
func (ut *userTerm) settle(t testing.TB, o *outcome, readerDone bool) {
	t.Helper()
	// Holding the slave keeps the master from reporting EIO while the
	// last of the run's bytes arrive.
	s, err := os.OpenFile(ut.name, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Errorf("settling %s: %v", ut.name, err) // from any goroutine
		return
	}
	defer s.Close()
	sc, err := s.SyscallConn()
	if err != nil {
		t.Errorf("settling %s: %v", ut.name, err)
		return
	}
	sc.Control(func(fd uintptr) {
		f := int(fd)
		tio, err1 := unix.IoctlGetTermios(f, ioctlGetTermios)
		ws, err2 := unix.IoctlGetWinsize(f, unix.TIOCGWINSZ)
		switch {
		case err1 != nil || err2 != nil:
			o.modes = fmt.Sprintf("unreadable: %v, %v", err1, err2)
		case *tio != ut.modes || *ws != ut.size:
			o.modes = fmt.Sprintf("iflag %#x→%#x lflag %#x→%#x oflag %#x→%#x cc %v→%v size %v→%v",
				ut.modes.Iflag, tio.Iflag, ut.modes.Lflag, tio.Lflag, ut.modes.Oflag, tio.Oflag,
				ut.modes.Cc, tio.Cc, ut.size, *ws)
		}
		// Before reading: in the modes the next run starts with.
		unix.IoctlSetTermios(f, ioctlSetTermios, &ut.modes)
		unix.IoctlSetWinsize(f, unix.TIOCSWINSZ, &ut.size)
		// Read what is left, line by line. A read that finds nothing
		// waits until the kernel has processed every byte typed (echoes
		// included) and returns EAGAIN.
		buf := make([]byte, 4096)
		for range 1000 {
			n, err := unix.Read(f, buf)
			if n > 0 {
				o.unread = append(o.unread, buf[:n]...)
			} else if n == 0 && err == nil {
				o.unread = append(o.unread, 0x04) // an end of file
			} else if err != unix.EINTR {
				break
			}
		}
		// A partial line (no newline yet) cannot be read in canonical
		// mode; it must not reach the next run either.
		flushInput(f)
	})
	if !readerDone {
		return // the reader still reads; what arrives is its
	}
	// The run's last bytes (the echo above): a read that finds nothing
	// waits for what the kernel is still moving to the master, then says
	// EAGAIN. The master is blocking (pty.Setsize took its Fd) and no one
	// else uses it now: non-blocking just for this.
	mc, err := ut.master.SyscallConn()
	if err != nil {
		t.Errorf("settling %s: %v", ut.name, err)
		return
	}
	mc.Control(func(fd uintptr) {
		f := int(fd)
		if err := unix.SetNonblock(f, true); err != nil {
			t.Errorf("settling %s: %v", ut.name, err)
			return
		}
		defer unix.SetNonblock(f, false)
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(f, buf)
			if n > 0 {
				o.out = append(o.out, buf[:n]...)
				o.late += n
			} else if err != unix.EINTR {
				return
			}
		}
	})
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

// The harness itself: what a run leaves on the terminal is that run's,
// never the next one's. Each case is a run that leaves something behind,
// then a run that must see a clean terminal.
func TestHarnessSettles(t *testing.T) {
	ut := newUserTerm(t)
	clean := func(what string) {
		t.Helper()
		o := ut.run(t, os.Environ(), session{}, "stty", "-g")
		want := ut.run(t, os.Environ(), session{}, "stty", "-g")
		if len(o.out) == 0 || !bytes.Equal(o.out, want.out) || o.leftovers(outcome{}) != nil {
			t.Fatalf("after %s: %v, then %v", what, o, want)
		}
		if o := ut.run(t, os.Environ(), session{keys: []key{{0, []byte("\x04")}}}, "cat"); len(o.out) != 0 || o.leftovers(outcome{}) != nil {
			t.Fatalf("after %s, cat: %v", what, o)
		}
	}
	clean("nothing")

	// Keys typed while a command that does not read them runs: echoed
	// then, left in the terminal, and a cat that follows must not get them.
	o := ut.run(t, os.Environ(), session{keys: []key{{10 * time.Millisecond, []byte("abc\r\x04")}}}, "sleep", "0.1")
	if string(o.out) != "abc\r\n" || string(o.unread) != "abc\n\x04" || o.late != 0 {
		t.Errorf("sleep, keys at 10ms: %v", o)
	}
	clean("unread input")

	// Keys typed after the command is gone: their echo reaches the master
	// when no one holds the terminal, after the reader's EIO, as the
	// kernel's late echo of a canonical line does. It is this run's.
	o = ut.run(t, os.Environ(), session{keys: []key{{50 * time.Millisecond, []byte("xy\r")}}}, "true")
	if string(o.out) != "xy\r\n" || o.late != len(o.out) || string(o.unread) != "xy\n" {
		t.Errorf("true, keys at 50ms: %v", o)
	}
	clean("late echo")

	// A partial line: not readable in canonical mode, flushed all the same.
	o = ut.run(t, os.Environ(), session{keys: []key{{10 * time.Millisecond, []byte("partial")}}}, "sleep", "0.05")
	if string(o.out) != "partial" || len(o.unread) != 0 {
		t.Errorf("sleep, partial line: %v", o)
	}
	clean("partial line")

	// Modes changed and not restored, size too.
	o = ut.run(t, os.Environ(), session{}, "stty", "-echo", "-icanon", "rows", "5")
	if o.modes == "" || o.leftovers(outcome{}) == nil {
		t.Errorf("stty -echo -icanon rows 5: modes not reported: %v", o)
	}
	clean("stty")
}
