package shipper

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/catalog"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
)

// The metrics of one metrics endpoint are derived here, by the one agent,
// from the journal's records: no cross-process state, no lock. Why the
// numbers are exact in VictoriaMetrics (docs/metrics.md has the long form):
//
//   - A lifetime of the agent starts every series at 0: its first sample is
//     an explicit 0 one interval before its first value. increase() then
//     never has to guess where a counter began, and the step from the
//     previous lifetime's last value down to 0 is a counter reset, which
//     increase() handles.
//   - While alive, every series is exported at every tick of a fixed grid
//     (GT_OTEL_METRIC_INTERVAL, 10 s), so a series is never sparse and
//     increase() over any window finds the sample just before it. A sparse
//     series is what VictoriaMetrics reads wrong: samples 40 at −70 min and
//     50 at −10 min give increase(x[1h]) = 0.
//   - A record counts at its own time (the sample of the first tick at or
//     after it), not when the agent happens to see it, so a backlog read
//     late or delivered after an outage lands where it happened.
//   - Sample times only move forward across lifetimes (the last one sent
//     is persisted before sending), so two lifetimes never interleave.

// Point is one sample of one series.
type Point struct {
	Metric    string
	Labels    map[string]string
	Histogram bool
	Start     time.Time // the series' start in this lifetime
	Time      time.Time
	Value     float64  // counter
	Counts    []uint64 // histogram buckets (len(HistogramBounds)+1)
	Sum       float64
	Count     uint64
	// A series received from another program (merge.go) keeps its own
	// resource, scope, unit and bucket bounds; nil Resource: the agent's.
	Resource    [][2]string
	Scope       string
	ScopeVer    string
	Unit        string
	Bounds      []float64 // nil: HistogramBounds
	Gauge       bool
	NonMonotone bool
}

// HistogramBounds are the explicit bucket bounds of the *_duration_ms
// histograms, in milliseconds.
var HistogramBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}

type series struct {
	metric string
	labels map[string]string
	hist   bool
	start  time.Time
	value  float64
	counts []uint64
	sum    float64
	count  uint64
	recv   *journal.Sample // a received series: its identity (resource, scope, bounds…)
}

// pendingInc is an increment read from the journal and not yet in a
// snapshot.
type pendingInc struct {
	t      time.Time
	inc    catalog.Increment
	sample *journal.Sample // a received sample instead of inc
	mark   *mark
}

// snapshot is the samples of one tick plus the journal frames whose last
// increment it carries (they are delivered when it is).
type snapshot struct {
	time   time.Time
	points []Point
	marks  []*mark
}

// meter turns timed increments into cumulative snapshots on a grid.
type meter struct {
	interval time.Duration
	horizon  time.Duration // older records count at now-horizon
	last     time.Time     // latest sample time queued or sent: new ones come after
	sent     time.Time     // latest sample time handed to the exporter (persisted)
	series   map[string]*series
	keys     []string
	pending  []pendingInc
	next     time.Time // next grid tick; zero until the lifetime has a series
	queue    []snapshot
}

func newMeter(interval, horizon time.Duration, lastSent time.Time) *meter {
	return &meter{interval: interval, horizon: horizon, last: lastSent, sent: lastSent, series: map[string]*series{}}
}

// add takes a record's increments, counted at the record's time (clamped
// to [now-horizon, now]). It returns how many increments it queued.
func (m *meter) add(r event.Record, now time.Time, mk *mark) int {
	incs := catalog.Increments(r)
	t := r.Time
	if t.Before(now.Add(-m.horizon)) {
		t = now.Add(-m.horizon)
	}
	if t.After(now) {
		t = now
	}
	for _, inc := range incs {
		m.insert(pendingInc{t: t, inc: inc, mark: mk})
	}
	return len(incs)
}

// addSample takes a received sample (merge.go), counted at its own time
// clamped as add's records are.
func (m *meter) addSample(smp *journal.Sample, now time.Time, mk *mark) {
	t := time.Unix(0, smp.Time)
	if t.Before(now.Add(-m.horizon)) {
		t = now.Add(-m.horizon)
	}
	if t.After(now) {
		t = now
	}
	m.insert(pendingInc{t: t, sample: smp, mark: mk})
}

// insert keeps pending in time order (stable for equal times).
func (m *meter) insert(p pendingInc) {
	i := sort.Search(len(m.pending), func(i int) bool { return m.pending[i].t.After(p.t) })
	m.pending = append(m.pending, pendingInc{})
	copy(m.pending[i+1:], m.pending[i:])
	m.pending[i] = p
}

func (m *meter) gridCeil(t time.Time) time.Time {
	g := t.Truncate(m.interval)
	if g.Before(t) {
		g = g.Add(m.interval)
	}
	return g
}

// advance queues the snapshots of every tick up to now.
func (m *meter) advance(now time.Time) {
	if m.next.IsZero() {
		if len(m.pending) == 0 {
			return
		}
		first := m.pending[0].t
		if !first.After(m.last) {
			first = m.last.Add(time.Millisecond)
		}
		m.next = m.gridCeil(first)
	}
	for !m.next.After(now) {
		m.tick(m.next)
		m.next = m.next.Add(m.interval)
	}
}

