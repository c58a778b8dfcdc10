package shipper

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

var timeZero time.Time

// checkpoint is the agent's persisted state: per follower, the committed
// offset in every segment it has not finished, and its status.
type checkpoint struct {
	Followers []followerCP `json:"followers"`
	Torn      int64        `json:"torn,omitempty"`
	Garbled   int64        `json:"garbled,omitempty"`
	Damaged   int64        `json:"damaged,omitempty"`
	LastRun   string       `json:"last_run,omitempty"`
}

type followerCP struct {
	Kind      string            `json:"kind"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Segs      map[string]int64  `json:"segs"`
	Sealed    []string          `json:"sealed,omitempty"` // segments read to their seal (committed at their end)
	LastSent  int64             `json:"last_sent,omitempty"`
	LastOK    int64             `json:"last_ok,omitempty"`
	LastErr   string            `json:"last_err,omitempty"`
	LastErrAt int64             `json:"last_err_at,omitempty"`
	Dropped   int64             `json:"dropped,omitempty"`
	Dead      int64             `json:"dead_lettered,omitempty"`
	Rejected  int64             `json:"rejected,omitempty"`
}

// CheckpointPath is where an agent keeps its checkpoint.
func CheckpointPath(dir string) string { return filepath.Join(dir, "checkpoint.json") }

func followerKey(kind, url string, headers map[string]string) string {
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\x00" + headers[k] + "\x00"))
	}
	return kind + " " + url + " " + hex.EncodeToString(h.Sum(nil)[:6])
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (f *follower) checkpoint() followerCP {
	cp := followerCP{Kind: f.kind, URL: f.url, Headers: f.headers, Segs: map[string]int64{},
		LastOK: unixOrZero(f.lastOK), LastErr: f.lastErr, LastErrAt: unixOrZero(f.lastErrAt), Dropped: f.dropped,
		Dead: f.deadLettered, Rejected: f.rejected}
	for n, st := range f.segs {
		cp.Segs[n] = st.committed
		if st.sealed && len(st.marks) == 0 && st.committed == st.read {
			cp.Sealed = append(cp.Sealed, n)
		}
	}
	sort.Strings(cp.Sealed)
	if f.meter != nil {
		cp.LastSent = unixOrZero(f.meter.sent)
	}
	return cp
}

func (s *Shipper) saveCheckpoint() {
	cp := checkpoint{Torn: s.torn, Garbled: s.garbled, Damaged: s.damaged, LastRun: s.lastRun, Followers: []followerCP{s.scan.checkpoint()}}
	for _, k := range s.order {
		cp.Followers = append(cp.Followers, s.followers[k].checkpoint())
	}
	b, err := json.Marshal(cp)
	if err == nil {
		err = state.WriteFileAtomic(CheckpointPath(s.o.Dir), b)
	}
	if err != nil {
		s.logf("checkpoint not saved: %v", err)
		return
	}
	s.dirty = false
}

// ReadCheckpoint loads an agent's checkpoint (a missing one is empty).
func ReadCheckpoint(dir string) (checkpoint, error) {
	var cp checkpoint
	b, err := os.ReadFile(CheckpointPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return cp, err
	}
	return cp, json.Unmarshal(b, &cp)
}

func (s *Shipper) loadCheckpoint() error {
	cp, err := ReadCheckpoint(s.o.Dir)
	if err != nil {
		return err
	}
	s.torn, s.garbled, s.damaged, s.lastRun = cp.Torn, cp.Garbled, cp.Damaged, cp.LastRun
	for _, fc := range cp.Followers {
		var f *follower
		if fc.Kind == kindScan {
			f = s.scan
		} else {
			f = s.follower(fc.Kind, fc.URL, fc.Headers)
		}
		sealed := map[string]bool{}
		for _, n := range fc.Sealed {
			sealed[n] = true
		}
		for n, off := range fc.Segs {
			f.segs[n] = &segState{read: off, committed: off, sealed: sealed[n]}
		}
		f.lastOK, f.lastErr, f.lastErrAt, f.dropped = fromUnix(fc.LastOK), fc.LastErr, fromUnix(fc.LastErrAt), fc.Dropped
		f.deadLettered, f.rejected = fc.Dead, fc.Rejected
		if f.meter != nil {
			f.meter = newMeter(s.o.Interval, s.o.Horizon, fromUnix(fc.LastSent))
		}
	}
	return nil
}
