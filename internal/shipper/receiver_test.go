package shipper

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

func port(t *testing.T, dir string) int {
	t.Helper()
	info, err := state.ReadReceiver(dir)
	if err != nil {
		t.Fatal(err)
	}
	return info.Port
}

func answers(p int) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(p) + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusTeapot
}

// The receiver stays open while a call holds a lease, closes when none
// does (and keeps new leases off until it starts again), and comes back
// on the same port.
func TestReceiverLeases(t *testing.T) {
	dir := t.TempDir()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	r := NewReceiver(dir, h, nil, t.Logf)
	r.Start()
	p := port(t, dir)
	if !r.Listening() || p == 0 || !answers(p) {
		t.Fatalf("not listening on %d", p)
	}
	lease, err := state.TakeLease(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Quiesce() || !answers(p) {
		t.Fatal("closed while a call held a lease")
	}
	lease.Release()
	if !r.Quiesce() || r.Listening() || answers(p) {
		t.Fatal("still open with no lease held")
	}
	if _, err := state.TakeLease(dir, 5*time.Millisecond); err != state.ErrLocked {
		t.Fatalf("a call got a lease from a closing agent: %v", err)
	}
	r.Start()
	if port(t, dir) != p || !answers(p) {
		t.Fatalf("restarted on %d, want %d", port(t, dir), p)
	}
	if lease, err = state.TakeLease(dir, 0); err != nil {
		t.Fatalf("no lease after the restart: %v", err)
	}
	lease.Release()
}

// A port another program holds for long is given up for a new one, which
// the info file records for the next calls.
func TestReceiverMovesOffATakenPort(t *testing.T) {
	dir := t.TempDir()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	r := NewReceiver(dir, h, nil, t.Logf)
	r.Start()
	p := port(t, dir)
	r.Quiesce()
	foreign, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	r.retryEvery, r.moveAfter = 0, 50*time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for !r.Listening() && time.Now().Before(deadline) {
		r.Start()
	}
	if np := port(t, dir); !r.Listening() || np == p || !answers(np) {
		t.Fatalf("listening %v on %d (taken: %d)", r.Listening(), np, p)
	}
}
