package wrap

// Signal dispositions and forwarding, and ExitLike.
//
// A signal ignored when gtrun started (nohup, trap '', the INT and QUIT
// of a non-interactive shell's & job) must stay ignored for the child.
// SIG_IGN survives exec, so the rule is: do not handle it. signal.Notify
// would replace SIG_IGN by the runtime's handler, which exec resets to
// SIG_DFL in the child. So gtrun asks first and leaves such signals alone:
// not notified, hence not forwarded either.

import (
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// forwarded are the signals gtrun passes on to the child's process group.
// SIGTSTP is among them so that a Ctrl-Z that reaches gtrun (when gtrun,
// not the child, holds the terminal) stops the child, and gtrun after it.
var forwarded = []syscall.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT,
	syscall.SIGALRM, syscall.SIGTSTP,
}

// ignoredAtStart reports whether sig was ignored when gtrun started, as
// far as the process can tell: the Go runtime keeps an inherited SIG_IGN
// (and reports it through signal.Ignored) for HUP and INT, and does not
// touch TSTP, TTIN, TTOU and CONT until they are notified, so the kernel
// still has their start disposition (kernelIgnored, Linux). For the other
// signals the runtime installs its handler before any gtrun code runs and
// the inherited SIG_IGN is lost to every Go program (doc.go).
func ignoredAtStart(sig syscall.Signal) bool {
	return signal.Ignored(sig) || kernelIgnored(sig)
}

// signals is gtrun's subscription for one Run.
type signals struct {
	c    chan os.Signal
	list []syscall.Signal // what is (or will be) notified
	cont bool             // SIGCONT is notified (not ignored at start)
}

// Signals is a subscription to the signals Run passes on, made ahead of
// Run. The Go runtime registers each signal with a round trip to its signal
// thread (~25 µs each here, ~0.3 ms for the set). A caller that subscribes
// first lets that overlap its own preparation, and only the signals that
// commonly end a wrapped call (INT, TERM, HUP) are awaited before the
// child starts; the others finish registering while it runs. Until then
// (a fraction of a millisecond) they act on gtrun as on any process:
// WINCH and CONT are ignored, QUIT, USR1, USR2 and ALRM end gtrun (and the
// child with it, no orphan), TSTP stops gtrun.
type Signals struct {
	ready chan struct{} // the first set is registered
	s     *signals
}

// firstSignals are registered before the child starts.
var firstSignals = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// Subscribe starts the subscription in the background; Run waits for its
// first set before it starts the child.
func Subscribe() *Signals {
	s := &Signals{ready: make(chan struct{})}
	go func() {
		s.s = newSignals()
		first, rest := s.s.split()
		signal.Notify(s.s.c, first...)
		close(s.ready)
		signal.Notify(s.s.c, rest...)
	}()
	return s
}

func (s *Signals) get() *signals {
	if s == nil {
		return notifySignals()
	}
	<-s.ready
	return s.s
}

// newSignals decides which signals to pass on: those not ignored when
// gtrun started (see ignoredAtStart), and SIGPIPE.
func newSignals() *signals {
	s := &signals{c: make(chan os.Signal, 32)}
	for _, sig := range forwarded {
		if ignoredAtStart(sig) {
			continue
		}
		s.list = append(s.list, sig)
		if sig == syscall.SIGCONT {
			s.cont = true
		}
	}
	// SIGPIPE is only noted: a write to a closed stdout must give the
	// output pump EPIPE rather than kill gtrun.
	s.list = append(s.list, syscall.SIGPIPE)
	return s
}

// split returns the first set and the rest of s.list.
func (s *signals) split() (first, rest []os.Signal) {
	for _, sig := range s.list {
		if slices.Contains(firstSignals, sig) {
			first = append(first, sig)
		} else {
			rest = append(rest, sig)
		}
	}
	return first, rest
}

func notifySignals() *signals {
	s := newSignals()
	list := make([]os.Signal, len(s.list))
	for i, sig := range s.list {
		list[i] = sig
	}
	signal.Notify(s.c, list...)
	return s
}

func (s *signals) stop() { signal.Stop(s.c) }

// ExitLike is what gtrun should do last, with the child's Result: when the
// child died of a signal, die of the same signal, so the caller sees what
// it would have seen without gtrun. Shells depend on it: bash stops a
// `for` loop when a command died of SIGINT, not when it exited 130. If
// the signal cannot be re-raised (ignored when gtrun started, or one this
// platform cannot reset; see reraise), it returns 128+N; otherwise, and
// for a normal exit, it returns r.ExitCode.
func ExitLike(r Result) int {
	if r.Signal == 0 {
		return r.ExitCode
	}
	code := 128 + int(r.Signal)
	if ignoredAtStart(r.Signal) {
		return code // ignored by design: dying of it would be a surprise
	}
	reraise(r.Signal)
	return code
}
