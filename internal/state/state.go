// Package state owns gtrun's per-user state directory ($XDG_STATE_HOME/gtrun,
// else ~/.local/state/gtrun): spool, metric counters, checkpoints, last run,
// agent-log locks. Directories are 0700 and files 0600; nothing lives under a
// predictable name in a shared /tmp.
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Dir returns the state directory, creating it (0700) when missing.
// GTRUN_STATE_DIR overrides it (tests, sandboxes).
func Dir() (string, error) {
	d, err := Path()
	if err != nil {
		return "", err
	}
	return d, MkdirAll(d)
}

// Path is Dir, or one of its subdirectories, without creating anything.
func Path(name ...string) (string, error) {
	d := os.Getenv("GTRUN_STATE_DIR")
	if d == "" {
		if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
			d = filepath.Join(x, "gtrun")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("state dir: %w", err)
			}
			d = filepath.Join(home, ".local", "state", "gtrun")
		}
	}
	return filepath.Join(append([]string{d}, name...)...), nil
}

// Sub returns a subdirectory of the state directory, created 0700.
func Sub(name ...string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{d}, name...)...)
	return p, MkdirAll(p)
}

// verified holds the directories this process has checked: a wrapped call
// asks for the state directory a few times, and each check is syscalls.
var verified sync.Map

// MkdirAll creates p with mode 0700 and refuses a directory that another
// user owns or that others can write (a planted directory).
func MkdirAll(p string) error {
	if _, ok := verified.Load(p); ok {
		return nil
	}
	if err := mkdirAll(p); err != nil {
		return err
	}
	verified.Store(p, true)
	return nil
}

func mkdirAll(p string) error {
	if err := os.MkdirAll(p, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("state dir %s is owned by uid %d, not by you", p, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state dir %s is writable by others (mode %v)", p, fi.Mode().Perm())
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see the old or the new content, never a
// partial one, even if the process is killed halfway.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if err := f.Chmod(0o600); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}

// Lock is an exclusive flock(2) on a file. The kernel drops it when the
// process dies, so a kill -9 never leaves a stale lock behind.
type Lock struct{ f *os.File }

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

func openLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// LockFile blocks until it holds the lock on path.
func LockFile(path string) (*Lock, error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f}, nil
}

// TryLock takes the lock on path without waiting; ErrLocked when held.
func TryLock(path string) (*Lock, error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, ErrLocked
		}
		return nil, err
	}
	return &Lock{f}, nil
}

// Held reports whether someone holds the lock on path (TryLock's), without
// taking it: a shared lock for a moment, so that two who ask at once do
// not see each other as the holder, and the holder-to-be only waits a
// moment (it retries).
func Held(path string) (bool, error) {
	// Raw descriptors: an *os.File's set-up costs a call more than the open.
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	if err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if err == syscall.EWOULDBLOCK {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// File returns the locked file (e.g. to write a PID into it).
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing drops the flock
	l.f = nil
	return err
}

// FileName makes s (a session name, a run id) usable as a file name: every
// byte outside [A-Za-z0-9._-] becomes '_'.
func FileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
