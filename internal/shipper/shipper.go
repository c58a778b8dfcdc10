// Package shipper is gtrun's delivery agent (`gtrun-shipper`): one per user,
// started detached by the first wrapped call that finds none, it follows the
// journal (internal/journal) and ships every entry to the endpoints it names,
// owns the metrics (meter.go), and exits after an idle period once
// everything is delivered.
//
// Discipline (as the OpenTelemetry Collector's fileconsumer): each endpoint
// is a follower with its own position in every segment; a position is
// committed only after the endpoint answered 2xx, and saved. A crash at any
// point loses nothing: the next agent resumes from the committed positions.
// The one window for a duplicate is between a 2xx and the save of the
// checkpoint that follows it (docs/architecture.md, "at least once").
package shipper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/state"
)

// Defaults of the agent's settings.
const (
	DefaultInterval = 10 * time.Second
	DefaultIdle     = 10 * time.Minute
	DefaultMaxBytes = 256 << 20
	// DefaultHorizon bounds how far back a record is counted at its own
	// time; an older one (an agent-log reading last week's transcript)
	// counts at the start of the horizon.
	DefaultHorizon = time.Hour
	pollEvery      = 100 * time.Millisecond
	sealGrace      = 5 * time.Second
	maxBatch       = 2000
	readChunk      = 4 << 20
	metricsPerPost = 60 // snapshots per metrics request
)

