package shipper

import (
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/journal"
)

// clock is an injected clock for the merger's retention.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestMerger(t *testing.T, dir string, c *clock) *Merger {
	t.Helper()
	m, err := NewMerger(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Now = c.now
	return m
}

// Short-lived processes each export the same counter cumulative from 0
// with their own start time: the merged increments add up to the sum of
// every process's last value (not the last process's value).
func TestMergeShortLivedCumulative(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	m := newTestMerger(t, t.TempDir(), c)
	total := 0.0
	for p := 0; p < 5; p++ {
		start := c.t.UnixNano()
		txn := m.Begin()
		// A process that lives long enough to export twice: 1, then 3.
		total += txn.Sum("calls", start, 1, true)
		total += txn.Sum("calls", start, 3, true)
		if err := txn.Commit(); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(time.Second)
	}
	if total != 15 {
		t.Fatalf("merged %v, want 15 (5 processes × 3)", total)
	}
	// A lower value under the same start time is a reset: it counts from 0.
	txn := m.Begin()
	if inc := txn.Sum("calls", c.t.Add(-time.Second).UnixNano(), 2, true); inc != 2 {
		t.Fatalf("after a reset: %v, want 2", inc)
	}
	// An up-down counter goes down instead.
	txn.Sum("live", 1, 5, false)
	if inc := txn.Sum("live", 1, 3, false); inc != -2 {
		t.Fatalf("up-down: %v, want -2", inc)
	}
	txn.Abort()
}

// The last values survive an agent restart (no double count), an aborted
// request leaves none, and a start time silent past the retention is
// forgotten.
func TestMergePersistsAndPrunes(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Unix(1_800_000_000, 0)}
	m := newTestMerger(t, dir, c)
	txn := m.Begin()
	txn.Sum("calls", 100, 4, true)
	counts, sum, n := txn.Histogram("dur", 100, []uint64{1, 2}, 30, 3)
	if n != 3 || sum != 30 || counts[1] != 2 {
		t.Fatalf("first histogram point: %v %v %v", counts, sum, n)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	txn = m.Begin()
	txn.Sum("calls", 200, 7, true) // never journaled
	txn.Abort()

	m = newTestMerger(t, dir, c) // a new agent
	txn = m.Begin()
	if inc := txn.Sum("calls", 100, 6, true); inc != 2 {
		t.Fatalf("after a restart: %v, want 2 (6 less the 4 already counted)", inc)
	}
	if inc := txn.Sum("calls", 200, 7, true); inc != 7 {
		t.Fatalf("aborted point: %v, want 7", inc)
	}
	counts, sum, n = txn.Histogram("dur", 100, []uint64{1, 5}, 70, 6)
	if n != 3 || sum != 40 || counts[0] != 0 || counts[1] != 3 {
		t.Fatalf("histogram after a restart: %v %v %v", counts, sum, n)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(2 * time.Hour)
	txn = m.Begin()
	txn.Commit() // prunes
	txn = m.Begin()
	defer txn.Abort()
	if inc := txn.Sum("calls", 100, 6, true); inc != 6 {
		t.Fatalf("past the retention: %v, want 6 (forgotten)", inc)
	}
}

// The meter adds received increments into one series that keeps its
// sender's resource, starting at 0 as its own series do.
func TestMeterReceivedSamples(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter(10*time.Second, time.Hour, time.Time{})
	res := [][2]string{{"service.name", "gastown"}}
	for i := 0; i < 3; i++ {
		s := &journal.Sample{Metric: "gastown.bd.calls.total", Kind: "sum", Resource: res, Scope: "gastown",
			Labels: [][2]string{{"subcommand", "show"}}, Time: t0.Add(time.Duration(i+1) * time.Second).UnixNano(), Value: float64(i + 1)}
		m.addSample(s, t0.Add(5*time.Second), &mark{})
	}
	g := &journal.Sample{Metric: "queue", Kind: "gauge", Resource: res, Time: t0.Add(2 * time.Second).UnixNano(), Value: 7}
	m.addSample(g, t0.Add(5*time.Second), &mark{})
	m.advance(t0.Add(10 * time.Second))
	var got []Point
	for _, sn := range m.queue {
		got = append(got, sn.points...)
	}
	// 0 before, then 1+2+3 at the tick; the gauge has no 0 sample.
	if len(got) != 3 || got[0].Value != 0 || got[1].Value != 6 || got[2].Value != 7 || !got[2].Gauge {
		t.Fatalf("points %+v", got)
	}
	if got[1].Resource[0][1] != "gastown" || got[1].Scope != "gastown" || got[1].Labels["subcommand"] != "show" {
		t.Fatalf("identity lost: %+v", got[1])
	}
}
