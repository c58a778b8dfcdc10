package wrap

// Keyboard input for a program that reads it from its output PTY.
//
// In PTY mode the child's stdin is the user's terminal and nothing is
// relayed: typeahead stays in the terminal for whoever reads next. A few
// programs read keys from the terminal of their stdout or stderr instead
// (Debian's less opens ttyname(2); a pager started by a wrapped git or
// bd). Such a program first switches that terminal, the output PTY, to
// non-canonical mode. gtrun watches the PTY's modes and, only while it is
// non-canonical, applies the child's input modes to the user's terminal
// (so echo, Ctrl-C and Ctrl-Z behave as the child asked, the kernel
// sending the signals to gtrun, which forwards them) and relays what the
// user types into the PTY. When the PTY is canonical again, or the child
// is gone, the relay stops without reading another byte (it only reads
// what the terminal reports as already there, and only while gtrun is in
// the terminal's foreground) and the user's terminal gets back the modes
// gtrun found.

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

type relay struct {
	user     int // the user's terminal (gtrun's stdin, its controlling tty)
	master   int // the PTY master
	fg       func() bool
	saved    *unix.Termios // the user's modes before gtrun applied the child's
	set      unix.Termios  // what gtrun last wrote to the user's terminal
	applied  unix.Termios  // the PTY modes that was made from
	mirrored bool
	cancel   [2]*os.File
	stopped  chan struct{} // closed when the relay goroutine is gone
	done     bool
}

// newRelay returns nil when there is nothing to relay from: gtrun's stdin
// is not its controlling terminal.
func newRelay(stdin *os.File, masterFd int) *relay {
	if !isCtty(stdin) {
		return nil
	}
	user, pgrp := int(stdin.Fd()), syscall.Getpgrp()
	fg := func() bool {
		pg, err := unix.IoctlGetInt(user, unix.TIOCGPGRP)
		return err == nil && pg == pgrp
	}
	return &relay{user: user, master: masterFd, fg: fg}
}

// check follows the PTY's modes; it is called on a tick while the child
// runs, from the event loop (like pause and finish, never concurrently).
func (r *relay) check() {
	if r == nil || r.done {
		return
	}
	t, err := unix.IoctlGetTermios(r.master, ioctlGetTermios)
	if err != nil {
		return
	}
	if t.Lflag&unix.ICANON != 0 {
		r.stopRun()
		r.restore()
		return
	}
	if !r.fg() {
		return // the job is stopped, or the child reads the terminal itself
	}
	cur, err := unix.IoctlGetTermios(r.user, ioctlGetTermios)
	if err != nil {
		return
	}
	if !r.mirrored {
		r.saved, r.mirrored = cur, true
	}
	if *cur != r.set || *t != r.applied {
		// The child changed its modes, or the shell set its own while the
		// job was stopped (fg does not give them back).
		r.apply(t)
	}
	if r.stopped == nil {
		r.start()
	}
}

// apply gives the user's terminal the child's input modes; output modes
// and line settings stay the user's.
func (r *relay) apply(child *unix.Termios) {
	t := *r.saved
	t.Iflag, t.Lflag, t.Cc = child.Iflag, child.Lflag, child.Cc
	r.applied, r.set = *child, t
	unix.IoctlSetTermios(r.user, ioctlSetTermios, &t)
	if back, err := unix.IoctlGetTermios(r.user, ioctlGetTermios); err == nil {
		r.set = *back // as the kernel keeps it, for the comparison in check
	}
}

func (r *relay) restore() {
	if r.mirrored {
		withTTOUBlocked(func() { unix.IoctlSetTermios(r.user, ioctlSetTermios, r.saved) })
		r.mirrored = false
	}
}

func (r *relay) start() {
	c0, c1, err := os.Pipe()
	if err != nil {
		return
	}
	r.cancel = [2]*os.File{c0, c1}
	r.stopped = make(chan struct{})
	go r.run(int(c0.Fd()), r.stopped)
}

// run copies what the user types to the PTY until canceled, or until
// gtrun is no longer in the terminal's foreground (check restarts it).
func (r *relay) run(cancel int, stopped chan struct{}) {
	defer close(stopped)
	buf := make([]byte, 4096)
	for {
		ready, canceled := readable(r.user, cancel, -1)
		if canceled || !ready || !r.fg() {
			return
		}
		// Only what is already there: a read that could block would leave
		// a reader behind to swallow the next keystroke. Only in the
		// foreground (checked above; the terminal changes hands only from
		// the event loop, after stopRun): a background read would stop
		// gtrun with SIGTTIN.
		avail, err := unix.IoctlGetInt(r.user, ioctlInq)
		if err != nil {
			return
		}
		if avail == 0 {
			continue
		}
		n, _ := unix.Read(r.user, buf[:min(avail, len(buf))])
		if n > 0 {
			writeAll(r.master, buf[:n])
		}
	}
}

// stopRun ends the relay goroutine, if any, and waits for it.
func (r *relay) stopRun() {
	if r.stopped == nil {
		return
	}
	r.cancel[1].Close()
	<-r.stopped
	r.cancel[0].Close()
	r.stopped = nil
}

// pause is called before the terminal is handed to the child: the child
// reads it itself from then on, and sets its own modes.
func (r *relay) pause() {
	if r == nil {
		return
	}
	r.stopRun()
	r.mirrored = false
}

// finish is called when the child is gone: the relay stops and the user's
// terminal gets its modes back before anything else can be typed or
// echoed under the child's modes.
func (r *relay) finish() {
	if r == nil {
		return
	}
	r.stopRun()
	r.restore()
	r.done = true
}

// writeAll writes b to the non-blocking PTY master.
func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case n > 0:
			b = b[n:]
		case err == unix.EAGAIN:
			waitWritable(fd)
		case err != unix.EINTR:
			return
		}
	}
}
