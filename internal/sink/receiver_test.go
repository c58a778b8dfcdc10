package sink

import (
	"net"
	"strings"
	"testing"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
)

// runningAgent plays a running agent: it holds the agent lock and a
// receiver socket recorded in the state directory.
func runningAgent(t testing.TB) net.Listener {
	t.Helper()
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	dir, err := state.Sub("shipper")
	if err != nil {
		t.Fatal(err)
	}
	lp, _ := LockPath()
	lk, err := state.TryLock(lp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Unlock() })
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	info, err := state.ReadReceiver(dir)
	if err != nil {
		t.Fatal(err)
	}
	info.Port = ln.Addr().(*net.TCPAddr).Port
	if err := state.WriteReceiver(dir, info); err != nil {
		t.Fatal(err)
	}
	return ln
}

// With an agent running, a call points its child at the agent's port with a
// token the agent can read back, and holds a lease until Close, which
// keeps the agent from closing the receiver.
func TestReceiverOfRunningAgent(t *testing.T) {
	ln := runningAgent(t)
	s := New(Config{RunID: "r1", Dest: journal.Dest{Logs: "http://127.0.0.1:9/l"}, Work: [][2]string{{"gt.work_bead", "b"}}}, nil, nil)
	r := s.Receiver(true)
	port := ln.Addr().String()
	if !strings.HasPrefix(r.Base, "http://"+port+"/") || !r.Logs || r.Metrics || r.Traces {
		t.Fatalf("receiver %+v, agent at %s", r, port)
	}
	dir, _ := state.Sub("shipper")
	info, _ := state.ReadReceiver(dir)
	cc, err := runenv.ParseReceiverToken(strings.TrimPrefix(r.Base, "http://"+port+"/"), info.Key)
	if err != nil || cc.RunID != "r1" || !cc.BDShim || cc.Work[0][1] != "b" {
		t.Fatalf("token context %+v %v", cc, err)
	}
	if lk, err := state.TryLeaseAll(dir); err == nil {
		lk.Unlock()
		t.Fatal("no lease held while the child may export")
	}
	s.Close()
	lk, err := state.TryLeaseAll(dir)
	if err != nil {
		t.Fatal("lease still held after Close")
	}
	lk.Unlock()
	// Nothing configured: no receiver, the child's environment unchanged.
	if r := New(Config{}, nil, nil).Receiver(false); r.Base != "" {
		t.Fatalf("receiver without endpoints: %+v", r)
	}
}

// The cost a wrapped call pays for the receiver when the agent runs.
func BenchmarkReceiverWarm(b *testing.B) {
	runningAgent(b)
	cfg := Config{RunID: "r1", Dest: journal.Dest{Logs: "http://127.0.0.1:9/l", Metrics: "http://127.0.0.1:9/m"}}
	for b.Loop() {
		s := New(cfg, nil, nil)
		s.Receiver(false)
		s.lease.Release()
	}
}
