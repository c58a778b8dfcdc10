package journal

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/gastown/gtrun/internal/event"
)

// The encoder is written by hand because it runs on every wrapped call:
// encoding/json's first use of a type (reflection, encoder caches) costs
// about 0.2 ms of a call's life; this costs microseconds. Decode (in the
// agent) stays encoding/json; TestEncodeMatchesJSON keeps them in step.

// Encode returns the entry's payload (JSON).
func (e *Entry) Encode() ([]byte, error) {
	if e.Received() {
		return e.encodeReceived()
	}
	return e.appendJSON(make([]byte, 0, e.sizeHint())), nil
}

// sizeHint is about the encoded size, so that agent-log's large entries
// are written without growing (and copying) the buffer over and over.
func (e *Entry) sizeHint() int {
	n := 512
	for i := range e.Records {
		r := &e.Records[i]
		n += 96 + len(r.Name) + len(r.Err) + attrsHint(r.Attrs)
	}
	for i := range e.Spans {
		s := &e.Spans[i]
		n += 160 + len(s.Name) + len(s.Err) + attrsHint(s.Attrs)
	}
	return n
}

func attrsHint(attrs []event.Attr) int {
	n := 8
	for _, a := range attrs {
		n += 16 + len(a.Key)
		if s, ok := a.Value.(string); ok {
			n += len(s) + len(s)/32 // a few escapes
		} else {
			n += 20
		}
	}
	return n
}

func (e *Entry) appendJSON(b []byte) []byte {
	b = append(b, `{"dest":{`...)
	n := 0
	field := func(k, v string) {
		if v == "" {
			return
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(append(appendString(b, k), ':'), v)
	}
	field("logs", e.Dest.Logs)
	field("metrics", e.Dest.Metrics)
	field("traces", e.Dest.Traces)
	if len(e.Dest.Headers) > 0 {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `"hdr":{`...)
		i := 0
		for k, v := range e.Dest.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = appendString(append(appendString(b, k), ':'), v)
		}
		b = append(b, '}')
	}
	b = append(b, `},"run":`...)
	b = appendString(b, e.RunID)
	if e.Version != "" {
		b = appendString(append(b, `,"ver":`...), e.Version)
	}
	b = strconv.AppendInt(append(b, `,"at":`...), e.Written, 10)
	b = appendPairs(b, "res", e.Resource)
	b = appendPairs(b, "work", e.Work)
	if len(e.Records) > 0 {
		b = append(b, `,"recs":[`...)
		for i, r := range e.Records {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(e.Spans) > 0 {
		b = append(b, `,"spans":[`...)
		for i, s := range e.Spans {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendPairs(b []byte, key string, kv [][2]string) []byte {
	if len(kv) == 0 {
		return b
	}
	b = append(append(append(b, ",\""...), key...), "\":["...)
	for i, p := range kv {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(append(appendString(append(b, '['), p[0]), ','), p[1]), ']')
	}
	return append(b, ']')
}

func (r *Record) appendJSON(b []byte) []byte {
	b = appendString(append(b, `{"n":`...), r.Name)
	b = strconv.AppendInt(append(b, `,"t":`...), r.Time, 10)
	b = appendAttrs(b, r.Attrs)
	if r.Err != "" {
		b = appendString(append(b, `,"e":`...), r.Err)
	}
	if r.TraceID != "" {
		b = appendString(append(b, `,"tid":`...), r.TraceID)
	}
	if r.SpanID != "" {
		b = appendString(append(b, `,"sid":`...), r.SpanID)
	}
	return append(b, '}')
}

func (s *Span) appendJSON(b []byte) []byte {
	b = appendString(append(b, `{"n":`...), s.Name)
	b = appendString(append(b, `,"tid":`...), s.TraceID)
	b = appendString(append(b, `,"sid":`...), s.SpanID)
	if s.Parent != "" {
		b = appendString(append(b, `,"pid":`...), s.Parent)
	}
	if s.Remote {
		b = append(b, `,"remote":true`...)
	}
	b = strconv.AppendInt(append(b, `,"s":`...), s.Start, 10)
	b = strconv.AppendInt(append(b, `,"e":`...), s.End, 10)
	b = appendAttrs(b, s.Attrs)
	if s.Err != "" {
		b = appendString(append(b, `,"err":`...), s.Err)
	}
	return append(b, '}')
}

// appendAttrs writes attributes as event.Attr's MarshalJSON does.
func appendAttrs(b []byte, attrs []event.Attr) []byte {
	if len(attrs) == 0 {
		return b
	}
	b = append(b, `,"a":[`...)
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(b, `{"k":`...), a.Key)
		switch v := a.Value.(type) {
		case string:
			b = appendString(append(b, `,"s":`...), v)
		case int64:
			b = strconv.AppendInt(append(b, `,"i":`...), v, 10)
		case int:
			b = strconv.AppendInt(append(b, `,"i":`...), int64(v), 10)
		case bool:
			b = strconv.AppendBool(append(b, `,"b":`...), v)
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				b = appendString(append(b, `,"s":`...), strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				b = strconv.AppendFloat(append(b, `,"f":`...), v, 'g', -1, 64)
			}
		case nil:
			b = append(b, `,"s":""`...)
		default:
			b = appendString(append(b, `,"s":`...), fmt.Sprint(v))
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
