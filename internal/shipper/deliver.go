package shipper

import (
	"context"
	"time"

	"github.com/gastown/gtrun/internal/journal"
)

// requestTimeout bounds one export request; a black-holed endpoint costs a
// follower this long per try, and nobody waits for it but the agent.
const requestTimeout = 10 * time.Second

// result is what a delivery goroutine reports back to the loop.
type result struct {
	f     *follower
	items []item     // logs / spans sent
	snaps []snapshot // metric snapshots sent
	n     int        // records, spans or points
	err   error
}

// deliverAll starts a delivery for every follower that has something and
// is not waiting out a backoff. A flush does not bypass the backoff here:
// it asked for one try now when it arrived (addRequest), and then waits on
// the same schedule as everyone else, so a refusing endpoint is never
// tried in a loop.
func (s *Shipper) deliverAll() {
	now := time.Now()
	for _, k := range s.order {
		f := s.followers[k]
		if f.busy || now.Before(f.nextTry) {
			continue
		}
		switch {
		case f.meter != nil && len(f.meter.queue) > 0:
			s.sendMetrics(f)
		case len(f.batch) > 0:
			s.sendBatch(f)
		}
	}
}

// window is how many items at the front of the batch the next request
// carries: all of them (up to maxBatch) unless a failing batch is being
// split (deliver.go, "split").
func (f *follower) window() int {
	n := min(len(f.batch), maxBatch)
	if f.win > 0 {
		n = min(n, f.win)
	}
	return n
}

func (s *Shipper) sendBatch(f *follower) {
	items := f.batch[:f.window()]
	var entries []*journal.Entry
	var idx [][]int
	for _, it := range items {
		if len(entries) == 0 || entries[len(entries)-1] != it.entry {
			entries = append(entries, it.entry)
			idx = append(idx, nil)
		}
		idx[len(idx)-1] = append(idx[len(idx)-1], it.index)
	}
	f.busy = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		var err error
		if f.kind == KindLogs {
			err = s.o.Exporter.Logs(ctx, f.url, f.headers, entries, idx)
		} else {
			err = s.o.Exporter.Spans(ctx, f.url, f.headers, entries, idx)
		}
		s.results <- result{f: f, items: items, n: len(items), err: err}
	}()
}

func (s *Shipper) sendMetrics(f *follower) {
	snaps := f.meter.queue[:min(len(f.meter.queue), metricsPerPost)]
	var points []Point
	last := f.meter.sent
	for _, sn := range snaps {
		points = append(points, sn.points...)
		last = sn.time
	}
	// Persist the high-water mark before the samples can reach the
	// backend, so a later lifetime never sends a sample at or before them.
	f.meter.sent = last
	s.saveCheckpoint()
	f.busy = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		err := s.o.Exporter.Metrics(ctx, f.url, f.headers, points)
		s.results <- result{f: f, snaps: snaps, n: len(points), err: err}
	}()
}

// handle applies a delivery's outcome: accepted (whole or partly), or
// failed (retry later, split, or dead-letter; policy.go).
func (s *Shipper) handle(r result) {
	f := r.f
	f.busy = false
	now := time.Now()
	if r.err != nil && rejectedOf(r.err) == 0 {
		s.failed(f, r, now)
		return
	}
	if n := rejectedOf(r.err); n > 0 {
		// Partial success (OTLP spec): the endpoint kept the rest and
		// will refuse these again, so nothing is sent twice.
		f.rejected += n
		f.lastErr, f.lastErrAt = r.err.Error(), now
		s.note(f.key+" partial", "%s %s: partial success, %d of %d refused by the endpoint (%v); not sent again",
			f.kind, f.url, n, r.n, r.err)
		s.countDropped(f, r, n, "rejected")
	}
	f.lastOK = now
	f.delivered += int64(r.n) - rejectedOf(r.err)
	if !f.since.IsZero() {
		// A split's accepted halves say this too: counted, not each logged.
		s.endNote(f.key + " retry")
		s.note(f.key+" ok", "%s %s: delivered again (failing since %s)", f.kind, f.url, f.since.Format(time.RFC3339))
	}
	f.failures, f.nextTry = 0, time.Time{}
	f.passed(len(r.items))
	s.commit(f, r)
}

// commit takes what a delivery settled (accepted, refused for good, or
// dead-lettered) off the follower and moves its committed positions.
func (s *Shipper) commit(f *follower, r result) {
	touched := map[string]bool{}
	for _, it := range r.items {
		it.mark.left--
		touched[it.mark.seg] = true
	}
	if len(r.items) > 0 {
		f.batch = f.batch[len(r.items):]
	}
	for _, sn := range r.snaps {
		for _, mk := range sn.marks {
			mk.left--
			touched[mk.seg] = true
		}
	}
	if len(r.snaps) > 0 {
		f.meter.queue = f.meter.queue[len(r.snaps):]
	}
	for seg := range touched {
		if st := f.segs[seg]; st != nil {
			st.commitReady()
		}
	}
	s.dirty = true
	s.saveCheckpoint()
	s.statusAt = time.Time{} // the status shows this delivery at the next pass
}

// waitDeliveries collects in-flight results for at most d.
func (s *Shipper) waitDeliveries(d time.Duration) {
	deadline := time.After(d)
	for s.anyBusy() {
		select {
		case r := <-s.results:
			s.handle(r)
		case <-deadline:
			return
		}
	}
}

func (s *Shipper) anyBusy() bool {
	for _, f := range s.followers {
		if f.busy {
			return true
		}
	}
	return false
}
