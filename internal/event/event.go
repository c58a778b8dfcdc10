// Package event defines the telemetry record that flows from wrappers and
// parsers to the exporter. It is plain data: no OTel, no I/O, so every
// producer can be tested without a backend.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Attr is one attribute of a record. Value is a string, int64, bool or
// float64; the exporter maps each to the matching typed OTLP value.
type Attr struct {
	Key   string
	Value any
}

// String, Int, Bool and Float build typed attributes.
func String(k, v string) Attr        { return Attr{k, v} }
func Int(k string, v int64) Attr     { return Attr{k, v} }
func Bool(k string, v bool) Attr     { return Attr{k, v} }
func Float(k string, v float64) Attr { return Attr{k, v} }

// Record is one catalog event (SPEC §2), e.g. "bd.call" or "agent.usage".
// The exporter adds run.id, work context, status and error.
type Record struct {
	Name  string    // catalog event name
	Time  time.Time // when it happened (the transcript's time for agent events)
	Attrs []Attr
	// Err is non-empty when the event failed: status=error, severity ERROR.
	Err string
}

// Failed reports whether the record has status=error.
func (r Record) Failed() bool { return r.Err != "" }

// Status is "ok" or "error".
func (r Record) Status() string {
	if r.Failed() {
		return "error"
	}
	return "ok"
}

// Get returns the value of attribute k, or nil.
func (r Record) Get(k string) any {
	for i := len(r.Attrs) - 1; i >= 0; i-- {
		if r.Attrs[i].Key == k {
			return r.Attrs[i].Value
		}
	}
	return nil
}

// GetString returns attribute k as a string ("" when absent or not a string).
func (r Record) GetString(k string) string {
	s, _ := r.Get(k).(string)
	return s
}

// Set replaces attribute k or appends it.
func (r *Record) Set(k string, v any) {
	for i := range r.Attrs {
		if r.Attrs[i].Key == k {
			r.Attrs[i].Value = v
			return
		}
	}
	r.Attrs = append(r.Attrs, Attr{k, v})
}

// attrJSON is an Attr on the wire (the journal): the key and exactly one
// typed value, so an int stays an int and a float a float.
type attrJSON struct {
	K string   `json:"k"`
	S *string  `json:"s,omitempty"`
	I *int64   `json:"i,omitempty"`
	B *bool    `json:"b,omitempty"`
	F *float64 `json:"f,omitempty"`
}

// MarshalJSON writes the attribute with its type.
func (a Attr) MarshalJSON() ([]byte, error) {
	j := attrJSON{K: a.Key}
	switch v := a.Value.(type) {
	case string:
		j.S = &v
	case int64:
		j.I = &v
	case int:
		n := int64(v)
		j.I = &n
	case bool:
		j.B = &v
	case float64:
		j.F = &v
	case nil:
		s := ""
		j.S = &s
	default:
		s := fmt.Sprint(v)
		j.S = &s
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads an attribute written by MarshalJSON.
func (a *Attr) UnmarshalJSON(b []byte) error {
	var j attrJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	a.Key = j.K
	switch {
	case j.I != nil:
		a.Value = *j.I
	case j.B != nil:
		a.Value = *j.B
	case j.F != nil:
		a.Value = *j.F
	case j.S != nil:
		a.Value = *j.S
	default:
		a.Value = ""
	}
	return nil
}
