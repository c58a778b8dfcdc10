package wrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// PTYMode says whether the child gets a pseudo-terminal.
type PTYMode int

const (
	PTYAuto PTYMode = iota // a PTY iff stdout is a terminal
	PTYOn
	PTYOff
)

// Options describe one child.
type Options struct {
	Path   string   // resolved executable
	Args   []string // argv, argv[0] as the user typed it
	Env    []string
	Dir    string
	PTY    PTYMode
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// Capture receives a copy of each output line (without "\n"); stream is
	// "stdout", "stderr" or "combined". Calls are serialised. Nil means the
	// child inherits the descriptors and nothing is copied.
	Capture func(stream string, line []byte)
	// Started is called once the child runs.
	Started func(pid int)
}

// Result is what happened to the child.
type Result struct {
	ExitCode        int
	Signal          syscall.Signal
	Start, End      time.Time
	UserCPU, SysCPU time.Duration
	MaxRSSKB        int64
	PTY             bool
}

// Error is a failure to start the child, with gtrun's exit status for it.
type Error struct {
	Code int // 127 not found, 126 not executable, 125 other
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// LookPath resolves file like a shell would, classifying failures.
func LookPath(file string) (string, error) {
	p, err := exec.LookPath(file)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, exec.ErrDot) {
		return p, nil // an explicit ./cmd or a PATH "." entry: run it like a shell does
	}
	if filepath.Base(file) != file || errors.Is(err, fs.ErrPermission) {
		// A path: distinguish missing from not executable.
		fi, serr := os.Stat(file)
		switch {
		case serr != nil && os.IsNotExist(serr):
			return "", &Error{127, fmt.Sprintf("gtrun: %s: No such file or directory", file)}
		case serr == nil && fi.IsDir():
			return "", &Error{126, fmt.Sprintf("gtrun: %s: Is a directory", file)}
		case serr == nil:
			return "", &Error{126, fmt.Sprintf("gtrun: %s: Permission denied", file)}
		}
	}
	return "", &Error{127, fmt.Sprintf("gtrun: %s: command not found", file)}
}

func startError(path string, err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{127, fmt.Sprintf("gtrun: %s: No such file or directory", path)}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOEXEC):
		return &Error{126, fmt.Sprintf("gtrun: %s: cannot execute: %v", path, unwrapSys(err))}
	}
	return &Error{125, fmt.Sprintf("gtrun: %s: %v", path, unwrapSys(err))}
}

func unwrapSys(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// forwarded are the signals passed on to the child.
var forwarded = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM,
}

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// Run starts the child, passes its terminal through, and waits for it.
func Run(ctx context.Context, o Options) (Result, error) {
	usePTY := o.PTY == PTYOn || (o.PTY == PTYAuto && isTerminal(o.Stdout))
	// Handle signals before the child exists so none is lost in between;
	// handled (not ignored) signals reset to default in the child at exec.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, append(forwarded, syscall.SIGPIPE)...)
	defer signal.Stop(sigs)

	if usePTY {
		return runPTY(ctx, o, sigs)
	}
	return runPlain(ctx, o, sigs)
}

// started holds what both modes share after Start.
type started struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{} // closed when the child was reaped
	err   error         // Wait's error
}

