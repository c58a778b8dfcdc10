package wrap

// Output pumps: copy what the child writes to the user's stdout as soon as
// it arrives, hand a copy to Capture, and stop at the right moment.
//
// While the child runs, a pump reads until end of file (every writer gone;
// EIO on a PTY master). Once the child is reaped, it drains what is
// already there and stops: it never waits for a grandchild that inherited
// the descriptor (a daemon, `cmd &`), which would keep the wrapped call
// alive long after the command the user ran; the bare command returns at
// its own exit too. Writes to the user are blocking: a slow reader slows
// the drain, it never truncates it.

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// ptyGrace: after the child's exit, the PTY master is drained until it
	// has been empty this long (or EIO: no writer left). A PTY moves bytes
	// from the writer to the master asynchronously, so "empty now" is not
	// "empty"; with no other holder, EIO comes right after the last byte.
	ptyGrace = 100 * time.Millisecond
	// maxDrain bounds the drain after exit against a grandchild that keeps
	// writing; it exceeds any kernel pipe or PTY buffer, so all the child
	// wrote before its exit is within it.
	maxDrain = 4 << 20
)

type pump struct {
	src      *os.File // owned; closed when the pump ends
	fd       int      // src's non-blocking descriptor
	dst      *os.File // nil: discard
	stream   string
	grace    time.Duration // 0: a pipe, whose "empty now" is exact
	cap      *capturer
	started  bool
	canceled atomic.Bool
	done     chan struct{}
}

// run pumps until the source is exhausted. cancel becomes readable when
// the child has been reaped.
func (p *pump) run(cancel int) {
	defer close(p.done)
	defer p.src.Close() // a reader that gave up must not leave the child blocked
	buf := make([]byte, 64<<10)
	var line []byte
	writable := p.dst != nil
	draining := false
	drained := 0
	for {
		n, err := unix.Read(p.fd, buf)
		if n > 0 {
			chunk := buf[:n]
			if writable {
				if _, werr := p.dst.Write(chunk); werr != nil {
					writable = false
					if errors.Is(werr, syscall.EPIPE) {
						// The reader went away: stop reading, so the child
						// gets SIGPIPE (pipe) on its next write, as bare.
						break
					}
				}
			}
			if p.cap.fn != nil {
				line = p.cap.lines(line, chunk, p.stream)
			}
			if draining {
				if drained += n; drained > maxDrain {
					break
				}
			}
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err != unix.EAGAIN {
			break // end of file, or EIO: every writer is gone
		}
		if !draining && p.canceled.Load() {
			draining = true
			continue
		}
		if draining && p.grace == 0 {
			break
		}
		wait, watch := time.Duration(-1), cancel
		if draining {
			wait, watch = p.grace, -1
		}
		ready, canceled := readable(p.fd, watch, wait)
		switch {
		case canceled:
			draining = true
		case !ready && draining:
			// Quiet for the grace period: what remains belongs to a
			// grandchild still holding the terminal.
			p.flush(line)
			return
		case !ready && !p.canceled.Load():
			p.flush(line) // poll failed; nothing sensible left to do
			return
		}
	}
	p.flush(line)
}

func (p *pump) flush(line []byte) {
	if p.cap.fn != nil && len(line) > 0 {
		p.cap.emit(p.stream, line)
	}
}
