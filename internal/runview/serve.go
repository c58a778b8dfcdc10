package runview

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Live follows a run for `gtrun trace --serve`: it re-reads the run's
// records every Every and serves the page (/) and its data (/run.json),
// which the page fetches to redraw itself.
type Live struct {
	ID    string
	Fetch func(ctx context.Context) ([]map[string]string, error)
	Every time.Duration // default 2s

	mu      sync.Mutex
	run     Run
	records int
	err     error
	loaded  bool
}

// LiveData is what /run.json returns.
type LiveData struct {
	RunID  string `json:"run_id"`
	Events int    `json:"events"`
	Errors int    `json:"errors"`
	Error  string `json:"error,omitempty"` // the last refresh failed: the data is older
	HTML   string `json:"html"`            // the page's <main>, as RenderHTML draws it
	Run    Run    `json:"run"`
}

func (l *Live) every() time.Duration {
	if l.Every <= 0 {
		return 2 * time.Second
	}
	return l.Every
}

// Refresh reads the records once.
func (l *Live) Refresh(ctx context.Context) error {
	recs, err := l.Fetch(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
	if err != nil {
		return err
	}
	l.run, l.records, l.loaded = Build(l.ID, recs), len(recs), true
	return nil
}

// Follow refreshes every Every until ctx ends.
func (l *Live) Follow(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.every()):
		}
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		l.Refresh(rctx)
		cancel()
	}
}

// Data returns the current state as the JSON endpoint serves it.
func (l *Live) Data() (LiveData, error) {
	l.mu.Lock()
	run, err := l.run, l.err
	if !l.loaded {
		run = Build(l.ID, nil)
	}
	l.mu.Unlock()
	frag, rerr := renderFragment(run)
	if rerr != nil {
		return LiveData{}, rerr
	}
	d := LiveData{RunID: l.ID, Events: len(run.Events), Errors: run.Errors, HTML: string(frag), Run: run}
	if err != nil {
		d.Error = err.Error()
	}
	return d, nil
}

// Handler serves / (the page) and /run.json. Requests must name a
// loopback host (no DNS rebinding of a local page).
func (l *Live) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		run := l.run
		if !l.loaded {
			run = Build(l.ID, nil)
		}
		l.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		RenderHTML(w, run, HTMLOptions{LiveURL: "run.json", LiveEvery: l.every()})
	})
	mux.HandleFunc("GET /run.json", func(w http.ResponseWriter, r *http.Request) {
		d, err := l.Data()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(d)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "gtrun trace --serve answers loopback hosts only", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// CheckLoopback refuses a listen address that is not on loopback.
func CheckLoopback(addr string) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if !loopbackHost(h) {
		return errors.New("only a loopback address (127.0.0.1, [::1], localhost) is allowed: " + addr)
	}
	return nil
}

// Serve serves the run on ln and follows it until ctx ends; it loads the
// run first unless Refresh already did. A failing load is served too (the
// page says so) and retried.
func (l *Live) Serve(ctx context.Context, ln net.Listener) error {
	l.mu.Lock()
	loaded := l.loaded
	l.mu.Unlock()
	if !loaded {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		l.Refresh(rctx)
		cancel()
	}
	srv := &http.Server{Handler: l.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go l.Follow(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	return nil
}
