package event

import (
	"time"
	"unicode/utf8"
)

// MaxValue bounds every string attribute value, span name and error text
// a record or span carries into the journal: what agents and commands say
// is unbounded (ten 100 KB arguments made a 1 MB log field and span tag).
// Producers cut tighter where they know better (GT_LOG_ARGS_LIMIT,
// GT_LOG_BD_CONTENT_LIMIT); this is the backstop for every other value.
const MaxValue = 16 << 10

// Cut keeps at most n bytes of s, cut at a UTF-8 boundary, with "…"
// appended when cut.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := max(n, 0)
	for c > 0 && !utf8.RuneStart(s[c]) {
		c--
	}
	return s[:c] + "…"
}

// BoundAttrs returns attrs with every string value cut to MaxValue; the
// slice is copied only when a value is cut (the common case allocates
// nothing).
func BoundAttrs(attrs []Attr) []Attr {
	var out []Attr
	for i, a := range attrs {
		s, ok := a.Value.(string)
		if !ok || len(s) <= MaxValue && len(a.Key) <= 256 {
			continue
		}
		if out == nil {
			out = append([]Attr(nil), attrs...)
		}
		out[i] = Attr{Cut(a.Key, 256), Cut(s, MaxValue)}
	}
	if out == nil {
		return attrs
	}
	return out
}

// Bounded is r with its attributes and error bounded (BoundAttrs).
func (r Record) Bounded() Record {
	r.Attrs = BoundAttrs(r.Attrs)
	r.Err = Cut(r.Err, MaxValue)
	r.Name = Cut(r.Name, 256)
	return r
}

// LateRecord is how much older than its journal entry a record is before
// it carries RecordedAttr: past the delay of a live tail (a transcript read
// today of a session last month is late; one tailed as it is written not).
const LateRecord = 5 * time.Minute

// RecordedAttr is a late record's attribute saying when it was recorded
// (Unix seconds): the backends keep the event's time and drop OTLP's
// observed time, and `gtrun runs/cost --since` select by either.
const RecordedAttr = "recorded_unix"

// LateResource is the resource attribute (="true") of late records: a
// VictoriaLogs stream of their own, which a query selects from the stream
// index instead of reading every day's blocks for RecordedAttr.
const LateResource = "gtrun.late"
