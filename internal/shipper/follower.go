package shipper

import (
	"context"
	"sort"
	"time"

	"github.com/gastown/gtrun/internal/journal"
)

// Signals a follower can carry.
const (
	KindLogs    = "logs"
	KindMetrics = "metrics"
	KindTraces  = "traces"
	kindScan    = "scan" // discovers endpoints; delivers nothing
)

// mark is one journal frame read by a follower: it is committed (its
// offset saved) once nothing of it is left undelivered.
type mark struct {
	seg  string
	end  int64
	left int
}

// segState is a follower's position in one segment.
type segState struct {
	read      int64   // next offset to read
	committed int64   // everything before is delivered
	marks     []*mark // read, not yet committed, in order
	sealed    bool    // the seal frame was read: nothing follows read
	// For a segment changed under the reader (read.go, rewind): the
	// frames taken (offset -> checksum), the furthest offset read, and
	// where the last rewind happened.
	seen      map[int64]uint32
	damageAt  map[int64]bool // damage counted (the scanner's)
	high      int64
	rewoundAt int64
}

// commitReady moves committed past the leading delivered marks.
func (s *segState) commitReady() bool {
	moved := false
	for len(s.marks) > 0 && s.marks[0].left <= 0 {
		s.committed = s.marks[0].end
		s.marks = s.marks[1:]
		moved = true
	}
	if len(s.marks) == 0 && s.committed < s.read {
		s.committed, moved = s.read, true // skipped or torn frames at the end
	}
	return moved
}

// item is one log record or span waiting in a follower's batch.
type item struct {
	entry *journal.Entry
	index int // record or span index in the entry
	mark  *mark
}

// follower ships one signal to one endpoint, following the journal on its
// own: one endpoint being down never holds up another.
type follower struct {
	kind    string
	url     string
	headers map[string]string
	key     string

	segs  map[string]*segState
	batch []item
	meter *meter

	// status, also persisted
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time
	delivered int64 // records / spans / samples delivered in this lifetime
	dropped   int64 // dead-lettered or dropped by the journal bound

	failures int
	nextTry  time.Time // backoff (wall clock)
	busy     bool      // a delivery is in flight

	// The split state (policy.go): the next request carries win items
	// (0: a whole batch), the first suspect of the batch were in a
	// refused request; since is when the head began failing.
	win, suspect int
	since        time.Time
	deadLettered int64 // items written to the dead-letter file
	rejected     int64 // items refused by partial successes
}

func (f *follower) seg(name string) *segState {
	s := f.segs[name]
	if s == nil {
		s = &segState{}
		f.segs[name] = s
	}
	return s
}

// wants reports whether an entry goes to this follower's endpoint.
func (f *follower) wants(e *journal.Entry) bool {
	switch f.kind {
	case KindLogs:
		return e.Dest.Logs == f.url && sameHeaders(e.Dest.Headers, f.headers) && e.LogItems() > 0
	case KindMetrics:
		return e.Dest.Metrics == f.url && sameHeaders(e.Dest.Headers, f.headers) && len(e.Records)+len(e.Samples) > 0
	case KindTraces:
		return e.Dest.Traces == f.url && sameHeaders(e.Dest.Headers, f.headers) && e.SpanItems() > 0
	}
	return false
}

// full reports whether the follower should stop reading until it delivered.
func (f *follower) full() bool { return len(f.batch) >= maxBatch }

// pending reports whether something read is not delivered yet.
func (f *follower) pending() bool {
	if len(f.batch) > 0 || (f.meter != nil && !f.meter.idle()) {
		return true
	}
	for _, s := range f.segs {
		if len(s.marks) > 0 {
			return true
		}
	}
	return false
}

// segNames returns the follower's known segments in order.
func (f *follower) segNames() []string {
	out := make([]string, 0, len(f.segs))
	for n := range f.segs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sameHeaders(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Exporter sends batches to an endpoint; internal/export implements it
// with the OpenTelemetry exporters. An error means nothing was accepted
// (send it again later) unless it is Permanent.
type Exporter interface {
	Logs(ctx context.Context, url string, headers map[string]string, entries []*journal.Entry, records [][]int) error
	Spans(ctx context.Context, url string, headers map[string]string, entries []*journal.Entry, spans [][]int) error
	Metrics(ctx context.Context, url string, headers map[string]string, points []Point) error
}

// Permanent marks an error the endpoint will give again for this payload
// (HTTP 400, 413, 415): the batch is split, and a record refused alone is
// dead-lettered, not retried (policy.go).
type Permanent interface{ Permanent() bool }

func isPermanent(err error) bool {
	p, ok := err.(Permanent)
	return ok && p.Permanent()
}
