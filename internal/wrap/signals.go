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
	cont bool // SIGCONT is notified (not ignored at start)
}

func notifySignals() *signals {
	s := &signals{c: make(chan os.Signal, 32)}
	var list []os.Signal
	for _, sig := range forwarded {
		if ignoredAtStart(sig) {
			continue
		}
		list = append(list, sig)
		if sig == syscall.SIGCONT {
			s.cont = true
		}
	}
	// SIGPIPE is only noted: a write to a closed stdout must give the
	// output pump EPIPE rather than kill gtrun.
	list = append(list, syscall.SIGPIPE)
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
