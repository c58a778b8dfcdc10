package journal

import "encoding/json"

// What the delivery agent's loopback OTLP receiver journals (a program
// that reports its own telemetry, pointed at the agent by gtrun): log and
// trace requests as OTLP protobuf bytes, shipped as they are, and metric
// data points already turned into increments (Sample), which the agent's
// meter merges into one exact series per identity. An entry holding them
// has no Records or Spans of gtrun's own; its Dest, RunID and Work are
// those of the call that pointed the program at the receiver.

// Sample is one received metric data point as an increment of a series
// (docs/architecture.md, "Merging counters from short-lived exporters").
type Sample struct {
	Metric string `json:"m"`
	// Kind is "sum", "hist" or "gauge". A sum or hist sample is an
	// increment of the merged series; a gauge sample is its new value.
	Kind        string      `json:"k"`
	NonMonotone bool        `json:"nm,omitempty"` // an up-down sum
	Unit        string      `json:"u,omitempty"`
	Labels      [][2]string `json:"l,omitempty"` // the point's attributes
	// Resource is the sender's resource without its per-process and
	// per-run attributes; Scope its instrumentation scope.
	Resource [][2]string `json:"r,omitempty"`
	Scope    string      `json:"sc,omitempty"`
	ScopeVer string      `json:"sv,omitempty"`
	Time     int64       `json:"t"` // unix ns
	Value    float64     `json:"v,omitempty"`
	Bounds   []float64   `json:"b,omitempty"`
	Counts   []uint64    `json:"c,omitempty"`
	Sum      float64     `json:"s,omitempty"`
	Count    uint64      `json:"n,omitempty"`
}

// Received reports whether the entry came through the receiver.
func (e *Entry) Received() bool { return len(e.OTLPLogs)+len(e.OTLPSpans)+len(e.Samples) > 0 }

// LogItems is how many log items the entry holds: gtrun's own records,
// then one per received OTLP logs request.
func (e *Entry) LogItems() int { return len(e.Records) + len(e.OTLPLogs) }

// SpanItems is how many trace items it holds: spans, then received
// OTLP trace requests.
func (e *Entry) SpanItems() int { return len(e.Spans) + len(e.OTLPSpans) }

// encodeReceived is Encode for a received entry: written by the agent,
// off any call's path, so encoding/json's cost does not matter there.
func (e *Entry) encodeReceived() ([]byte, error) { return json.Marshal(e) }
