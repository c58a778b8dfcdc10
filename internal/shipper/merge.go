package shipper

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// Merger turns the cumulative data points that programs send to the
// receiver into increments of one series per identity (metric, attributes,
// resource without per-process attributes, scope), which the meter adds up
// like the increments of gtrun's own records. Several short-lived processes
// export the same identity, each cumulative from 0 with its own start time:
// the merged value is, for each identity, the sum over start times of the
// latest value seen for that start time. A point's increment is its value
// less the last value of its (identity, start time); a process that starts
// again (a new start time) contributes anew; a lower value under the same
// start time (a reset the sender did not mark) counts from 0.
//
// The last values are persisted (MergePath) after the increments are in the
// journal, so an agent restart neither loses nor counts twice what was
// received before it. Start times not updated for the retention (an hour)
// are forgotten: an exporter reports every interval (60 s by default) as
// long as it lives.
type Merger struct {
	Now       func() time.Time
	Retention time.Duration
	path      string

	mu   sync.Mutex
	last map[string]*mergeLast
}

// mergeLast is the last cumulative point of one (identity, start time).
type mergeLast struct {
	Value  float64  `json:"v,omitempty"`
	Counts []uint64 `json:"c,omitempty"`
	Sum    float64  `json:"s,omitempty"`
	Count  uint64   `json:"n,omitempty"`
	Seen   int64    `json:"t"` // unix ns (Now) of the last update
}

// MergePath is where an agent keeps its Merger's last values.
func MergePath(dir string) string { return filepath.Join(dir, "merge.json") }

// NewMerger loads the merger of an agent's directory (an unreadable state
// starts empty: received series may then count a start time twice).
func NewMerger(dir string) (*Merger, error) {
	m := &Merger{Now: time.Now, Retention: time.Hour, path: MergePath(dir), last: map[string]*mergeLast{}}
	b, err := os.ReadFile(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m.last)
	}
	if err != nil {
		m.last = map[string]*mergeLast{}
	}
	return m, err
}

// MergeTxn holds the increments of one request until its journal entry is
// written: Commit makes them the last values, Abort forgets them.
type MergeTxn struct {
	m    *Merger
	next map[string]*mergeLast
}

// Begin starts a request's merge. Only one runs at a time: Commit or Abort
// ends it.
func (m *Merger) Begin() *MergeTxn {
	m.mu.Lock()
	return &MergeTxn{m: m, next: map[string]*mergeLast{}}
}

func (t *MergeTxn) prev(key string) *mergeLast {
	if p := t.next[key]; p != nil {
		return p
	}
	return t.m.last[key]
}

func startKey(identity string, start int64) string {
	return identity + "\x01" + time.Unix(0, start).UTC().Format(time.RFC3339Nano)
}

// Sum returns the increment of a cumulative sum point. monotone: a value
// below the last one is a reset (counts from 0); else it is a decrease.
func (t *MergeTxn) Sum(identity string, start int64, value float64, monotone bool) float64 {
	k := startKey(identity, start)
	inc := value
	if p := t.prev(k); p != nil && (!monotone || value >= p.Value) {
		inc = value - p.Value
	}
	t.next[k] = &mergeLast{Value: value, Seen: t.m.Now().UnixNano()}
	return inc
}

// Histogram returns the increments of a cumulative histogram point: bucket
// counts, sum and count (a count below the last one is a reset).
func (t *MergeTxn) Histogram(identity string, start int64, counts []uint64, sum float64, count uint64) ([]uint64, float64, uint64) {
	k := startKey(identity, start)
	dc := append([]uint64(nil), counts...)
	ds, dn := sum, count
	if p := t.prev(k); p != nil && count >= p.Count && len(p.Counts) == len(counts) {
		for i := range dc {
			dc[i] -= min(dc[i], p.Counts[i])
		}
		ds, dn = sum-p.Sum, count-p.Count
	}
	t.next[k] = &mergeLast{Counts: append([]uint64(nil), counts...), Sum: sum, Count: count, Seen: t.m.Now().UnixNano()}
	return dc, ds, dn
}

// Commit makes the request's points the last values and saves them.
func (t *MergeTxn) Commit() error {
	m := t.m
	defer m.mu.Unlock()
	for k, v := range t.next {
		m.last[k] = v
	}
	m.prune()
	b, err := json.Marshal(m.last)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(m.path, b)
}

// Abort forgets the request's points (its entry was not written).
func (t *MergeTxn) Abort() { t.m.mu.Unlock() }

func (m *Merger) prune() {
	cut := m.Now().Add(-m.Retention).UnixNano()
	for k, v := range m.last {
		if v.Seen < cut {
			delete(m.last, k)
		}
	}
}