// snapshotNow queues a sample at now, off the grid, covering everything
// read so far: for a flush when increments wait (final=false), or as the
// last sample of a lifetime (final=true).
func (m *meter) snapshotNow(now time.Time, final bool) {
	m.advance(now)
	if len(m.pending) == 0 && (!final || len(m.series) == 0 || !now.After(m.last)) {
		return
	}
	if !now.After(m.last) {
		now = m.last.Add(time.Millisecond)
	}
	m.tick(now)
	if m.next.IsZero() || !m.next.After(now) {
		m.next = m.gridCeil(now.Add(time.Nanosecond))
	}
}

// tick applies the increments due at t and queues the sample of every
// series at t.
func (m *meter) tick(t time.Time) {
	snap := snapshot{time: t}
	n := 0
	for n < len(m.pending) && !m.pending[n].t.After(t) {
		p := m.pending[n]
		if p.sample != nil {
			m.applySample(p.sample, t, &snap)
			snap.marks = append(snap.marks, p.mark)
			n++
			continue
		}
		s := m.seriesFor(p.inc, t, &snap)
		if s.hist {
			s.counts[bucketOf(p.inc.Value)]++
			s.sum += p.inc.Value
			s.count++
		} else {
			s.value += p.inc.Value
		}
		snap.marks = append(snap.marks, p.mark)
		n++
	}
	m.pending = m.pending[n:]
	if len(m.series) == 0 {
		return
	}
	for _, k := range m.keys {
		snap.points = append(snap.points, m.series[k].point(t))
	}
	m.queue = append(m.queue, snap)
	m.last = t
}

// seriesFor returns the series of inc, creating it with its 0 sample just
// before t (one interval before, but after anything sent earlier).
func (m *meter) seriesFor(inc catalog.Increment, t time.Time, snap *snapshot) *series {
	k := Identity(inc.Metric, inc.Labels)
	if s := m.series[k]; s != nil {
		return s
	}
	zero := t.Add(-m.interval)
	if !zero.After(m.last) {
		zero = m.last.Add(t.Sub(m.last) / 2)
	}
	s := &series{metric: inc.Metric, labels: inc.Labels, hist: inc.Histogram, start: zero}
	if s.hist {
		s.counts = make([]uint64, len(HistogramBounds)+1)
	}
	m.series[k] = s
	m.keys = append(m.keys, k)
	snap.points = append(snap.points, s.point(zero))
	return s
}

func (s *series) point(t time.Time) Point {
	p := Point{Metric: s.metric, Labels: s.labels, Histogram: s.hist, Start: s.start, Time: t, Value: s.value, Sum: s.sum, Count: s.count}
	if s.hist {
		p.Counts = append([]uint64(nil), s.counts...)
	}
	if r := s.recv; r != nil {
		p.Resource, p.Scope, p.ScopeVer, p.Unit, p.Bounds = r.Resource, r.Scope, r.ScopeVer, r.Unit, r.Bounds
		p.Gauge, p.NonMonotone = r.Kind == "gauge", r.NonMonotone
	}
	return p
}

// applySample adds a received increment to its series (a gauge takes the
// value), creating the series as seriesFor does; a gauge has no 0 sample.
func (m *meter) applySample(smp *journal.Sample, t time.Time, snap *snapshot) {
	k := SampleKey(smp)
	s := m.series[k]
	if s == nil {
		labels := make(map[string]string, len(smp.Labels))
		for _, kv := range smp.Labels {
			labels[kv[0]] = kv[1]
		}
		s = &series{metric: smp.Metric, labels: labels, hist: smp.Kind == "hist", recv: smp, start: t}
		if s.hist {
			s.counts = make([]uint64, len(smp.Counts))
		}
		if smp.Kind != "gauge" {
			zero := t.Add(-m.interval)
			if !zero.After(m.last) {
				zero = m.last.Add(t.Sub(m.last) / 2)
			}
			s.start = zero
			snap.points = append(snap.points, s.point(zero))
		}
		m.series[k] = s
		m.keys = append(m.keys, k)
	}
	switch {
	case smp.Kind == "gauge":
		s.value = smp.Value
	case s.hist && len(smp.Counts) == len(s.counts):
		for i, c := range smp.Counts {
			s.counts[i] += c
		}
		s.sum += smp.Sum
		s.count += smp.Count
	case !s.hist:
		s.value += smp.Value
	}
}

// SampleKey is a received series' identity: everything but the value.
func SampleKey(smp *journal.Sample) string {
	var b strings.Builder
	b.WriteString("\x02" + smp.Kind + "\x00" + smp.Metric + "\x00" + smp.Unit + "\x00" + smp.Scope + "\x00" + smp.ScopeVer)
	for _, kv := range smp.Labels {
		b.WriteString("\x00l" + kv[0] + "=" + kv[1])
	}
	for _, kv := range smp.Resource {
		b.WriteString("\x00r" + kv[0] + "=" + kv[1])
	}
	for _, f := range smp.Bounds {
		b.WriteString("\x00b" + strconv.FormatFloat(f, 'g', -1, 64))
	}
	return b.String()
}

func bucketOf(v float64) int {
	// OTLP buckets are upper-inclusive: bucket i counts bounds[i-1] < v <= bounds[i].
	return sort.SearchFloat64s(HistogramBounds, v)
}

// Identity is the key of a name with key=value pairs, in sorted key
// order: a metric series (name and labels) here, an endpoint (URL and
// headers) in export's exporter cache — one identity rule for both.
func Identity(name string, kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + kv[k])
	}
	return b.String()
}

// idle reports whether nothing waits: no increment, no unsent snapshot.
func (m *meter) idle() bool { return len(m.pending) == 0 && len(m.queue) == 0 }
