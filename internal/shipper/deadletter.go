package shipper

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
)

// DeadLetterPath is the file of what the agent gave up on: one JSON line
// per record or span (metric samples: one line per request), kept up to
// deadLetterMax bytes and one older file (.1).
func DeadLetterPath(dir string) string { return filepath.Join(dir, "dead-letter.jsonl") }

const deadLetterMax = 16 << 20

// deadLine is one line of the dead-letter file. The endpoint's headers are
// left out: they may hold credentials.
type deadLine struct {
	At     time.Time       `json:"at"`
	Kind   string          `json:"kind"`
	URL    string          `json:"url"`
	Reason string          `json:"reason"`
	Status int             `json:"status,omitempty"`
	Error  string          `json:"error"`
	Tries  int             `json:"tries"`
	Run    string          `json:"run,omitempty"`
	Record *journal.Record `json:"record,omitempty"`
	Span   *journal.Span   `json:"span,omitempty"`
	Points int             `json:"points,omitempty"`
}

// writeDeadLetter appends what r carried to the dead-letter file.
func (s *Shipper) writeDeadLetter(f *follower, r result, reason string, status int) {
	p := DeadLetterPath(s.o.Dir)
	if fi, err := os.Stat(p); err == nil && fi.Size() > deadLetterMax {
		os.Rename(p, p+".1")
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		s.logf("dead-letter file: %v", err)
		return
	}
	defer out.Close()
	base := deadLine{At: time.Now(), Kind: f.kind, URL: f.url, Reason: reason, Status: status, Error: r.err.Error(), Tries: f.failures}
	var buf []byte
	add := func(l deadLine) {
		b, _ := json.Marshal(l)
		buf = append(append(buf, b...), '\n')
	}
	for _, it := range r.items {
		l := base
		l.Run = it.entry.RunID
		if f.kind == KindTraces {
			l.Span = &it.entry.Spans[it.index]
		} else {
			l.Record = &it.entry.Records[it.index]
		}
		add(l)
	}
	if len(r.snaps) > 0 {
		l := base
		l.Points = r.n
		add(l)
	}
	if _, err := out.Write(buf); err != nil {
		s.logf("dead-letter file: %v", err)
	}
}

// countDropped appends a telemetry.dropped record (counted in
// gastown.telemetry.dropped.total{signal,reason}) for n items of r. It
// goes to the other endpoints of the items' entries, never to the one
// that refused them: a record about a refusal must not be refused in turn
// and so on forever.
func (s *Shipper) countDropped(f *follower, r result, n int64, reason string) {
	dest := s.lastDest
	if len(r.items) > 0 {
		dest = r.items[0].entry.Dest
	}
	switch f.kind {
	case KindLogs:
		dest.Logs = ""
	case KindMetrics:
		dest.Metrics = ""
	case KindTraces:
		dest.Traces = ""
	}
	if dest.Logs == "" && dest.Metrics == "" {
		return
	}
	rec := journal.FromEvent(event.Record{Name: "telemetry.dropped", Time: s.o.Clock(), Attrs: []event.Attr{
		event.String("signal", f.kind), event.Int("count", n), event.String("reason", reason)}})
	e := journal.Entry{Dest: dest, RunID: "gtrun-shipper", Written: time.Now().UnixNano(), Records: []journal.Record{rec}}
	if p, err := e.Encode(); err == nil {
		s.o.Journal.Append(p)
	}
}
