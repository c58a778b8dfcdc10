package backendtest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Gate stands between gtrun and a real server on a fixed loopback address,
// so one endpoint URL can be down and then up again (a call's endpoints
// travel with its records): Refuse (nothing listens), Hold (a black hole:
// connections accepted and never answered), Pass (bytes relayed to the
// server).
type Gate struct {
	t        testing.TB
	addr     string
	upstream string

	mu    sync.Mutex
	mode  string
	ln    net.Listener
	conns []net.Conn
	held  int
}

// Held is how many connections the gate has held unanswered so far.
func (g *Gate) Held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// NewGate returns a gate to the server at upstream (http://host:port…),
// in mode Refuse. URL gives the same path on the gate's address.
func NewGate(t testing.TB, upstream string) *Gate {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{t: t, addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), upstream: u.Host, mode: "refuse"}
	t.Cleanup(func() { g.Refuse() })
	return g
}

// URL is the gate's address with path.
func (g *Gate) URL(path string) string { return "http://" + g.addr + path }

// Refuse closes the gate: connections are refused.
func (g *Gate) Refuse() { g.set("refuse") }

// Hold accepts connections and never answers them.
func (g *Gate) Hold() { g.set("hold") }

// Pass relays connections to the server.
func (g *Gate) Pass() { g.set("pass") }

func (g *Gate) set(mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = mode
	for _, c := range g.conns {
		c.Close() // a held or relayed connection ends with the mode
	}
	g.conns = nil
	if mode == "refuse" {
		if g.ln != nil {
			g.ln.Close()
			g.ln = nil
		}
		return
	}
	if g.ln != nil {
		return
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", g.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port is in TIME_WAIT a moment after a close
	}
	if err != nil {
		g.t.Errorf("backendtest: gate cannot listen on %s again: %v", g.addr, err)
		return
	}
	g.ln = ln
	go g.serve(ln)
}

func (g *Gate) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		mode := g.mode
		g.conns = append(g.conns, c)
		if mode == "hold" {
			g.held++
		}
		g.mu.Unlock()
		if mode == "pass" {
			go g.relay(c)
		}
	}
}

func (g *Gate) relay(c net.Conn) {
	up, err := net.Dial("tcp", g.upstream)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	g.conns = append(g.conns, up)
	g.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}
