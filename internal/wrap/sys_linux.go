package wrap

// Linux specifics: Pdeathsig for "no orphan", raw rt_sigaction for the
// dispositions the Go runtime does not expose, per-thread signal masks,
// poll(2).

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
	ioctlInq        = unix.TIOCINQ // bytes waiting to be read
)

// spawn starts the child on a locked OS thread that stays alive (and
// locked) until the child is reaped: Linux ties Pdeathsig to the thread
// that forked, so the child gets SIGKILL exactly when gtrun really dies.
func spawn(path string, argv, env []string, dir string, files []uintptr, attr *syscall.SysProcAttr) (*proc, error) {
	attr.Pdeathsig = syscall.SIGKILL
	p := &proc{events: make(chan waitEvent, 8), release: func() {}}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p.start = time.Now()
		pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: attr})
		if err != nil {
			errc <- err
			return
		}
		p.pid = pid
		errc <- nil
		p.wait()
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return p, nil
}

func maxRSSKB(maxrss int64) int64 { return maxrss } // Linux reports KiB

// kSigaction is the kernel's struct sigaction, oversized. All zeroes is
// SIG_DFL with no flags and an empty mask whatever the field order.
type kSigaction [8]uint64

func rtSigaction(sig syscall.Signal, act, old *kSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// kernelIgnored reports whether sig is SIG_IGN right now. For the signals
// the Go runtime leaves alone until Notify (TSTP, TTIN, TTOU, CONT) this is
// still the disposition gtrun started with.
func kernelIgnored(sig syscall.Signal) bool {
	var old kSigaction
	return rtSigaction(sig, nil, &old) == nil && old[0] == 1 // SIG_IGN
}

func sigset(sig syscall.Signal) *unix.Sigset_t {
	var s unix.Sigset_t
	n := uint(sig) - 1
	s.Val[n/64] |= 1 << (n % 64)
	return &s
}

// raiseDefault delivers sig to the calling thread with the default action
// and the signal unblocked, then restores the previous disposition (if
// the process is still alive to care). A stop signal stops the whole
// process before tgkill returns: the signal is thread-directed, so the
// calling thread acts on it on its way back from the system call.
func raiseDefault(sig syscall.Signal) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var dfl, old kSigaction
	if sig != syscall.SIGSTOP && sig != syscall.SIGKILL {
		if err := rtSigaction(sig, &dfl, &old); err != nil {
			return err
		}
		defer rtSigaction(sig, &old, nil)
	}
	var mask unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_UNBLOCK, sigset(sig), &mask)
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &mask, nil)
	return unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
}

// stopSelf stops gtrun with the same signal the child stopped with, so the
// shell reports the job as it would have reported the bare command.
func stopSelf(sig syscall.Signal) { raiseDefault(sig) }

// withTTOUBlocked runs fn (a tcsetpgrp) with SIGTTOU blocked on the
// calling thread: a background process may then take the terminal without
// the kernel stopping its whole process group, and gtrun's dispositions,
// which children inherit, are untouched.
func withTTOUBlocked(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_BLOCK, sigset(syscall.SIGTTOU), &old)
	fn()
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

// coreSignal: the default action dumps core.
func coreSignal(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS,
		syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGSYS, syscall.SIGXCPU, syscall.SIGXFSZ:
		return true
	}
	return false
}

// reraise kills gtrun with sig. A core-dumping signal is re-raised too,
// after PR_SET_DUMPABLE=0, which stops the kernel before it writes a core
// file or hands one to a core_pattern pipe (systemd-coredump, apport): the
// caller sees the signal death, nobody finds a core of gtrun.
func reraise(sig syscall.Signal) {
	if !terminating(sig) {
		return
	}
	if coreSignal(sig) {
		if unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) != nil {
			return
		}
	}
	raiseDefault(sig)
}

// terminating: the default action ends the process.
func terminating(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGKILL, syscall.SIGPIPE, syscall.SIGALRM,
		syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGVTALRM, syscall.SIGPROF,
		syscall.SIGIO, syscall.SIGPWR, syscall.SIGSTKFLT:
		return true
	}
	return coreSignal(sig) || (sig >= 34 && sig <= 64) // realtime signals terminate
}

// readable waits until fd (or cancel, when >= 0) is readable or has hung
// up; timeout < 0 waits forever.
func readable(fd, cancel int, timeout time.Duration) (src, canceled bool) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if cancel >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(cancel), Events: unix.POLLIN})
	}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return false, false
		}
		src = fds[0].Revents != 0
		canceled = len(fds) > 1 && fds[1].Revents != 0
		return src, canceled
	}
}

// waitWritable waits until fd can take more bytes.
func waitWritable(fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}
