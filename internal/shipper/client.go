package shipper

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/state"
)

// Running returns the pid of the agent holding the lock in dir, or 0.
func Running(dir string) int {
	if held, err := state.Held(LockPath(dir)); err != nil || !held {
		return 0
	}
	b, _ := os.ReadFile(LockPath(dir))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		pid = -1 // running, pid not written yet
	}
	return pid
}

// Ask sends a request to the running agent and waits for its reply, at
// most timeout (plus a little for the reply itself). ok=false: no agent.
func Ask(dir string, q Request, timeout time.Duration) (Reply, bool, error) {
	pid := Running(dir)
	if pid == 0 {
		return Reply{}, false, nil
	}
	rd := RequestDir(dir)
	if err := state.MkdirAll(rd); err != nil {
		return Reply{}, true, err
	}
	var r [8]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	q.Timeout = timeout
	b, _ := json.Marshal(q)
	if err := state.WriteFileAtomic(filepath.Join(rd, id+".req"), b); err != nil {
		return Reply{}, true, err
	}
	done := filepath.Join(rd, id+".done")
	deadline := time.Now().Add(timeout + 5*time.Second)
	// One wake-up is enough (the agent handles SIGUSR1 before it takes
	// its lock); a repeat now and then covers an agent that was just
	// exiting. Each wake-up costs the agent a pass over the journal.
	var woke time.Time
	for time.Now().Before(deadline) {
		if pid > 0 && time.Since(woke) >= 500*time.Millisecond {
			syscall.Kill(pid, syscall.SIGUSR1)
			woke = time.Now()
		}
		if b, err := os.ReadFile(done); err == nil {
			os.Remove(done)
			var rep Reply
			return rep, true, json.Unmarshal(b, &rep)
		}
		if Running(dir) == 0 {
			// It exited without answering (stopped, or idle exit in
			// between): whatever it had is delivered or in the journal.
			os.Remove(filepath.Join(rd, id+".req"))
			return Reply{}, false, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(filepath.Join(rd, id+".req"))
	return Reply{}, true, errors.New("the agent did not answer in time")
}

// ReadStatus returns the status: live fields from a running agent, the
// rest computed from its checkpoint and the journal.
func ReadStatus(dir string, j *journal.Journal) (Status, error) {
	var st Status
	if b, err := os.ReadFile(StatusPath(dir)); err == nil {
		json.Unmarshal(b, &st)
	}
	st.PID = Running(dir)
	st.Running = st.PID != 0
	if !st.Running {
		st.PID = 0
	}
	cp, err := ReadCheckpoint(dir)
	if err != nil {
		return st, err
	}
	st.Torn, st.Garbled, st.Damaged = cp.Torn, cp.Garbled, cp.Damaged
	st.DeadLetter = DeadLetterPath(dir)
	segs, err := j.Segments()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	st.JournalBytes, st.Segments = 0, len(segs)
	for _, sg := range segs {
		st.JournalBytes += sg.Size
	}
	live := map[string]EndpointRep{}
	for _, e := range st.Endpoints {
		live[e.key()] = e
	}
	st.Endpoints = nil
	for _, fc := range cp.Followers {
		if fc.Kind == kindScan {
			continue
		}
		e, ok := live[fc.Kind+" "+fc.URL+" "+headerID(fc.Headers)]
		if !ok || !st.Running {
			e = EndpointRep{Kind: fc.Kind, URL: fc.URL, Headers: headerNames(fc.Headers), HeaderID: headerID(fc.Headers), Dropped: fc.Dropped, DeadLettered: fc.Dead, Rejected: fc.Rejected, LastOK: fromUnix(fc.LastOK), LastErr: fc.LastErr, LastErrAt: fromUnix(fc.LastErrAt)}
		}
		f := &follower{kind: fc.Kind, url: fc.URL, headers: fc.Headers}
		e.BacklogBytes, e.BacklogRecords = backlog(j, segs, f, fc)
		e.Pending = e.BacklogRecords > 0
		st.Endpoints = append(st.Endpoints, e)
	}
	return st, nil
}

// backlog counts what the journal holds beyond a follower's committed
// positions.
func backlog(j *journal.Journal, segs []journal.Segment, f *follower, fc followerCP) (bytes, records int64) {
	sealed := map[string]bool{}
	for _, n := range fc.Sealed {
		sealed[n] = true
	}
	for _, sg := range segs {
		if sealed[sg.Name] {
			continue
		}
		from := fc.Segs[sg.Name]
		if sg.Size > from {
			bytes += sg.Size - from
		}
		records += countWanted(j, sg, from, f)
	}
	return bytes, records
}

// countWanted counts the records (spans, for traces) addressed to f in
// segment sg from offset from on.
func countWanted(j *journal.Journal, sg journal.Segment, from int64, f *follower) int64 {
	var n int64
	for from < sg.Size {
		c, err := j.ReadSegment(sg.Name, from, readChunk)
		if err != nil || c.Next == from {
			break
		}
		for _, fr := range c.Frames {
			if e, err := journal.Decode(fr.Payload); err == nil && f.wants(e) {
				switch f.kind { // received OTLP requests and samples included
				case KindTraces:
					n += int64(e.SpanItems())
				case KindLogs:
					n += int64(e.LogItems())
				default:
					n += int64(len(e.Records) + len(e.Samples))
				}
			}
		}
		from = c.Next
	}
	return n
}
