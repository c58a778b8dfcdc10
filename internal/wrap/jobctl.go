package wrap

// Job control: who holds the terminal, and what happens when the child
// stops.
//
// The child runs in its own process group, so a signal sent to gtrun (by
// pid or to gtrun's group) reaches it exactly once, through gtrun. Which
// group the terminal sends Ctrl-C/Ctrl-Z/resizes to then depends on who
// is the terminal's foreground:
//   - handed over at start, when gtrun is in the foreground as a job of
//     its own (it leads its process group) and the child's stdout is the
//     terminal itself (inherit mode): the child's group is the foreground,
//     as if the shell had started it;
//   - otherwise gtrun keeps the terminal: under a shell without job
//     control (which must see Ctrl-C too), in a pipeline (`gtrun seq |
//     less` must leave `less`, in gtrun's group, in the foreground), and
//     in PTY mode, where gtrun must see SIGWINCH to resize the PTY. A child that
//     then touches the terminal is stopped by the kernel (SIGTTIN/SIGTTOU);
//     gtrun, if it is in the foreground, hands the terminal over and
//     continues it, so a pager or an editor still works.
//
// When the child stops for any other reason (Ctrl-Z), gtrun stops itself
// with the same signal, so the shell sees the job stop and takes the
// terminal back; when the shell continues gtrun (fg, bg), gtrun gives the
// terminal back to the child if it had it and gtrun is in the foreground
// again, then continues the child.

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type jobControl struct {
	tty     *os.File // gtrun's controlling terminal, nil if none known
	openedT bool     // tty was opened here (/dev/tty) and is closed here
	pgrp    int      // gtrun's process group
	child   int      // the child's process group (its pid)
	handed  bool     // the child's group was given the terminal
	usePTY  bool
	// swallowCont: gtrun stopped itself and was continued; the SIGCONT
	// that continued it is not for forwarding (gtrun continued the child).
	swallowCont bool
	contNoticed bool // SIGCONT is notified at all
	tick        *time.Ticker
	relay       *relay // PTY mode: keys for a child reading its output PTY
}

func newJobControl(o Options, usePTY bool) *jobControl {
	jc := &jobControl{pgrp: syscall.Getpgrp(), usePTY: usePTY, contNoticed: !ignoredAtStart(syscall.SIGCONT)}
	for _, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
		if isCtty(f) {
			jc.tty = f
			break
		}
	}
	return jc
}

// isCtty: f is the caller's controlling terminal (TIOCGPGRP fails with
// ENOTTY on any other terminal).
func isCtty(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil
}

func (jc *jobControl) close() {
	if jc.openedT {
		jc.tty.Close()
	}
	if jc.tick != nil {
		jc.tick.Stop()
	}
}

// terminal returns the controlling terminal, opening /dev/tty when no
// standard stream is it (the child may have opened it itself).
func (jc *jobControl) terminal() *os.File {
	if jc.tty == nil {
		f, err := os.OpenFile("/dev/tty", os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil
		}
		if !isCtty(f) {
			f.Close()
			return nil
		}
		jc.tty, jc.openedT = f, true
	}
	return jc.tty
}

func (jc *jobControl) foregroundGroup() int {
	if jc.tty == nil {
		return -1
	}
	pg, err := unix.IoctlGetInt(int(jc.tty.Fd()), unix.TIOCGPGRP)
	if err != nil {
		return -1
	}
	return pg
}

func (jc *jobControl) setForeground(pg int) bool {
	if pg == jc.child {
		jc.relay.pause() // the child reads the terminal itself from now on
	}
	var err error
	withTTOUBlocked(func() { err = unix.IoctlSetPointerInt(int(jc.tty.Fd()), unix.TIOCSPGRP, pg) })
	return err == nil
}

// handOverAtStart decides whether the child starts as the foreground:
// only when gtrun leads its own process group, i.e. a job-control shell
// (or tmux) started it as a job of its own. Sharing a group means a
// shell without job control (a script, `sh -c`) or pipeline partners are
// in it, and they must keep receiving the terminal's signals: bash stops
// a loop on Ctrl-C only if it got the SIGINT itself as well.
func (jc *jobControl) handOverAtStart(o Options) bool {
	return !jc.usePTY && jc.tty != nil && jc.pgrp == os.Getpid() && isCtty(o.Stdout) && jc.foregroundGroup() == jc.pgrp
}

func (jc *jobControl) started(pid int, handed bool) {
	jc.child, jc.handed = pid, handed
	jc.updateTick()
}

// resizeTick fires in PTY mode while the child holds the terminal (the
// kernel then sends SIGWINCH to the child's group, not to gtrun, and only
// gtrun can resize the PTY the child writes to; gtrun polls for it) and
// while a relay may be needed (relay.go).
func (jc *jobControl) resizeTick() <-chan time.Time {
	if jc.tick == nil {
		return nil
	}
	return jc.tick.C
}

func (jc *jobControl) updateTick() {
	want := jc.usePTY && (jc.handed || jc.relay != nil)
	switch {
	case want && jc.tick == nil:
		jc.tick = time.NewTicker(100 * time.Millisecond)
	case !want && jc.tick != nil:
		jc.tick.Stop()
		jc.tick = nil
	}
}

// ownContinue reports (once) that a SIGCONT was the one that continued
// gtrun after it stopped itself.
func (jc *jobControl) ownContinue() bool {
	if jc.swallowCont {
		jc.swallowCont = false
		return true
	}
	return false
}

// childStopped handles a stop of the child (wait4 WUNTRACED).
func (jc *jobControl) childStopped(sig syscall.Signal) {
	wantsTTY := sig == syscall.SIGTTIN || sig == syscall.SIGTTOU
	if wantsTTY && jc.terminal() != nil && jc.foregroundGroup() == jc.pgrp {
		// The child touched the terminal gtrun holds: give it the terminal;
		// the kernel restarts the read or tcsetattr that stopped it.
		if jc.setForeground(jc.child) {
			jc.handed = true
			jc.updateTick()
		}
		syscall.Kill(-jc.child, syscall.SIGCONT)
		return
	}
	held := jc.foregroundGroup() == jc.child
	if !orphaned() {
		// The job stops, as the bare command's would; the shell takes the
		// terminal back. An orphaned group's job-control stops are
		// discarded by the kernel, so gtrun skips straight to continuing.
		stopSelf(sig)
		jc.swallowCont = jc.contNoticed
	}
	// Continued (fg or bg).
	if (held || wantsTTY) && jc.tty != nil && jc.foregroundGroup() == jc.pgrp {
		jc.handed = jc.setForeground(jc.child)
	} else if jc.foregroundGroup() != jc.child {
		jc.handed = false
	}
	jc.updateTick()
	syscall.Kill(-jc.child, syscall.SIGCONT)
}

// childGone takes the terminal back if the child's group still holds it.
func (jc *jobControl) childGone() {
	if jc.tty != nil && jc.child != 0 && jc.foregroundGroup() == jc.child {
		jc.setForeground(jc.pgrp)
	}
	jc.handed = false
	jc.updateTick()
}

// orphaned approximates POSIX's orphaned process group for gtrun's
// group: no member has a parent in another group of the same session. It
// looks at gtrun's own parent only (the shell that runs a pipeline is the
// parent of all its members).
func orphaned() bool {
	pp := os.Getppid()
	ppg, err1 := unix.Getpgid(pp)
	psid, err2 := unix.Getsid(pp)
	sid, err3 := unix.Getsid(0)
	if err1 != nil || err2 != nil || err3 != nil {
		return true
	}
	return ppg == syscall.Getpgrp() || psid != sid
}
