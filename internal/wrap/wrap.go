package wrap

// Run: the one entry point. It decides the plumbing (inherit, pipes, or
// an output PTY), starts the child, and runs the event loop that passes
// signals on and keeps job control working until the child is reaped.

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/term"
)

// PTYMode says whether the child's output goes through a pseudo-terminal.
type PTYMode int

const (
	// PTYAuto: a PTY only when Capture is set and stdout is a terminal; a
	// child nothing reads the output of inherits the real descriptors.
	PTYAuto PTYMode = iota
	PTYOn           // always an output PTY, even without Capture
	PTYOff          // never a PTY
)

// Options describe one child.
type Options struct {
	Path   string   // resolved executable
	Args   []string // argv, argv[0] as the user typed it
	Env    []string // nil: gtrun's own environment
	Dir    string
	PTY    PTYMode
	Stdin  *os.File // nil: /dev/null, as os/exec does
	Stdout *os.File
	Stderr *os.File
	// Capture receives a copy of each output line (without "\n"); stream is
	// "stdout", "stderr" or "combined". Calls are serialised. Nil means the
	// child inherits the descriptors and nothing is copied.
	Capture func(stream string, line []byte)
	// Started is called once the child runs.
	Started func(pid int)
	// UserEnvOnE2BIG: when exec fails with E2BIG ("argument list too
	// long") with Env, run the child once more with gtrun's own
	// environment (the user's): near ARG_MAX the variables gtrun adds must
	// not stop a command that runs bare. Result.UserEnv says it happened.
	UserEnvOnE2BIG bool
	// Signals, when set, is the subscription made ahead (Subscribe). It
	// stays the caller's: Run does not end it, since ending it costs as
	// much as making it (a round trip to the runtime's signal thread per
	// signal) and a process about to exit need not. Run subscribes (and
	// unsubscribes) itself otherwise.
	Signals *Signals
}

// Result is what happened to the child.
type Result struct {
	ExitCode        int // 128+N for a signal death
	Signal          syscall.Signal
	Start, End      time.Time
	UserCPU, SysCPU time.Duration
	MaxRSSKB        int64
	PTY             bool
	UserEnv         bool // run with the user's environment (UserEnvOnE2BIG)
}

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// usesPTY applies the PTYMode rules.
func usesPTY(o Options) bool {
	switch o.PTY {
	case PTYOn:
		return true
	case PTYAuto:
		return o.Capture != nil && isTerminal(o.Stdout)
	}
	return false
}

// Run starts the child, passes its terminal through, and waits for it.
// ctx is accepted for the caller's convenience; the child's lifetime is
// its own (gtrun forwards signals rather than deciding to kill).
func Run(ctx context.Context, o Options) (Result, error) {
	_ = ctx
	usePTY := usesPTY(o)
	// Handle signals before the child exists so none is lost in between.
	// Handled signals reset to default in the child at exec; ignored ones
	// are left alone so the child inherits SIG_IGN (see signals.go).
	sigs := o.Signals.get()
	if o.Signals == nil {
		defer sigs.stop()
	}

	pl, err := plumb(o, usePTY)
	if err != nil {
		e := &Error{125, "gtrun: " + o.Path + ": " + err.Error()}
		return Result{ExitCode: e.Code}, e
	}
	defer pl.close()

	jc := newJobControl(o, usePTY)
	defer jc.close()
	if pl.master != nil {
		jc.relay = newRelay(o.Stdin, pl.masterFd)
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if jc.handOverAtStart(o) {
		// The child's group becomes the terminal's foreground before it
		// execs (os/exec does the tcsetpgrp in the child with signals
		// blocked), so terminal signals reach it once, from the kernel.
		attr.Foreground = true
		attr.Ctty = int(jc.tty.Fd())
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	p, err := spawn(o.Path, o.Args, env, o.Dir, pl.files, attr)
	userEnv := false
	if errors.Is(err, syscall.E2BIG) && o.UserEnvOnE2BIG && o.Env != nil {
		env, userEnv = os.Environ(), true
		p, err = spawn(o.Path, o.Args, env, o.Dir, pl.files, attr)
	}
	if errors.Is(err, syscall.ENOEXEC) && shellScript(o.Path) {
		// No "#!": execvp(3) and the shell run such a file with sh.
		args := append([]string{"/bin/sh", o.Path}, o.Args[1:]...)
		p, err = spawn("/bin/sh", args, env, o.Dir, pl.files, attr)
	}
	pl.closeChildEnds()
	if err != nil {
		e := startError(o.Path, err)
		return Result{ExitCode: e.Code}, e
	}
	jc.started(p.pid, attr.Foreground)
	if o.Started != nil {
		o.Started(p.pid)
	}
	pl.startPumps()

	final := loop(p, sigs, jc, pl)
	jc.relay.finish()
	jc.childGone()
	pl.finish() // drain what the child wrote, however slow the reader
	p.release()
	res := result(p.start, final, usePTY)
	res.UserEnv = userEnv
	return res, nil
}

// loop passes signals on and handles the child's stops until it is gone.
func loop(p *proc, sigs *signals, jc *jobControl, pl *plumbing) waitEvent {
	for {
		select {
		case ev := <-p.events:
			switch {
			case ev.err != nil, ev.ws.Exited(), ev.ws.Signaled():
				return ev
			case ev.ws.Stopped():
				jc.childStopped(ev.ws.StopSignal())
			}
		case sig := <-sigs.c:
			s := sig.(syscall.Signal)
			switch s {
			case syscall.SIGPIPE:
				// Only noted: gtrun must not die of it; the pumps see EPIPE.
			case syscall.SIGCONT:
				if !jc.ownContinue() {
					syscall.Kill(-jc.child, s)
				}
			case syscall.SIGWINCH:
				pl.resize()
				syscall.Kill(-jc.child, s)
			default:
				syscall.Kill(-jc.child, s)
			}
		case <-jc.resizeTick():
			if pl.resize() {
				syscall.Kill(-jc.child, syscall.SIGWINCH)
			}
			jc.relay.check()
		}
	}
}

func result(start time.Time, ev waitEvent, usePTY bool) Result {
	r := Result{Start: start, End: time.Now(), PTY: usePTY}
	if ev.err != nil {
		r.ExitCode = 125
		return r
	}
	if ev.ws.Signaled() {
		r.Signal = ev.ws.Signal()
		r.ExitCode = 128 + int(r.Signal)
	} else {
		r.ExitCode = ev.ws.ExitStatus()
	}
	r.UserCPU = time.Duration(ev.ru.Utime.Nano())
	r.SysCPU = time.Duration(ev.ru.Stime.Nano())
	r.MaxRSSKB = maxRSSKB(ev.ru.Maxrss)
	return r
}
