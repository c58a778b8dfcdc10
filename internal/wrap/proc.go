package wrap

// The child process and its wait loop. gtrun waits with WUNTRACED itself
// (not os/exec's Wait) because job control needs to see the child stop.

import (
	"syscall"
	"time"
)

// proc is a started child.
type proc struct {
	pid    int
	start  time.Time
	events chan waitEvent // stops, then the final status; never closed
	// release undoes what spawn set up beside the child (the darwin
	// parent-death watcher); it runs once the child is reaped.
	release func()
}

// waitEvent is one status change reported by wait4.
type waitEvent struct {
	ws  syscall.WaitStatus
	ru  syscall.Rusage
	err error // wait4 failed: the child is not ours to wait for any more
}

// wait reports the child's stops and its end. It runs on the goroutine
// that started the child (spawn): on Linux that thread must stay alive
// until the child is reaped, for Pdeathsig.
func (p *proc) wait() {
	for {
		var ev waitEvent
		_, err := syscall.Wait4(p.pid, &ev.ws, syscall.WUNTRACED, &ev.ru)
		if err == syscall.EINTR {
			continue
		}
		ev.err = err
		p.events <- ev
		if err != nil || ev.ws.Exited() || ev.ws.Signaled() {
			return
		}
	}
}
