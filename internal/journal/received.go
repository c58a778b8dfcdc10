package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

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

// FormatDest is the file form of a destination (the receiver's dests/
// directory), written by hand as a call writes it: one "kind<TAB>value"
// line per endpoint, "h<TAB>name<TAB>value" per header, headers sorted.
func FormatDest(d Dest) []byte {
	var b []byte
	for _, kv := range [][2]string{{"logs", d.Logs}, {"metrics", d.Metrics}, {"traces", d.Traces}} {
		if kv[1] != "" {
			b = append(append(append(append(b, kv[0]...), '\t'), kv[1]...), '\n')
		}
	}
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(append(append(append(append(b, "h\t"...), k...), '\t'), d.Headers[k]...), '\n')
	}
	return b
}

// ParseDest reads FormatDest's form.
func ParseDest(b []byte) (Dest, error) {
	var d Dest
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case len(f) == 2 && f[0] == "logs":
			d.Logs = f[1]
		case len(f) == 2 && f[0] == "metrics":
			d.Metrics = f[1]
		case len(f) == 2 && f[0] == "traces":
			d.Traces = f[1]
		case len(f) == 3 && f[0] == "h":
			if d.Headers == nil {
				d.Headers = map[string]string{}
			}
			d.Headers[f[1]] = f[2]
		case line == "":
		default:
			return Dest{}, errors.New("malformed destination file")
		}
	}
	return d, nil
}

// DestID names a destination's file: a digest of its form.
func DestID(form []byte) string {
	h := sha256.Sum256(form)
	return hex.EncodeToString(h[:12])
}
