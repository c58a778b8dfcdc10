package shipper

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// Receiver is the agent's loopback OTLP/HTTP receiver (docs/architecture.md,
// "The receiver"): the HTTP side (decoding, journaling, the policy) is
// internal/export's handler; this is its listener's life. A call that finds
// no agent binds the port itself and hands the listening socket to the
// agent it starts, so a child's export waits in the kernel's backlog until
// the agent accepts; calls hold a shared lease on LeasePath while their
// child may export, and the agent closes the receiver only when it can take
// the lease exclusively.
type Receiver struct {
	dir     string
	handler http.Handler
	log     func(format string, args ...any)

	mu        sync.Mutex
	ln        net.Listener
	srv       *http.Server
	closing   *state.Lock // held from Quiesce until Start or exit
	failedAt  time.Time   // the last failed bind
	firstFail time.Time   // the first of a row of failed binds
	// retryEvery spaces binds of a held port; moveAfter is how long it may
	// be held before the receiver takes a new one.
	retryEvery, moveAfter time.Duration
	lastReq               atomic.Int64 // unix ns of the last request (ServeAlone's idle clock)
}

// NewReceiver returns the receiver of the agent in dir serving handler.
// ln is the socket the starting call bound (nil: bind the port on Start).
func NewReceiver(dir string, handler http.Handler, ln net.Listener, logf func(string, ...any)) *Receiver {
	r := &Receiver{dir: dir, log: logf, retryEvery: time.Second, moveAfter: 3 * time.Second}
	r.lastReq.Store(time.Now().UnixNano())
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.lastReq.Store(time.Now().UnixNano())
		handler.ServeHTTP(w, q)
	})
	if ln != nil {
		r.serve(ln)
	}
	return r
}

func (r *Receiver) serve(ln net.Listener) {
	r.ln = ln
	r.srv = &http.Server{Handler: r.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go r.srv.Serve(ln)
}

// Start listens if the receiver does not (again after Quiesce, or for an
// agent no call handed a socket to). A port held by someone else (the agent
// of a call that lost the race for the lock serves it until idle) is tried
// again at the next pass, at most once a second.
func (r *Receiver) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing != nil {
		r.closing.Unlock()
		r.closing = nil
	}
	if r.ln != nil || time.Since(r.failedAt) < r.retryEvery {
		return
	}
	// A port held for long is not a starting call's nor a lock loser's
	// (those hand it over or serve it): another program has it, so the
	// receiver moves to a new port, which the next calls read.
	ln, err := Listen(r.dir, !r.firstFail.IsZero() && time.Since(r.firstFail) >= r.moveAfter)
	if err != nil {
		if r.firstFail.IsZero() {
			r.log("receiver: %v (trying again)", err)
			r.firstFail = time.Now()
		}
		r.failedAt = time.Now()
		return
	}
	r.failedAt, r.firstFail = time.Time{}, time.Time{}
	r.serve(ln)
}

// Listen binds the receiver's port on 127.0.0.1, choosing and recording one
// when the info file has none yet (or, with fresh, always).
func Listen(dir string, fresh bool) (net.Listener, error) {
	info, err := state.ReadReceiver(dir)
	if err != nil {
		return nil, err
	}
	if fresh {
		info.Port = 0
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(info.Port))
	if err != nil {
		return nil, err
	}
	if port := ln.Addr().(*net.TCPAddr).Port; port != info.Port {
		info.Port = port
		if err := state.WriteReceiver(dir, info); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// Quiesce closes the receiver if no call holds a lease, and keeps new
// leases from being taken until Start or the process's exit. Requests in
// flight finish (their entries are in the journal) before it returns.
func (r *Receiver) Quiesce() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing != nil {
		return true
	}
	lk, err := state.TryLeaseAll(r.dir)
	if err != nil {
		return false
	}
	r.closing = lk
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.srv.Shutdown(ctx)
		cancel()
		r.ln.Close() // Shutdown closes only a listener Serve has begun with
		r.srv, r.ln = nil, nil
	}
	return true
}

// Listening reports whether the receiver accepts connections.
func (r *Receiver) Listening() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ln != nil
}

// ServeAlone keeps serving in a process that is not the agent (another
// took the lock first while this one had been handed the socket a call
// bound): until idle passes with no request and no lease, then it closes
// as Quiesce does. Requests only append to the journal, which any process
// may do; the agent delivers them.
func (r *Receiver) ServeAlone(idle time.Duration) {
	for {
		time.Sleep(pollEvery) // the idle clock's tick, not synchronisation
		if _, err := os.Stat(state.LeasePath(r.dir)); err != nil {
			return // the state directory is gone: no call can reach us
		}
		if time.Since(time.Unix(0, r.lastReq.Load())) >= idle && r.Quiesce() {
			return
		}
	}
}
