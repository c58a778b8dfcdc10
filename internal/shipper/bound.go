package shipper

import (
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
)

// seal closes the segments whose minute is over, so they can be removed
// once delivered.
func (s *Shipper) seal(segs []journal.Segment) {
	now := s.o.Journal.Now()
	for _, sg := range segs {
		if st := s.scan.segs[sg.Name]; st != nil && st.sealed {
			continue
		}
		if journal.Sealable(sg.Name, now, sealGrace) {
			if _, err := s.o.Journal.Seal(sg.Name); err != nil {
				s.logf("journal: sealing %s: %v", sg.Name, err)
			}
		}
	}
}

// done reports whether every follower finished segment name.
func (s *Shipper) segDone(name string) bool {
	for _, f := range append(s.followerList(), s.scan) {
		st := f.segs[name]
		if st == nil || !st.sealed || len(st.marks) > 0 || st.committed != st.read {
			return false
		}
	}
	return true
}

// removeDone deletes the segments everyone delivered, and forgets the
// positions of segments that are gone.
func (s *Shipper) removeDone(segs []journal.Segment) {
	exists := map[string]bool{}
	for _, sg := range segs {
		if s.segDone(sg.Name) && !s.anyBusy() {
			if err := s.o.Journal.Remove(sg.Name); err == nil {
				s.forget(sg.Name)
				continue
			}
		}
		exists[sg.Name] = true
	}
	for _, f := range append(s.followerList(), s.scan) {
		for n, st := range f.segs {
			if !exists[n] && len(st.marks) == 0 {
				delete(f.segs, n)
				s.dirty = true
			}
		}
	}
}

func (s *Shipper) forget(name string) {
	for _, f := range append(s.followerList(), s.scan) {
		delete(f.segs, name)
	}
	s.dirty = true
}

// bound keeps the journal under MaxBytes by dropping the oldest segments,
// undelivered or not: one warning in the agent's log, and a
// telemetry.dropped record (and gastown.telemetry.dropped.total) per signal
// that lost something.
func (s *Shipper) bound(segs []journal.Segment) {
	var total int64
	for _, sg := range segs {
		total += sg.Size
	}
	if total <= s.o.MaxBytes {
		return
	}
	current := journal.SegmentName(s.o.Journal.Now())
	lost := map[string]int64{}
	var bytes int64
	nseg := 0 // segments dropped
	for _, sg := range segs {
		if total <= s.o.MaxBytes || sg.Name >= current {
			break
		}
		if s.anyBusyOn(sg.Name) {
			continue
		}
		for _, f := range s.followerList() {
			lost[f.kind] += s.undelivered(f, sg)
		}
		if err := s.o.Journal.Remove(sg.Name); err != nil {
			continue
		}
		s.forget(sg.Name)
		total -= sg.Size
		bytes += sg.Size
		nseg++
	}
	if lost[KindLogs]+lost[KindTraces]+lost[KindMetrics] == 0 {
		return // only delivered data went: housekeeping, nothing to warn about
	}
	// One warning per outage (at most one an hour): the counts of every
	// drop are in the telemetry.dropped records and the counter.
	if time.Since(s.droppedWarned) >= time.Hour {
		s.droppedWarned = time.Now()
		s.logf("journal over its bound of %d bytes: dropped the %d oldest segment(s), %d bytes, undelivered: %d log records, %d spans, %d metric records (further drops this hour are counted, not logged)",
			s.o.MaxBytes, nseg, bytes, lost[KindLogs], lost[KindTraces], lost[KindMetrics])
	}
	var recs []journal.Record
	now := s.o.Clock()
	for _, k := range []string{KindLogs, KindMetrics, KindTraces} {
		if lost[k] > 0 {
			recs = append(recs, journal.FromEvent(event.Record{Name: "telemetry.dropped", Time: now, Attrs: []event.Attr{
				event.String("signal", k), event.Int("count", lost[k]), event.Int("bytes", bytes), event.String("reason", "journal bound")}}))
		}
	}
	if len(recs) == 0 {
		return
	}
	e := journal.Entry{Dest: s.lastDest, RunID: "gtrun-shipper", Written: time.Now().UnixNano(), Records: recs}
	if p, err := e.Encode(); err == nil {
		s.o.Journal.Append(p)
	}
}

func (s *Shipper) anyBusyOn(seg string) bool {
	for _, f := range s.followers {
		if f.busy {
			for _, it := range f.batch {
				if it.mark.seg == seg {
					return true
				}
			}
		}
	}
	return false
}

// undelivered counts what follower f had not delivered of segment sg, and
// takes it out of f's memory.
func (s *Shipper) undelivered(f *follower, sg journal.Segment) int64 {
	st := f.segs[sg.Name]
	var n int64
	from := int64(0)
	if st != nil {
		from = st.read
		keep := f.batch[:0]
		for _, it := range f.batch {
			if it.mark.seg == sg.Name {
				n++
				continue
			}
			keep = append(keep, it)
		}
		f.batch = keep
		if n > 0 {
			f.win, f.suspect = 0, 0 // the split state indexed the batch as it was
		}
	}
	n += countWanted(s.o.Journal, sg, from, f)
	f.dropped += n
	return n
}
