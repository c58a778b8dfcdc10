package state

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReceiverInfo is the delivery agent's loopback OTLP receiver as calls find
// it: a stable port on 127.0.0.1 and the secret that authenticates the
// tokens in its URLs (runenv.ReceiverToken). The file is 0600 in the 0700
// state directory: other users can reach the port, not the secret.
type ReceiverInfo struct {
	Port int
	Key  []byte
}

// ReceiverPath is the info file in the agent's directory; LeasePath the
// file calls hold a shared flock on while a child may send to the receiver.
func ReceiverPath(dir string) string { return filepath.Join(dir, "receiver") }

// LeasePath: see ReceiverPath.
func LeasePath(dir string) string { return filepath.Join(dir, "receiver.lease") }

// ReadReceiver reads the info file, creating it (a new secret, port 0: not
// chosen yet) when missing. Two processes creating it at once agree: the
// file is linked into place only if absent, and the loser reads the winner's.
func ReadReceiver(dir string) (ReceiverInfo, error) {
	p := ReceiverPath(dir)
	if info, err := parseReceiver(p); !errors.Is(err, os.ErrNotExist) {
		return info, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	tmp := fmt.Sprintf("%s.%d.new", p, os.Getpid())
	if err := os.WriteFile(tmp, []byte(formatReceiver(ReceiverInfo{Key: key})), 0o600); err != nil {
		return ReceiverInfo{}, err
	}
	err := os.Link(tmp, p)
	os.Remove(tmp)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return ReceiverInfo{}, err
	}
	return parseReceiver(p)
}

// WriteReceiver records a new port (the secret stays).
func WriteReceiver(dir string, info ReceiverInfo) error {
	return WriteFileAtomic(ReceiverPath(dir), []byte(formatReceiver(info)))
}

func formatReceiver(info ReceiverInfo) string {
	return strconv.Itoa(info.Port) + " " + hex.EncodeToString(info.Key) + "\n"
}

func parseReceiver(p string) (ReceiverInfo, error) {
	b, err := readSmall(p)
	if err != nil {
		return ReceiverInfo{}, err
	}
	port, key, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	n, err1 := strconv.Atoi(port)
	k, err2 := hex.DecodeString(key)
	if !ok || err1 != nil || err2 != nil || len(k) < 16 || n < 0 || n > 65535 {
		return ReceiverInfo{}, fmt.Errorf("%s: malformed", p)
	}
	return ReceiverInfo{Port: n, Key: k}, nil
}

// Lease is a shared flock on the lease file: while any is held the agent
// keeps its receiver open (it takes the lock exclusively to close it).
// Raw descriptors: an *os.File's set-up (non-blocking mode, the poller)
// costs a call more than the open itself.
type Lease struct{ fd int }

// TakeLease takes a shared lease, waiting at most wait for an agent that is
// closing its receiver right now (ErrLocked after that).
func TakeLease(dir string, wait time.Duration) (*Lease, error) {
	fd, err := syscall.Open(LeasePath(dir), syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: LeasePath(dir), Err: err}
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return &Lease{fd}, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR || time.Now().After(deadline) {
			syscall.Close(fd)
			if err == syscall.EWOULDBLOCK {
				return nil, ErrLocked
			}
			return nil, err
		}
		time.Sleep(time.Millisecond)
	}
}

// Release drops the lease.
func (l *Lease) Release() {
	if l != nil && l.fd >= 0 {
		syscall.Close(l.fd)
		l.fd = -1
	}
}

// readSmall reads a file of at most 4 KiB with raw system calls.
func readSmall(p string) ([]byte, error) {
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, 4096)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: p, Err: err}
		}
		n += m
		if m == 0 || n < len(buf) {
			break // a short read of a regular file is its end
		}
	}
	return buf[:n], nil
}

// TryLeaseAll takes the lease file exclusively, without waiting: nil,
// ErrLocked while a call holds a lease.
func TryLeaseAll(dir string) (*Lock, error) { return TryLock(LeasePath(dir)) }