// startLocked starts cmd on a locked OS thread that stays alive (and
// locked) until the child is reaped, so Pdeathsig fires only when gtrun
// really dies.
func startLocked(cmd *exec.Cmd) (*started, error) {
	s := &started{cmd: cmd, done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s.start = time.Now()
		if err := cmd.Start(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return s, nil
}

func (s *started) result(usePTY bool) Result {
	r := Result{Start: s.start, End: time.Now(), PTY: usePTY}
	ps := s.cmd.ProcessState
	if ps == nil {
		r.ExitCode = 125
		return r
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Signaled():
			r.Signal = ws.Signal()
			r.ExitCode = 128 + int(ws.Signal())
		default:
			r.ExitCode = ws.ExitStatus()
		}
	} else {
		r.ExitCode = ps.ExitCode()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru != nil {
		r.UserCPU = time.Duration(ru.Utime.Nano())
		r.SysCPU = time.Duration(ru.Stime.Nano())
		r.MaxRSSKB = ru.Maxrss
	}
	return r
}

// forward passes signals to the child until it is reaped. onWinch, when
// set, handles SIGWINCH instead (PTY resize). SIGPIPE is only noted: gtrun
// must not die of it; the copy loops handle EPIPE.
func forward(s *started, sigs <-chan os.Signal, target func() int, onWinch func()) {
	for {
		select {
		case <-s.done:
			return
		case sig := <-sigs:
			ss := sig.(syscall.Signal)
			if ss == syscall.SIGPIPE {
				continue
			}
			if ss == syscall.SIGWINCH && onWinch != nil {
				onWinch()
				continue
			}
			syscall.Kill(target(), ss)
		}
	}
}

// runPlain runs the child without a PTY.
func runPlain(ctx context.Context, o Options, sigs <-chan os.Signal) (Result, error) {
	cmd := &exec.Cmd{Path: o.Path, Args: o.Args, Env: o.Env, Dir: o.Dir, Stdin: o.Stdin}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Foreground handling: give the terminal to the child's group so that
	// terminal-generated signals reach it once, directly.
	tty := foregroundTTY(o.Stdin, o.Stdout, o.Stderr)
	if tty != nil {
		attr.Foreground = true
		attr.Ctty = int(tty.Fd())
	}
	cmd.SysProcAttr = attr

	var copies sync.WaitGroup
	var closeAfterStart []*os.File
	cap := newCapturer(o.Capture)
	if o.Capture == nil {
		cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	} else if sameFile(o.Stdout, o.Stderr) {
		r, w, err := os.Pipe()
		if err != nil {
			return Result{ExitCode: 125}, startError(o.Path, err)
		}
		cmd.Stdout, cmd.Stderr = w, w
		closeAfterStart = append(closeAfterStart, w)
		copies.Add(1)
		go func() { defer copies.Done(); cap.copy(o.Stdout, r, "combined") }()
	} else {
		for _, p := range []struct {
			dst    *os.File
			stream string
		}{{o.Stdout, "stdout"}, {o.Stderr, "stderr"}} {
			r, w, err := os.Pipe()
			if err != nil {
				return Result{ExitCode: 125}, startError(o.Path, err)
			}
			if p.stream == "stdout" {
				cmd.Stdout = w
			} else {
				cmd.Stderr = w
			}
			closeAfterStart = append(closeAfterStart, w)
			copies.Add(1)
			go func() {
				defer copies.Done()
				cap.copy(p.dst, r, p.stream)
			}()
		}
	}
	s, err := startLocked(cmd)
	for _, f := range closeAfterStart {
		f.Close()
	}
	if err != nil {
		copies.Wait()
		return Result{ExitCode: startError(o.Path, err).Code}, startError(o.Path, err)
	}
	if o.Started != nil {
		o.Started(cmd.Process.Pid)
	}
	pgid := cmd.Process.Pid
	forward(s, sigs, func() int { return -pgid }, nil)
	if tty != nil {
		takeForeground(tty)
	}
	copies.Wait()
	return s.result(false), nil
}

// foregroundTTY returns a terminal among the streams when gtrun is in that
// terminal's foreground process group.
func foregroundTTY(files ...*os.File) *os.File {
	for _, f := range files {
		if !isTerminal(f) {
			continue
		}
		pg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
		if err == nil && pg == syscall.Getpgrp() {
			return f
		}
	}
	return nil
}

// takeForeground gives the terminal back to gtrun's process group once the
// child is gone. A background group calling tcsetpgrp gets SIGTTOU, so it
// is blocked for the call.
func takeForeground(tty *os.File) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	unix.IoctlSetPointerInt(int(tty.Fd()), unix.TIOCSPGRP, syscall.Getpgrp())
}

func sameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// runPTY runs the child on a pseudo-terminal.
func runPTY(ctx context.Context, o Options, sigs <-chan os.Signal) (Result, error) {
	cmd := &exec.Cmd{Path: o.Path, Args: o.Args, Env: o.Env, Dir: o.Dir}
	if !isTerminal(o.Stdin) {
		cmd.Stdin = o.Stdin // keep piped input a pipe (and its EOF)
	}
	if !isTerminal(o.Stderr) {
		cmd.Stderr = o.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Pdeathsig: syscall.SIGKILL}

	ptmx, tty, err := pty.Open()
	if err != nil {
		return Result{ExitCode: 125}, &Error{125, fmt.Sprintf("gtrun: %s: cannot open a pty: %v", o.Path, err)}
	}
	defer ptmx.Close()
	sizeFrom := o.Stdout
	if !isTerminal(sizeFrom) {
		sizeFrom = o.Stdin
	}
	if isTerminal(sizeFrom) {
		pty.InheritSize(sizeFrom, ptmx)
	} else {
		pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80})
	}
	if cmd.Stdin == nil {
		cmd.Stdin = tty
	}
	cmd.Stdout = tty
	if cmd.Stderr == nil {
		cmd.Stderr = tty
	}
	// Setctty uses the child's fd 0 unless told otherwise; point it at the pty.
	cmd.SysProcAttr.Ctty = ctyIndex(cmd, tty)

	var restore func()
	if isTerminal(o.Stdin) {
		if st, err := term.MakeRaw(int(o.Stdin.Fd())); err == nil {
			var once sync.Once
			restore = func() { once.Do(func() { term.Restore(int(o.Stdin.Fd()), st) }) }
			defer restore()
		}
	}
	s, err := startLocked(cmd)
	tty.Close()
	if err != nil {
		if restore != nil {
			restore()
		}
		e := startError(o.Path, err)
		return Result{ExitCode: e.Code}, e
	}
	if o.Started != nil {
		o.Started(cmd.Process.Pid)
	}
	if isTerminal(o.Stdin) {
		// Keystrokes and terminal answers go to the child. This goroutine may
		// stay blocked in Read after the child is gone; gtrun exits soon after.
		go io.Copy(ptmx, o.Stdin)
	}
	out := make(chan struct{})
	cap := newCapturer(o.Capture)
	go func() {
		defer close(out)
		cap.copy(o.Stdout, ptmx, "combined")
	}()
	pid := cmd.Process.Pid
	forward(s, sigs, func() int { return -pid }, func() {
		if isTerminal(sizeFrom) {
			pty.InheritSize(sizeFrom, ptmx)
		}
	})
	// The child is gone: drain what it wrote. A grandchild holding the pty
	// open would keep the copy going; don't wait for it long.
	select {
	case <-out:
	case <-time.After(200 * time.Millisecond):
		ptmx.SetReadDeadline(time.Now())
		<-out
	}
	if restore != nil {
		restore()
	}
	return s.result(true), nil
}

// ctyIndex returns the child fd number that is the pty slave (0, 1 or 2).
func ctyIndex(cmd *exec.Cmd, tty *os.File) int {
	if f, ok := cmd.Stdin.(*os.File); ok && f == tty {
		return 0
	}
	return 1
}
