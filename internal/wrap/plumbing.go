package wrap

// The child's standard descriptors.
//
//   - stdin is always the user's own (terminal, pipe or file): gtrun never
//     reads the user's input, so nothing typed ahead is swallowed, no byte
//     is echoed that the user did not type, and the child reads terminal
//     answers (ESC]11;? replies) itself.
//   - stdout/stderr are inherited unless something needs the output
//     (Capture) or a PTY is asked for. Then they go through a pipe, or, in
//     PTY mode, through a pseudo-terminal that is only an output device: it
//     is not the child's controlling terminal (no new session), so job
//     control stays on the user's terminal and closing it hangs nobody up.
//     When stdout and stderr are the same file, one channel serves both so
//     their interleaving stays exact ("combined").

import (
	"os"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

type plumbing struct {
	files     []uintptr  // the child's fds 0, 1, 2
	childEnds []*os.File // our copies of the child's ends, closed after start
	pumps     []*pump
	cancel    [2]*os.File // closing cancel[1] tells the pumps the child is gone
	master    *os.File    // PTY master, nil without PTY
	masterFd  int         // its descriptor, non-blocking (never call master.Fd again)
	sizeFrom  *os.File    // terminal whose size the PTY follows
	size      unix.Winsize
	sized     bool
	devNull   *os.File
	capturer  *capturer
}

// plumb prepares the child's descriptors for o.
func plumb(o Options, usePTY bool) (*plumbing, error) {
	pl := &plumbing{capturer: newCapturer(o.Capture)}
	ok := false
	defer func() {
		if !ok {
			pl.close()
		}
	}()
	in, err := pl.stdFd(o.Stdin)
	if err != nil {
		return nil, err
	}
	joined := o.Stdout != nil && sameFile(o.Stdout, o.Stderr)
	var out, errFd uintptr
	switch {
	case usePTY:
		stream := "stdout"
		if joined {
			stream = "combined"
		}
		slave, err := pl.openPTY(o)
		if err != nil {
			return nil, err
		}
		out = slave.Fd()
		pl.masterFd = pl.addPump(pl.master, o.Stdout, stream, ptyGrace)
	case o.Capture != nil:
		stream := "stdout"
		if joined {
			stream = "combined"
		}
		if out, err = pl.pipe(o.Stdout, stream); err != nil {
			return nil, err
		}
	default:
		if out, err = pl.stdFd(o.Stdout); err != nil {
			return nil, err
		}
	}
	switch {
	case joined && (usePTY || o.Capture != nil):
		errFd = out
	case o.Capture != nil:
		if errFd, err = pl.pipe(o.Stderr, "stderr"); err != nil {
			return nil, err
		}
	default:
		if errFd, err = pl.stdFd(o.Stderr); err != nil {
			return nil, err
		}
	}
	pl.files = []uintptr{in, out, errFd}
	if len(pl.pumps) > 0 {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		pl.cancel = [2]*os.File{r, w}
	}
	ok = true
	return pl, nil
}

// stdFd is the descriptor the child gets for f: f itself, or /dev/null
// (opened once) when the caller gave none.
func (pl *plumbing) stdFd(f *os.File) (uintptr, error) {
	if f == nil {
		if pl.devNull == nil {
			n, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return 0, err
			}
			pl.devNull = n
		}
		f = pl.devNull
	}
	return f.Fd(), nil
}

// pipe makes a pipe whose write end is the child's and whose read end is
// pumped to dst.
func (pl *plumbing) pipe(dst *os.File, stream string) (uintptr, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	pl.childEnds = append(pl.childEnds, w)
	pl.addPump(r, dst, stream, 0)
	return w.Fd(), nil
}

// addPump pumps src to dst. src's descriptor is taken once and made
// non-blocking: os.File.Fd would make it blocking again (creack/pty's
// helpers call it), so src is only ever used through that descriptor.
func (pl *plumbing) addPump(src, dst *os.File, stream string, grace time.Duration) int {
	fd := int(src.Fd())
	unix.SetNonblock(fd, true)
	pl.pumps = append(pl.pumps, &pump{src: src, fd: fd, dst: dst, stream: stream, grace: grace, cap: pl.capturer, done: make(chan struct{})})
	return fd
}

// openPTY opens the output PTY, sized like the user's terminal and with
// the user's terminal modes, except output processing: the outer terminal
// still does its own (ONLCR and the like), so the inner one must pass the
// child's bytes unchanged or every "\n" would arrive as "\r\r\n".
func (pl *plumbing) openPTY(o Options) (*os.File, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	pl.master = master
	pl.childEnds = append(pl.childEnds, slave)
	for _, f := range []*os.File{o.Stdout, o.Stdin, o.Stderr} {
		if isTerminal(f) {
			pl.sizeFrom = f
			break
		}
	}
	sfd := int(slave.Fd())
	mfd := int(master.Fd())
	if ws, err := pl.userSize(); err == nil {
		pl.size, pl.sized = *ws, true
	} else {
		pl.size = unix.Winsize{Row: 24, Col: 80}
	}
	unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &pl.size)
	src := sfd
	if pl.sizeFrom != nil {
		src = int(pl.sizeFrom.Fd())
	}
	if t, err := unix.IoctlGetTermios(src, ioctlGetTermios); err == nil {
		t.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(sfd, ioctlSetTermios, t)
	}
	return slave, nil
}

// resize makes the PTY the size of the user's terminal; it reports a
// change.
func (pl *plumbing) resize() bool {
	if pl.master == nil {
		return false
	}
	ws, err := pl.userSize()
	if err != nil || (pl.sized && *ws == pl.size) {
		return false
	}
	pl.size, pl.sized = *ws, true
	return unix.IoctlSetWinsize(pl.masterFd, unix.TIOCSWINSZ, ws) == nil
}

func (pl *plumbing) userSize() (*unix.Winsize, error) {
	if pl.sizeFrom == nil {
		return nil, unix.ENOTTY
	}
	return unix.IoctlGetWinsize(int(pl.sizeFrom.Fd()), unix.TIOCGWINSZ)
}

// closeChildEnds drops gtrun's copies of the child's ends once the child
// has its own: end of file (or EIO on the PTY) then means every writer is
// gone.
func (pl *plumbing) closeChildEnds() {
	for _, f := range pl.childEnds {
		f.Close()
	}
	pl.childEnds = nil
}

func (pl *plumbing) startPumps() {
	if len(pl.pumps) == 0 {
		return
	}
	cancel := int(pl.cancel[0].Fd())
	for _, p := range pl.pumps {
		p.started = true
		go p.run(cancel)
	}
}

// finish tells the pumps the child is gone and waits until they have
// delivered what it wrote.
func (pl *plumbing) finish() {
	for _, p := range pl.pumps {
		p.canceled.Store(true)
	}
	if pl.cancel[1] != nil {
		pl.cancel[1].Close()
		pl.cancel[1] = nil
	}
	for _, p := range pl.pumps {
		<-p.done
	}
}

func (pl *plumbing) close() {
	pl.closeChildEnds()
	for _, p := range pl.pumps {
		if !p.started {
			p.src.Close()
		}
	}
	for _, f := range pl.cancel {
		if f != nil {
			f.Close()
		}
	}
	if pl.devNull != nil {
		pl.devNull.Close()
	}
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
