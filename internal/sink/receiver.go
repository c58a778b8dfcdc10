package sink

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
)

// leaseWait bounds how long a call waits for an agent that is closing its
// receiver at this very moment (it then starts a new one).
const leaseWait = 50 * time.Millisecond

// Receiver makes sure the delivery agent's loopback OTLP receiver is up
// before the child can export, and returns where the child should send its
// own telemetry: pass it to runenv.PointAtReceiver. bdshim says that gtrun
// records every bd process itself (the receiver then drops the program's
// own bd.call records and gastown.bd.* series). The zero Receiver (nothing
// configured, or the receiver unavailable) leaves the child's environment
// as it is: it then exports to the user's endpoints itself.
//
// Cost on the call's path: a shared lease (flock), a small read, a bind
// that fails (the receiver holds the port), a stat; with nothing
// listening, the bind succeeds and the call starts the agent with the
// socket, which it would pay after the append anyway. The call never waits
// for the agent: the child's connections wait in the socket's backlog.
func (s *Sink) Receiver(bdshim bool) runenv.Receiver {
	if !s.cfg.Enabled() {
		return runenv.Receiver{}
	}
	dir, err := state.Sub("shipper")
	if err != nil {
		return runenv.Receiver{}
	}
	lease, err := state.TakeLease(dir, leaseWait)
	if err != nil {
		return runenv.Receiver{}
	}
	port, key, ok := s.ensureReceiver(dir)
	id, derr := writeDest(dir, s.cfg.Dest)
	if !ok || derr != nil {
		lease.Release()
		return runenv.Receiver{}
	}
	s.mu.Lock()
	s.lease = lease // held until Close: the agent stays up while the child may export
	s.mu.Unlock()
	cc := runenv.CallContext{Dest: id, RunID: s.cfg.RunID, Work: s.cfg.Work, BDShim: bdshim}
	return runenv.Receiver{
		Base: "http://127.0.0.1:" + strconv.Itoa(port) + "/" + runenv.ReceiverToken(cc, key),
		Logs: s.cfg.Dest.Logs != "", Metrics: s.cfg.Dest.Metrics != "", Traces: s.cfg.Dest.Traces != "",
	}
}

// ensureReceiver returns the receiver's port and secret, making sure
// something listens there: the call tries to bind the port itself. Held
// (the usual case) means the receiver, or a call starting it, listens. Free
// means nobody does (no agent, or one that is not serving: a flush's
// one-drain agent, an older gtrun-shipper, one still starting): the call
// keeps the socket and starts an agent with it, which becomes the agent or,
// finding one, serves the socket alone until idle.
func (s *Sink) ensureReceiver(dir string) (int, []byte, bool) {
	info, err := state.ReadReceiver(dir)
	if err != nil {
		return 0, nil, false
	}
	f, port, err := bindLoopback(info.Port)
	if err != nil {
		return info.Port, info.Key, info.Port != 0 && errors.Is(err, syscall.EADDRINUSE)
	}
	defer f.Close() // the agent has its own copy
	if port != info.Port {
		info.Port = port
		if state.WriteReceiver(dir, info) != nil {
			return 0, nil, false
		}
	}
	if s.spawnShipper(f) {
		s.ensured = true // the append need not start another
	}
	return port, info.Key, true
}

// bindLoopback binds and listens on 127.0.0.1:port (0: any), with raw
// system calls: a bind that fails, the usual case, costs three of them.
func bindLoopback(port int) (*os.File, int, error) {
	syscall.ForkLock.RLock() // no child may inherit it before close-on-exec
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, 0, err
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		err = syscall.Listen(fd, syscall.SOMAXCONN) // children's connections wait here
	}
	if err == nil && port == 0 {
		var sa syscall.Sockaddr
		if sa, err = syscall.Getsockname(fd); err == nil {
			port = sa.(*syscall.SockaddrInet4).Port
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), "receiver"), port, nil
}

// writeDest leaves the call's destination where the receiver finds it by
// the id the token carries (once per distinct destination: a stat after).
func writeDest(dir string, d journal.Dest) (string, error) {
	form := journal.FormatDest(d)
	id := journal.DestID(form)
	dd, err := state.Sub("shipper", "dests")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dd, id)
	if _, err := os.Stat(p); err == nil {
		return id, nil
	}
	return id, state.WriteFileAtomic(p, form)
}
