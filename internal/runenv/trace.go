package runenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// TraceID is the trace id of a run: when GT_RUN is a UUID its 16 bytes
// (GT_RUN=5b8efff7-9803-4103-9269-b633813fc60c is trace
// 5b8efff7980341039269b633813fc60c), otherwise the first 16 bytes of
// SHA-256(GT_RUN). Every gtrun of the run computes the same id.
func TraceID(runID string) [16]byte {
	if u, err := uuid.Parse(runID); err == nil {
		return u
	}
	s := sha256.Sum256([]byte(runID))
	var t [16]byte
	copy(t[:], s[:16])
	return t
}

// Traceparent is a parsed W3C traceparent header.
type Traceparent struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
}

// ParseTraceparent parses "00-<32 hex>-<16 hex>-<2 hex>".
func ParseTraceparent(s string) (Traceparent, error) {
	var tp Traceparent
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return tp, fmt.Errorf("bad TRACEPARENT %q", s)
	}
	t, err1 := hex.DecodeString(parts[1])
	sp, err2 := hex.DecodeString(parts[2])
	f, err3 := hex.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil {
		return tp, fmt.Errorf("bad TRACEPARENT %q", s)
	}
	copy(tp.TraceID[:], t)
	copy(tp.SpanID[:], sp)
	tp.Flags = f[0]
	if tp.TraceID == [16]byte{} || tp.SpanID == [8]byte{} {
		return tp, fmt.Errorf("bad TRACEPARENT %q: zero id", s)
	}
	return tp, nil
}

// String renders the traceparent header.
func (tp Traceparent) String() string {
	return fmt.Sprintf("00-%x-%x-%02x", tp.TraceID, tp.SpanID, tp.Flags)
}

// NewSpanID returns a random non-zero span id.
func NewSpanID() [8]byte {
	var s [8]byte
	for s == [8]byte{} {
		fastRandom{}.Read(s[:])
	}
	return s
}
