// Package session is the life of a tmux session gtrun starts: start (the
// session.start record), the stop protocol (session.stop exactly once per
// session and run, whoever sees the end first: the wrapper inside the pane
// when its command ends for any reason, or `session stop` when that wrapper
// was killed outright), and send (prompt.send). tmux is reached through
// internal/tmux only; records are returned to the caller, who journals them.
package session

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/tmux"
)

// Info is what `session start` leaves for `session stop` and the in-pane
// wrapper (state/sessions/NAME.json).
type Info struct {
	Name  string    `json:"name"`
	RunID string    `json:"run_id"`
	Role  string    `json:"role"`
	Start time.Time `json:"start"`
	// The session's span (when traces are on): ids fixed at start so the
	// calls made inside the session are its children.
	TraceParent string `json:"traceparent,omitempty"` // the session span itself
	ParentSpan  string `json:"parent,omitempty"`      // TRACEPARENT session start was given
}

// Store keeps sessions' Info and stop markers in a directory.
type Store struct{ Dir string }

// DefaultStore is state/sessions.
func DefaultStore() (Store, error) {
	d, err := state.Sub("sessions")
	return Store{Dir: d}, err
}

func (s Store) infoPath(name string) string {
	return filepath.Join(s.Dir, state.FileName(name)+".json")
}

// Save records a session's Info.
func (s Store) Save(si Info) error {
	b, err := json.Marshal(si)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(s.infoPath(si.Name), b)
}

// Load reads a session's Info.
func (s Store) Load(name string) (Info, error) {
	var si Info
	b, err := os.ReadFile(s.infoPath(name))
	if err != nil {
		return si, err
	}
	return si, json.Unmarshal(b, &si)
}

// stopMarker is the file whose creation claims a (session, run)'s stop.
func (s Store) stopMarker(si Info) string {
	return filepath.Join(s.Dir, state.FileName(si.Name)+"."+state.FileName(si.RunID)+".stopped")
}

// ClaimStop makes session.stop exactly once per (session, run): the first
// process to create the marker (O_EXCL) reports it.
func (s Store) ClaimStop(si Info) bool {
	f, err := os.OpenFile(s.stopMarker(si), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// Stopped reports whether the stop was claimed.
func (s Store) Stopped(si Info) bool {
	_, err := os.Stat(s.stopMarker(si))
	return err == nil
}

// Manager runs the lifecycle on one tmux server.
type Manager struct {
	Tmux  *tmux.Server
	Store Store
	Now   func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// Start saves si and creates the detached session running argv; it returns
// the session.start record (status error when tmux refused).
func (m *Manager) Start(ctx context.Context, si Info, dir string, env, argv []string) (event.Record, error) {
	rec := event.Record{Name: "session.start", Time: si.Start, Attrs: []event.Attr{
		event.String("session_id", si.Name), event.String("role", si.Role)}}
	_ = m.Store.Save(si) // without it, session stop still ends the session
	err := m.Tmux.NewSession(ctx, tmux.NewSession{Name: si.Name, Dir: dir, Env: env, Argv: argv})
	if err != nil {
		rec.Err = err.Error()
	}
	return rec, err
}

// Stop ends the session. The wrapper inside the pane reports the end; if
// it cannot within wait (it was killed outright), Stop returns the
// session.stop record to journal (nil when the pane reported, or the
// session is unknown here). A session that is not there is "no session
// NAME", not tmux's message about its socket.
func (m *Manager) Stop(ctx context.Context, name string, wait time.Duration) (*event.Record, Info, error) {
	kerr := m.Tmux.KillSession(ctx, name)
	if tmux.IsNotFound(kerr) {
		kerr = fmt.Errorf("no session %s", name)
	}
	si, lerr := m.Store.Load(name)
	if lerr != nil {
		return nil, si, kerr
	}
	for deadline := m.now().Add(wait); !m.Store.Stopped(si) && m.now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling another process's marker
	}
	if !m.Store.ClaimStop(si) {
		return nil, si, kerr
	}
	rec := &event.Record{Name: "session.stop", Attrs: []event.Attr{event.String("session_id", name),
		event.Int("duration_ms", m.now().Sub(si.Start).Milliseconds()), event.Int("exit_code", -1)}}
	return rec, si, kerr
}

// Ended is the in-pane wrapper's report when its command ended with code
// (sig: the signal that killed it; perr: why it did not start): the
// session.stop record if this process claims the stop, else nil. Ended by
// tmux (kill-session, kill-server: SIGHUP) or by a stop is a normal end; a
// failing command is an error.
func (m *Manager) Ended(si Info, code int, sig syscall.Signal, perr error) *event.Record {
	if !m.Store.ClaimStop(si) {
		return nil
	}
	rec := &event.Record{Name: "session.stop", Attrs: []event.Attr{event.String("session_id", si.Name),
		event.Int("duration_ms", m.now().Sub(si.Start).Milliseconds()), event.Int("exit_code", int64(code))}}
	if code != 0 && sig != syscall.SIGHUP && sig != syscall.SIGTERM {
		rec.Err = fmt.Sprintf("exit status %d", code)
		if perr != nil {
			rec.Err = perr.Error()
		}
	}
	return rec
}

// Send types text into the session as literal keys, then Enter after the
// debounce; the prompt.send record carries the keys only when keepKeys.
func (m *Manager) Send(ctx context.Context, name, text string, debounce time.Duration, keepKeys bool) (event.Record, error) {
	err := m.Tmux.SendLiteral(ctx, name, text)
	if err == nil {
		time.Sleep(debounce) // the agent's input box takes the text before Enter
		err = m.Tmux.SendEnter(ctx, name)
	}
	rec := event.Record{Name: "prompt.send", Attrs: []event.Attr{event.String("session", name),
		event.Int("keys_len", int64(len(text))), event.Int("debounce_ms", debounce.Milliseconds())}}
	if keepKeys {
		rec.Attrs = append(rec.Attrs, event.String("keys", parse.RedactText(text)))
	}
	if err != nil {
		rec.Err = err.Error()
	}
	return rec, err
}
