package shipper

import (
	"errors"
	"fmt"
	"time"
)

// The delivery state machine of one follower (docs/architecture.md,
// "Delivery"): a batch the endpoint refuses is split in halves until the
// refused record is alone; a record refused alone is dead-lettered at once
// when the refusal is for good (400, 413, 415), after DeadTries tries and
// DeadAge when it is a server error; a batch the endpoint does not take at
// all (down, 429, 502–504), or any batch once the endpoint has accepted
// nothing for UnreachableAge, is retried whole with backoff (or as long as
// its Retry-After says, capped) and dead-lettered after DeadTries tries
// past UnreachableAge. Nothing ever waits behind a record longer than that.

// Defaults of the delivery bounds.
const (
	DefaultDeadTries      = 10
	DefaultDeadAge        = time.Hour
	DefaultUnreachableAge = 24 * time.Hour
	DefaultMaxRetryAfter  = 5 * time.Minute
	maxBackoff            = 30 * time.Second
)

// Errors an Exporter returns may tell more than Permanent.
type (
	// answered carries the endpoint's HTTP status (0: no answer).
	answered interface{ HTTPStatus() int }
	// throttled carries the endpoint's Retry-After.
	throttled interface{ RetryAfter() time.Duration }
	// partial is a 2xx that refused some items (OTLP partial success):
	// the rest was accepted.
	partial interface{ RejectedItems() int64 }
)

func statusOf(err error) int {
	var a answered
	if errors.As(err, &a) {
		return a.HTTPStatus()
	}
	return 0
}

func retryAfterOf(err error) time.Duration {
	var t throttled
	if errors.As(err, &t) {
		return t.RetryAfter()
	}
	return 0
}

func rejectedOf(err error) int64 {
	var p partial
	if err != nil && errors.As(err, &p) {
		return p.RejectedItems()
	}
	return 0
}

// unavailable: the endpoint did not look at the payload (no answer, a
// timeout, throttling, a gateway or an overloaded server), so splitting
// it cannot help.
func unavailable(status int) bool {
	switch status {
	case 0, 408, 429, 502, 503, 504:
		return true
	}
	return false
}

// failed handles a delivery the endpoint did not accept.
func (s *Shipper) failed(f *follower, r result, now time.Time) {
	status := statusOf(r.err)
	f.lastErr, f.lastErrAt = r.err.Error(), now
	if f.since.IsZero() {
		f.since = now // the endpoint has accepted nothing since
	}
	f.failures++
	o := s.o
	forGood := isPermanent(r.err)
	// Refusing everything for UnreachableAge is an endpoint that is broken,
	// not a record it cannot take: batches go whole, as to one that is down.
	broken := now.Sub(f.since) >= o.UnreachableAge
	switch {
	case !unavailable(status) && !broken && len(r.items) > 1:
		f.split(len(r.items))
		s.note(f.key+" split", "%s %s: %v: batch of %d split in halves to find what the endpoint refuses",
			f.kind, f.url, r.err, len(r.items))
		if !forGood {
			f.backoff(now, retryAfterOf(r.err), o.MaxRetryAfter)
		}
	case forGood:
		s.deadLetter(f, r, "refused", status)
	case !unavailable(status) && !broken && f.failures >= o.DeadTries && now.Sub(f.since) >= o.DeadAge:
		s.deadLetter(f, r, "failing", status)
	case f.failures >= o.DeadTries && broken:
		s.deadLetter(f, r, "unreachable", status)
	default:
		f.backoff(now, retryAfterOf(r.err), o.MaxRetryAfter)
		s.note(f.key+" retry", "%s %s: %v (retrying; try %d, next in %v)", f.kind, f.url, r.err, f.failures,
			f.nextTry.Sub(now).Round(time.Millisecond))
	}
	s.dirty = true
}

// split makes the next request carry the first half of a refused batch of
// n items; the whole n stay suspect until they are through.
func (f *follower) split(n int) {
	f.suspect, f.win = n, n/2
	f.failures, f.nextTry = 0, time.Time{}
}

// passed moves the split state past n items settled at the front: once
// the suspect region is through, batches are whole again. Inside it, the
// rest is tried as one batch (split again if it fails).
func (f *follower) passed(n int) {
	if f.suspect > n {
		f.suspect -= n
		f.win = f.suspect
	} else {
		f.suspect, f.win = 0, 0
	}
	f.since = time.Time{}
}

// backoff schedules the next try after a failure: the endpoint's
// Retry-After when it gave one (capped), else 0.5 s doubling to 30 s.
func (f *follower) backoff(now time.Time, retryAfter, maxRetryAfter time.Duration) {
	d := min(500*time.Millisecond<<min(max(f.failures-1, 0), 6), maxBackoff)
	if retryAfter > 0 {
		d = min(retryAfter, maxRetryAfter)
	}
	f.nextTry = now.Add(d)
}

// deadLetter gives up on what r carried: written to the dead-letter file,
// counted (status, gastown.telemetry.dropped.total{reason}), and taken off
// the follower, so what follows is sent at once.
func (s *Shipper) deadLetter(f *follower, r result, reason string, status int) {
	n := int64(r.n)
	f.dropped += n
	f.deadLettered += n
	s.writeDeadLetter(f, r, reason, status)
	s.note(f.key+" dead", "%s %s: %d item(s) dead-lettered (%s, %v, try %d, failing for %v): see %s",
		f.kind, f.url, n, reason, r.err, f.failures, time.Since(f.since).Round(time.Second), DeadLetterPath(s.o.Dir))
	s.countDropped(f, r, n, reason)
	f.failures, f.nextTry = 0, time.Time{}
	since := f.since
	f.passed(len(r.items))
	f.since = since // nothing was accepted: the failing goes on, as old
	s.commit(f, r)
}

// note writes a line to the agent's log, unless it repeats an earlier
// line of the same key within noteEvery: then it is only counted, and the
// count written with the next line of that key after noteEvery (or when
// endNote closes the key), so an endpoint failing for days writes a line
// per noteEvery, not per try.
func (s *Shipper) note(key, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	n := s.notes[key]
	if n != nil && time.Since(n.at) < noteEvery {
		n.repeats++
		n.last = line
		return
	}
	if n != nil && n.repeats > 0 {
		s.logf("(%d more like it since %s; the last: %s)", n.repeats, n.at.Format(time.RFC3339), n.last)
	}
	s.logf("%s", line)
	s.notes[key] = &noteState{at: time.Now()}
}

// endNote writes the count of a key's unwritten repeats and forgets it.
func (s *Shipper) endNote(key string) {
	if n := s.notes[key]; n != nil && n.repeats > 0 {
		s.logf("(%d more like it since %s; the last: %s)", n.repeats, n.at.Format(time.RFC3339), n.last)
	}
	delete(s.notes, key)
}

// noteEvery is how often a repeated log line is written again (with its count).
const noteEvery = 10 * time.Minute

type noteState struct {
	repeats int
	at      time.Time
	last    string
}
