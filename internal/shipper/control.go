package shipper

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// Requests are files, so they work on every platform with no socket path
// limits: a client writes requests/<id>.req, wakes the agent with SIGUSR1,
// and waits for requests/<id>.done.

// Request is what a client asks.
type Request struct {
	Op      string        `json:"op"` // "flush"
	Timeout time.Duration `json:"timeout"`
}

// Reply answers a request.
type Reply struct {
	OK        bool          `json:"ok"`
	Endpoints []EndpointRep `json:"endpoints"`
}

// EndpointRep is one endpoint in a reply or the status.
type EndpointRep struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// An endpoint is its URL and headers: two with one URL and different
	// headers (two tenants) are two endpoints. Header names only (the
	// values may be credentials) and a hash of the whole.
	Headers   []string `json:"headers,omitempty"`
	HeaderID  string   `json:"header_id,omitempty"`
	Delivered int64    `json:"delivered"` // this lifetime
	Dropped   int64    `json:"dropped,omitempty"`
	// DeadLettered: given up on, written to the dead-letter file (all
	// lifetimes); Rejected: refused by partial successes (all lifetimes).
	DeadLettered int64     `json:"dead_lettered,omitempty"`
	Rejected     int64     `json:"rejected,omitempty"`
	Pending      bool      `json:"pending"`
	LastOK       time.Time `json:"last_ok,omitzero"`
	LastErr      string    `json:"last_err,omitempty"`
	LastErrAt    time.Time `json:"last_err_at,omitzero"`
	// Backlog: what the journal holds beyond the committed positions.
	BacklogBytes   int64 `json:"backlog_bytes"`
	BacklogRecords int64 `json:"backlog_records"`
}

type request struct {
	id       string
	deadline time.Time
	target   map[string]int64 // segment sizes when asked
	finished bool
	ok       bool // finished with everything delivered
}

// RequestDir is where requests and replies go.
func RequestDir(dir string) string { return filepath.Join(dir, "requests") }

func (s *Shipper) addRequest(id string, timeout time.Duration) *request {
	r := &request{id: id, deadline: time.Now().Add(timeout), target: map[string]int64{}}
	segs, _ := s.o.Journal.Segments()
	for _, sg := range segs {
		r.target[sg.Name] = sg.Size
	}
	s.requests[id] = r
	s.tryNow()
	s.lastData = s.o.Clock()
	return r
}

// tryNow makes every follower try once now, whatever its backoff said (a
// flush arrived, or the agent is stopping); the next failure backs off
// from where it was.
func (s *Shipper) tryNow() {
	for _, f := range s.followers {
		f.nextTry = time.Time{}
	}
}

// serveRequests picks up new requests, answers finished ones, and reports
// whether a flush is under way.
func (s *Shipper) serveRequests() bool {
	dir := RequestDir(s.o.Dir)
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".req")
		if !ok || s.requests[id] != nil {
			continue
		}
		var q Request
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil || json.Unmarshal(b, &q) != nil {
			os.Remove(filepath.Join(dir, de.Name()))
			continue
		}
		if q.Timeout <= 0 {
			q.Timeout = 30 * time.Second
		}
		s.addRequest(id, q.Timeout)
	}
	flushing := false
	for id, r := range s.requests {
		if r.finished {
			continue
		}
		done := s.reached(r.target)
		if done || time.Now().After(r.deadline) {
			r.finished, r.ok = true, done
			if id != "drain" {
				s.reply(id, done)
				delete(s.requests, id)
			}
			continue
		}
		flushing = true
	}
	return flushing
}

// reached reports whether everything up to target is delivered.
func (s *Shipper) reached(target map[string]int64) bool {
	for _, f := range s.followers {
		if f.pending() || f.busy {
			return false
		}
	}
	for seg, size := range target {
		for _, f := range append(s.followerList(), s.scan) {
			st := f.segs[seg]
			if st != nil && !st.sealed && st.committed < size {
				return false
			}
			if st == nil && s.segExists(seg) {
				return false
			}
		}
	}
	return true
}

func (s *Shipper) segExists(name string) bool {
	for _, sg := range s.segs {
		if sg.Name == name {
			return true
		}
	}
	return false
}

func (s *Shipper) reply(id string, ok bool) {
	s.statusAt = time.Time{}
	s.writeStatus() // before the reply: a status right after a flush shows it
	rep := Reply{OK: ok, Endpoints: s.endpointReps()}
	b, _ := json.Marshal(rep)
	dir := RequestDir(s.o.Dir)
	state.WriteFileAtomic(filepath.Join(dir, id+".done"), b)
	os.Remove(filepath.Join(dir, id+".req"))
}

func (s *Shipper) endpointReps() []EndpointRep {
	var out []EndpointRep
	for _, f := range s.followerList() {
		out = append(out, EndpointRep{Kind: f.kind, URL: f.url, Headers: headerNames(f.headers), HeaderID: headerID(f.headers), Delivered: f.delivered, Dropped: f.dropped,
			DeadLettered: f.deadLettered, Rejected: f.rejected,
			Pending: f.pending() || f.busy, LastOK: f.lastOK, LastErr: f.lastErr, LastErrAt: f.lastErrAt})
	}
	return out
}

// Status is what `gtrun shipper status` shows.
type Status struct {
	Running      bool          `json:"running"`
	PID          int           `json:"pid,omitempty"`
	Started      time.Time     `json:"started,omitzero"`
	Updated      time.Time     `json:"updated,omitzero"`
	JournalBytes int64         `json:"journal_bytes"`
	Segments     int           `json:"segments"`
	Torn         int64         `json:"torn_frames"`     // damaged frames skipped
	Garbled      int64         `json:"garbled_regions"` // unreadable regions skipped
	Damaged      int64         `json:"damaged_bytes"`   // the bytes of both
	Endpoints    []EndpointRep `json:"endpoints"`
	DeadLetter   string        `json:"dead_letter,omitempty"` // the dead-letter file
}

// StatusPath is where a running agent keeps its status (rewritten each second).
func StatusPath(dir string) string { return filepath.Join(dir, "status.json") }

func (s *Shipper) writeStatus() {
	if time.Since(s.statusAt) < time.Second && !s.exiting {
		return
	}
	s.statusAt = time.Now()
	st := Status{Running: !s.exiting, PID: os.Getpid(), Started: s.started, Updated: time.Now(), Torn: s.torn, Garbled: s.garbled, Damaged: s.damaged, Endpoints: s.endpointReps()}
	for _, sg := range s.segs {
		st.JournalBytes += sg.Size
		st.Segments++
	}
	b, _ := json.Marshal(st)
	state.WriteFileAtomic(StatusPath(s.o.Dir), b)
}

// writeLastRun keeps the last run seen (the default of `gtrun trace`).
func (s *Shipper) writeLastRun() {
	if s.lastRun == "" || s.lastRun == s.lastRunWritten {
		return
	}
	p := filepath.Join(filepath.Dir(s.o.Dir), "last-run")
	if state.WriteFileAtomic(p, []byte(s.lastRun+"\n")) == nil {
		s.lastRunWritten = s.lastRun
	}
}

func headerNames(h map[string]string) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// headerID is a short hash of the headers ("" for none), as the
// follower's key has it.
func headerID(h map[string]string) string {
	if len(h) == 0 {
		return ""
	}
	k := followerKey("", "", h)
	return k[strings.LastIndexByte(k, ' ')+1:]
}

func (e EndpointRep) key() string { return e.Kind + " " + e.URL + " " + e.HeaderID }