// Options configure an agent.
type Options struct {
	Journal  *journal.Journal
	Dir      string // the agent's own state: checkpoint, lock, requests, status, log
	Exporter Exporter
	// Clock is the time of records, metric samples and the idle timer
	// (time.Now; tests drive it). Wall-clock mechanics (backoff, sealing,
	// request timeouts) always use the real clock.
	Clock    func() time.Time
	Interval time.Duration // metric export interval
	Idle     time.Duration
	MaxBytes int64
	Horizon  time.Duration
	Log      io.Writer // the agent's log (never a terminal)
	// Drain makes Run deliver everything there is and return, instead of
	// following until idle (gtrun flush with no agent running).
	Drain        bool
	DrainTimeout time.Duration
	// Delivery bounds (policy.go): a record refused alone by a server
	// error is dead-lettered after DeadTries tries and DeadAge; a batch
	// an endpoint does not answer after DeadTries tries and
	// UnreachableAge. A Retry-After is honoured up to MaxRetryAfter.
	DeadTries      int
	DeadAge        time.Duration
	UnreachableAge time.Duration
	MaxRetryAfter  time.Duration
	// Receiver is the loopback OTLP receiver (receiver.go); nil: none. It
	// stays open while calls hold leases, so the agent is never idle then.
	Receiver *Receiver
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Horizon <= 0 {
		o.Horizon = DefaultHorizon
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.DeadTries <= 0 {
		o.DeadTries = DefaultDeadTries
	}
	if o.DeadAge <= 0 {
		o.DeadAge = DefaultDeadAge
	}
	if o.UnreachableAge <= 0 {
		o.UnreachableAge = DefaultUnreachableAge
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
}

// ErrRunning is returned by Run when another agent holds the lock.
var ErrRunning = fmt.Errorf("another gtrun-shipper is running")

// ErrLockLost is returned by Run when the agent's lock file was removed
// (its state directory deleted, most often): another agent may start on
// a fresh lock, so this one stops at once, writing nothing more.
var ErrLockLost = fmt.Errorf("gtrun-shipper: lock file removed; exiting")

// Shipper is one running agent.
type Shipper struct {
	o         Options
	followers map[string]*follower
	order     []string // follower keys in creation order
	scan      *follower
	results   chan result
	decoded   map[frameKey]*journal.Entry
	lastData  time.Time // clock time of the last new frame read or request
	torn      int64     // damaged frames skipped in the journal
	garbled   int64     // unreadable regions (no frame header) skipped
	damaged   int64     // their bytes
	lastDest  journal.Dest
	lastRun   string
	dirty     bool
	requests  map[string]*request
	started   time.Time
	exiting   bool
	wake      chan os.Signal
	segs      []journal.Segment
	statusAt  time.Time
	finalDone bool
	// droppedWarned is when the journal bound was last logged.
	droppedWarned time.Time
	scanned       atomic.Int64 // frames the scanner read (tests wait on it)
	// lastRunWritten is what the last-run file holds.
	lastRunWritten string
	notes          map[string]*noteState // repeated log lines (policy.go)
}

type frameKey struct {
	seg string
	off int64
}

// New prepares an agent.
func New(o Options) *Shipper {
	o.defaults()
	return &Shipper{o: o, followers: map[string]*follower{}, results: make(chan result, 16),
		requests: map[string]*request{}, notes: map[string]*noteState{}, scan: &follower{kind: kindScan, key: kindScan, segs: map[string]*segState{}}}
}

// LockPath is the flock a running agent holds (it contains its pid).
func LockPath(dir string) string { return filepath.Join(dir, "lock") }

// Run takes the agent lock and follows the journal until idle (or, with
// Drain, until everything is delivered), ctx is done, or a stop request.
func (s *Shipper) Run(ctx context.Context) error {
	// Before the lock (which names our pid): a flush's SIGUSR1 must find
	// it handled, never with its default action (exit).
	s.wake = make(chan os.Signal, 1)
	signal.Notify(s.wake, syscall.SIGUSR1)
	defer signal.Stop(s.wake)
	lk, err := takeLock(s.o.Dir)
	if err != nil {
		if err == state.ErrLocked {
			return ErrRunning
		}
		return err
	}
	for {
		if err := s.runLocked(ctx, lk); err != nil {
			release(lk)
			if err == ErrLockLost {
				s.logf("%v", err)
			}
			return err
		}
		// Released: an entry appended while we were deciding to exit found
		// the lock held and started no agent. Look once more.
		release(lk)
		if s.o.Drain || ctx.Err() != nil || !s.unread() {
			return nil
		}
		if lk, err = takeLock(s.o.Dir); err != nil {
			return nil // another agent took over
		}
		s.exiting, s.finalDone = false, false
	}
}

func (s *Shipper) runLocked(ctx context.Context, lk *state.Lock) error {
	f := lk.File()
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	s.started = time.Now()
	if err := s.loadCheckpoint(); err != nil {
		s.logf("checkpoint unreadable (%v): starting over from the journal", err)
	}
	s.lastData = s.o.Clock()
	var drain *request
	if s.o.Drain {
		drain = s.addRequest("drain", s.o.DrainTimeout)
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		s.step()
		if drain != nil && drain.finished {
			s.finalSnapshots()
			if s.allDelivered() || time.Now().After(drain.deadline) {
				return s.finish()
			}
		}
		if s.exiting && s.allDelivered() {
			return s.finish()
		}
		if !s.exiting && drain == nil && s.idleFor() >= s.o.Idle && s.allDelivered() && s.receiverQuiet() {
			s.exiting = true
			s.finalSnapshots()
		}
		select {
		case <-ctx.Done():
			s.exiting = true
			s.finalSnapshots()
			s.tryNow()
			s.deliverAll()
			s.waitDeliveries(5 * time.Second)
			return s.finish()
		case r := <-s.results:
			s.handle(r)
		case <-s.wake:
		case <-tick.C:
			if !holds(lk, s.o.Dir) {
				return ErrLockLost
			}
		}
	}
}

// lockRetry is how long an agent keeps trying a held lock: whoever asks
// whether an agent runs (Running, a call) holds the lock for a moment to
// find out, and must not be taken for one.
const lockRetry = 100 * time.Millisecond

// takeLock takes the agent lock, retrying for lockRetry while it is held.
func takeLock(dir string) (*state.Lock, error) {
	deadline := time.Now().Add(lockRetry)
	for {
		lk, err := state.TryLock(LockPath(dir))
		if err != state.ErrLocked || time.Now().After(deadline) {
			return lk, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// release gives the lock up, its pid erased first: a pid left in the file
// could name another process by the time someone reads it.
func release(lk *state.Lock) {
	lk.File().Truncate(0)
	lk.Unlock()
}

// holds reports whether lk is still the file at the lock path.
func holds(lk *state.Lock, dir string) bool {
	mine, err := lk.File().Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(LockPath(dir))
	return err == nil && os.SameFile(mine, now)
}

// receiverQuiet closes the receiver unless a call holds a lease on it.
func (s *Shipper) receiverQuiet() bool { return s.o.Receiver == nil || s.o.Receiver.Quiesce() }

// step is one pass: list, seal, read, tick the meters, serve requests,
// deliver, clean up, save.
func (s *Shipper) step() {
	if s.o.Receiver != nil && !s.exiting && !s.o.Drain && !s.o.Receiver.Listening() {
		s.o.Receiver.Start() // (again, after an exit that new entries called off)
	}
	segs, err := s.o.Journal.Segments()
	if err != nil {
		s.logf("journal: %v", err)
		return
	}
	s.segs = segs
	s.seal(segs)
	s.decoded = map[frameKey]*journal.Entry{}
	s.read(s.scan, segs)
	for _, k := range s.order {
		s.read(s.followers[k], segs)
	}
	s.decoded = nil
	now := s.o.Clock()
	flushing := s.serveRequests()
	for _, f := range s.followers {
		if f.meter != nil {
			f.meter.advance(now)
			if flushing {
				f.meter.snapshotNow(now, false)
			}
		}
	}
	s.deliverAll()
	s.removeDone(segs)
	s.bound(segs)
	s.writeLastRun()
	if s.dirty {
		s.saveCheckpoint()
	}
	s.writeStatus()
}

// Scanned is how many journal frames this agent has read.
func (s *Shipper) Scanned() int64 { return s.scanned.Load() }

func (s *Shipper) idleFor() time.Duration { return s.o.Clock().Sub(s.lastData) }

// allDelivered: nothing read is undelivered and nothing unread remains.
func (s *Shipper) allDelivered() bool {
	for _, f := range s.followers {
		if f.pending() || f.busy {
			return false
		}
	}
	return !s.unread()
}

// unread reports whether the journal holds frames some follower has not read.
func (s *Shipper) unread() bool {
	segs, err := s.o.Journal.Segments()
	if err != nil {
		return false
	}
	for _, sg := range segs {
		for _, f := range append([]*follower{s.scan}, s.followerList()...) {
			st := f.segs[sg.Name]
			if st == nil || (!st.sealed && st.read < sg.Size) {
				return true
			}
		}
	}
	return false
}

func (s *Shipper) followerList() []*follower {
	out := make([]*follower, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.followers[k])
	}
	return out
}

// finalSnapshots gives every series its last sample of this lifetime, once.
func (s *Shipper) finalSnapshots() {
	if s.finalDone {
		return
	}
	s.finalDone = true
	now := s.o.Clock()
	for _, f := range s.followers {
		if f.meter != nil {
			f.meter.snapshotNow(now, true)
		}
	}
}

// Report is the outcome of a drain (Options.Drain).
func (s *Shipper) Report() Reply {
	ok := false
	if r := s.requests["drain"]; r != nil {
		ok = r.ok
	}
	return Reply{OK: ok, Endpoints: s.endpointReps()}
}

func (s *Shipper) finish() error {
	s.saveCheckpoint()
	s.writeStatus()
	return nil
}

func (s *Shipper) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "%s %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}
