package shipper

import (
	"github.com/gastown/gtrun/internal/journal"
)

// read advances follower f over the journal: new frames become marks, and
// the entries addressed to f become batch items or meter increments.
func (s *Shipper) read(f *follower, segs []journal.Segment) {
	budget := readChunk
	for _, sg := range segs {
		st := f.seg(sg.Name)
		if sg.Size < st.read {
			s.shrank(f, st, sg)
		}
		for !st.sealed && st.read < sg.Size && budget > 0 && !f.full() {
			c, err := s.o.Journal.ReadSegment(sg.Name, st.read, min(budget, readChunk))
			if err != nil {
				break // removed meanwhile, or unreadable: next pass
			}
			if rewritten(st, c) {
				s.rewind(f, st, sg.Name, "was rewritten")
				continue
			}
			if f == s.scan {
				s.countDamage(st, c, sg.Name)
			}
			stopped := false
			for _, fr := range c.Frames {
				s.take(f, st, fr)
				budget -= len(fr.Payload)
				st.read = fr.End
				if f.full() || budget <= 0 {
					stopped = true
					break
				}
			}
			if !stopped {
				st.read = c.Next
				st.sealed = c.Sealed
			}
			st.high = max(st.high, st.read)
			if c.Next == st.read && len(c.Frames) == 0 && !c.Sealed && c.Damaged == 0 {
				break // an incomplete frame: still being written
			}
		}
		if st.commitReady() {
			s.dirty = true
		}
	}
}

// rewritten reports whether a read found damage right where a frame of
// ours ended: appends never leave that, so the segment was cut or
// overwritten under us (and new frames may sit before our position).
func rewritten(st *segState, c journal.Chunk) bool {
	if len(st.seen) == 0 || st.rewoundAt == st.read || c.Damaged == 0 {
		return false
	}
	return len(c.Frames) == 0 || c.Frames[0].Off > st.read
}

// rewind reads a segment again from its start: a frame at an offset and
// checksum already taken is skipped, any other delivered, so every intact
// frame goes once whatever was cut, zeroed or appended in between.
func (s *Shipper) rewind(f *follower, st *segState, seg, why string) {
	if f == s.scan {
		s.logf("journal %s %s under the agent (at %d): read again from its start", seg, why, st.read)
	}
	st.rewoundAt = st.read
	st.read, st.sealed = 0, false
}

// shrank handles a segment now shorter than f's position in it. When f
// read frames of it in this lifetime it reads it again (rewind); else (cut
// while no agent ran) it goes on from the new end: the frames before were
// delivered, and reading them again would send them twice.
func (s *Shipper) shrank(f *follower, st *segState, sg journal.Segment) {
	if len(st.seen) > 0 {
		s.rewind(f, st, sg.Name, "shrank")
		return
	}
	if f == s.scan {
		s.logf("journal %s shrank to %d bytes while no agent ran (position %d): going on from its end", sg.Name, sg.Size, st.read)
	}
	st.read, st.committed, st.sealed = sg.Size, sg.Size, false
	s.dirty = true
}

// countDamage counts a chunk's damage once, not again when a rewind reads
// the same region.
func (s *Shipper) countDamage(st *segState, c journal.Chunk, seg string) {
	if c.Damaged == 0 || st.damageAt[c.DamageAt] {
		return
	}
	if st.damageAt == nil {
		st.damageAt = map[int64]bool{}
	}
	st.damageAt[c.DamageAt] = true
	s.torn += int64(c.Torn)
	s.garbled += int64(c.Garbled)
	s.damaged += c.Damaged
	s.logf("journal %s: skipped %d damaged byte(s): %d torn frame(s), %d unreadable region(s)", seg, c.Damaged, c.Torn, c.Garbled)
	s.dirty = true
}

// take handles one frame for follower f.
func (s *Shipper) take(f *follower, st *segState, fr journal.Frame) {
	if sum, ok := st.seen[fr.Off]; ok && sum == fr.Sum && fr.Off < st.high {
		return // taken before a rewind
	}
	if st.seen == nil {
		st.seen = map[int64]uint32{}
	}
	st.seen[fr.Off] = fr.Sum
	mk := &mark{seg: fr.Seg, end: fr.End}
	st.marks = append(st.marks, mk)
	e := s.decode(fr)
	if e == nil {
		if f == s.scan {
			s.scanned.Add(1)
		}
		return
	}
	if f == s.scan {
		defer s.scanned.Add(1)
		s.discover(e)
		s.lastData = s.o.Clock()
		s.exiting, s.finalDone = false, false
		return
	}
	if !f.wants(e) {
		return
	}
	switch f.kind {
	case KindLogs:
		for i := range e.LogItems() { // records, then received OTLP requests
			f.batch = append(f.batch, item{entry: e, index: i, mark: mk})
		}
		mk.left = e.LogItems()
	case KindTraces:
		for i := range e.SpanItems() {
			f.batch = append(f.batch, item{entry: e, index: i, mark: mk})
		}
		mk.left = e.SpanItems()
	case KindMetrics:
		now := s.o.Clock()
		for _, r := range e.Records {
			mk.left += f.meter.add(r.Event(), now, mk)
		}
		for i := range e.Samples { // received (merge.go)
			f.meter.addSample(&e.Samples[i], now, mk)
			mk.left++
		}
	}
}

// decode parses a frame once per pass for all followers.
func (s *Shipper) decode(fr journal.Frame) *journal.Entry {
	k := frameKey{fr.Seg, fr.Off}
	if e, ok := s.decoded[k]; ok {
		return e
	}
	e, err := journal.Decode(fr.Payload)
	if err != nil {
		s.logf("journal %s@%d: undecodable entry skipped: %v", fr.Seg, fr.Off, err)
		e = nil
	}
	if s.decoded != nil {
		s.decoded[k] = e
	}
	return e
}

// discover makes sure every endpoint an entry names has its follower.
func (s *Shipper) discover(e *journal.Entry) {
	s.lastDest = e.Dest
	if e.RunID != "" {
		s.lastRun = e.RunID
	}
	for _, kv := range [][2]string{{KindLogs, e.Dest.Logs}, {KindMetrics, e.Dest.Metrics}, {KindTraces, e.Dest.Traces}} {
		if kv[1] != "" {
			s.follower(kv[0], kv[1], e.Dest.Headers)
		}
	}
}

// follower returns (creating it) the follower of one endpoint. A new one
// starts at the beginning of every segment there is: nothing in them was
// delivered to its endpoint yet.
func (s *Shipper) follower(kind, url string, headers map[string]string) *follower {
	k := followerKey(kind, url, headers)
	if f := s.followers[k]; f != nil {
		return f
	}
	f := &follower{kind: kind, url: url, headers: headers, key: k, segs: map[string]*segState{}}
	if kind == KindMetrics {
		f.meter = newMeter(s.o.Interval, s.o.Horizon, timeZero)
	}
	s.followers[k] = f
	s.order = append(s.order, k)
	s.dirty = true
	return f
}
