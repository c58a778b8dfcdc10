package sink

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
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
// Cost on the call's path: a shared lease (flock), two small reads, the
// agent probe; with no agent running, a bind and the agent's start, which
// the call would pay after the append anyway. The call never waits for
// the agent: the child's connections wait in the socket's backlog.
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

// ensureReceiver returns the receiver's port and secret. With no agent
// running it binds the port and starts the agent with the socket.
func (s *Sink) ensureReceiver(dir string) (int, []byte, bool) {
	info, err := state.ReadReceiver(dir)
	if err != nil {
		return 0, nil, false
	}
	if ShipperRunning() {
		return info.Port, info.Key, info.Port != 0
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(info.Port))
	if err != nil {
		// Held: another call is starting the agent right now (else a
		// foreign program has the port: the agent moves to a new one).
		return info.Port, info.Key, info.Port != 0
	}
	defer ln.Close() // the agent has its own copy
	if p := ln.Addr().(*net.TCPAddr).Port; p != info.Port {
		info.Port = p
		if state.WriteReceiver(dir, info) != nil {
			return 0, nil, false
		}
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return 0, nil, false
	}
	defer f.Close()
	if s.spawnShipper(f) {
		s.ensured = true // the append need not start another
	}
	return info.Port, info.Key, true
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
