package wrap

// macOS specifics. Differences from Linux, all forced by what the platform
// offers without cgo (see doc.go):
//   - no Pdeathsig: a parent-death watcher (a tiny sh reading a pipe only
//     gtrun holds) kills the child's process group when gtrun dies;
//   - no raw sigaction: gtrun cannot read a disposition the Go runtime has
//     replaced, nor reset one to SIG_DFL, so ExitLike re-raises only the
//     signals the runtime itself dies of (HUP, INT, TERM; KILL), and a
//     TSTP stop is mirrored with SIGSTOP;
//   - poll(2) does not support devices on macOS; select(2) is used.

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
	ioctlInq        = 0x4004667f // FIONREAD: bytes waiting to be read
)

// watcherScript exits quietly when gtrun writes a line (the child was
// reaped) and kills the child's group when the pipe hits EOF without one:
// every holder of the write end (gtrun alone; it is close-on-exec) died.
const watcherScript = `IFS= read -r _ || kill -9 -- "-$1" 2>/dev/null`

// spawn starts the child, then its parent-death watcher.
func spawn(path string, argv, env []string, dir string, files []uintptr, attr *syscall.SysProcAttr) (*proc, error) {
	p := &proc{events: make(chan waitEvent, 8), release: func() {}}
	p.start = time.Now()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: attr})
	if err != nil {
		return nil, err
	}
	p.pid = pid
	if r, w, err := os.Pipe(); err == nil {
		null, _ := os.Open(os.DevNull)
		// Its own process group: terminal signals must not end the watcher.
		wp, err := os.StartProcess("/bin/sh", []string{"sh", "-c", watcherScript, "sh", strconv.Itoa(pid)},
			&os.ProcAttr{Files: []*os.File{r, null, null}, Sys: &syscall.SysProcAttr{Setpgid: true}})
		r.Close()
		if null != nil {
			null.Close()
		}
		if err == nil {
			p.release = func() {
				w.Write([]byte("\n"))
				w.Close()
				wp.Wait()
			}
		} else {
			w.Close()
		}
	}
	go p.wait()
	return p, nil
}

func maxRSSKB(maxrss int64) int64 { return maxrss / 1024 } // macOS reports bytes

// kernelIgnored cannot be known on macOS without cgo; see doc.go.
func kernelIgnored(syscall.Signal) bool { return false }

// stopSelf stops gtrun like the child stopped. TTIN and TTOU are never
// handled by gtrun, so raising them stops it with their default action;
// TSTP is handled (to be forwarded) and cannot be reset, so SIGSTOP stands
// in for it.
func stopSelf(sig syscall.Signal) {
	if sig != syscall.SIGTTIN && sig != syscall.SIGTTOU {
		sig = syscall.SIGSTOP
	}
	syscall.Kill(os.Getpid(), sig)
}

// withTTOUBlocked runs fn (a tcsetpgrp) with SIGTTOU ignored, then hands
// the signal to the Go runtime: a handled signal is reset to SIG_DFL in
// children at exec, where a left-over SIG_IGN would be inherited.
func withTTOUBlocked(fn func()) {
	signal.Ignore(syscall.SIGTTOU)
	fn()
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTTOU)
	signal.Stop(c)
}

// reraise kills gtrun with sig where the Go runtime lets it: after Reset,
// the runtime dies of HUP, INT and TERM by re-raising them with SIG_DFL.
// Other signals (USR1, PIPE, ...) it would swallow, and core-dumping ones
// would wake the crash reporter; ExitLike returns 128+N for those.
func reraise(sig syscall.Signal) {
	switch sig {
	case syscall.SIGKILL:
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM:
		signal.Reset(sig)
	default:
		return
	}
	syscall.Kill(os.Getpid(), sig)
	// Delivery may pick another thread; give it the moment it needs.
	for i := 0; i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// readable waits until fd (or cancel, when >= 0) is readable or has hung
// up; timeout < 0 waits forever.
func readable(fd, cancel int, timeout time.Duration) (src, canceled bool) {
	if fd >= unix.FD_SETSIZE || cancel >= unix.FD_SETSIZE {
		// select cannot watch it; the caller's non-blocking read will.
		time.Sleep(10 * time.Millisecond)
		return true, false
	}
	for {
		var set unix.FdSet
		set.Set(fd)
		n := fd
		if cancel >= 0 {
			set.Set(cancel)
			n = max(n, cancel)
		}
		var tv *unix.Timeval
		if timeout >= 0 {
			t := unix.NsecToTimeval(int64(timeout))
			tv = &t
		}
		k, err := unix.Select(n+1, &set, nil, nil, tv)
		if err == unix.EINTR {
			continue
		}
		if err != nil || k == 0 {
			return false, false
		}
		return set.IsSet(fd), cancel >= 0 && set.IsSet(cancel)
	}
}

// waitWritable waits until fd can take more bytes.
func waitWritable(fd int) {
	if fd >= unix.FD_SETSIZE {
		time.Sleep(10 * time.Millisecond)
		return
	}
	for {
		var set unix.FdSet
		set.Set(fd)
		if _, err := unix.Select(fd+1, nil, &set, nil, nil); err != unix.EINTR {
			return
		}
	}
}
