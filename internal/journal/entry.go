package journal

import (
	"encoding/json"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

// Entry is what one gtrun process hands to the delivery agent: its records
// and spans, where they go, and the context every record carries. The
// endpoints travel with the records, so one agent serves every endpoint set
// its user's calls name.
type Entry struct {
	Dest    Dest   `json:"dest"`
	RunID   string `json:"run"`
	Version string `json:"ver,omitempty"` // version of the gtrun that wrote it
	// Written is when the entry was appended (the records' observed time).
	Written int64 `json:"at"`
	// Resource holds the extra resource attributes of logs and traces (the
	// caller's OTEL_RESOURCE_ATTRIBUTES and gt.* identity).
	Resource [][2]string `json:"res,omitempty"`
	// Work is the work context (gt.work_*) put on every record and span.
	Work    [][2]string `json:"work,omitempty"`
	Records []Record    `json:"recs,omitempty"`
	Spans   []Span      `json:"spans,omitempty"`
	// Received through the agent's OTLP receiver (received.go): OTLP
	// protobuf export requests, and metric samples.
	OTLPLogs  [][]byte `json:"otlp_logs,omitempty"`
	OTLPSpans [][]byte `json:"otlp_spans,omitempty"`
	Samples   []Sample `json:"samples,omitempty"`
}

// Dest names the OTLP/HTTP endpoints of an entry ("" = not exported).
type Dest struct {
	Logs    string            `json:"logs,omitempty"`
	Metrics string            `json:"metrics,omitempty"`
	Traces  string            `json:"traces,omitempty"`
	Headers map[string]string `json:"hdr,omitempty"`
}

// Record is one catalog event (event.Record) with its log–trace link.
type Record struct {
	Name    string       `json:"n"`
	Time    int64        `json:"t"` // unix ns
	Attrs   []event.Attr `json:"a,omitempty"`
	Err     string       `json:"e,omitempty"`
	TraceID string       `json:"tid,omitempty"` // hex, the span the record belongs to
	SpanID  string       `json:"sid,omitempty"`
}

// Span is one finished span.
type Span struct {
	Name    string       `json:"n"`
	TraceID string       `json:"tid"` // 32 hex
	SpanID  string       `json:"sid"` // 16 hex
	Parent  string       `json:"pid,omitempty"`
	Remote  bool         `json:"remote,omitempty"` // the parent is in another process
	Start   int64        `json:"s"`
	End     int64        `json:"e"`
	Attrs   []event.Attr `json:"a,omitempty"`
	Err     string       `json:"err,omitempty"`
}

// FromEvent converts an event record.
func FromEvent(r event.Record) Record {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	return Record{Name: r.Name, Time: t.UnixNano(), Attrs: r.Attrs, Err: r.Err}
}

// Event converts back to an event record.
func (r Record) Event() event.Record {
	return event.Record{Name: r.Name, Time: time.Unix(0, r.Time), Attrs: r.Attrs, Err: r.Err}
}

// Decode parses a payload.
func Decode(b []byte) (*Entry, error) {
	e := &Entry{}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}
