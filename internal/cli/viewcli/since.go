package viewcli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// since is the one --since parser of the read-back commands (runs, cost,
// trace): a positive duration, Go's units plus d (24h) and w (7d), or an
// RFC3339 time in the past. Anything else is a usage error (exit 2) with
// an example: "-5h" once listed every run and "-1s" none.
type since struct {
	d    time.Duration // the duration given, or 0 with at
	at   time.Time     // the time given
	text string
}

const sinceHelp = "a positive duration (90m, 24h, 7d, 2w, 1w2d) or an RFC3339 time (2026-12-01T09:00:00Z)"

// sinceNote is what --since selects (logsq.SinceFilter).
const sinceNote = "; a record counts by its event time or, read late from a transcript, by when it was recorded"

func newSince(d time.Duration) *since { return &since{d: d, text: shortDuration(d)} }

func (s *since) String() string { return s.text }
func (s *since) Type() string   { return "duration|time" }

func (s *since) Set(v string) error {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		if !t.Before(time.Now()) {
			return fmt.Errorf("%q is in the future: give %s", v, sinceHelp)
		}
		*s = since{at: t, text: "since " + t.UTC().Format(time.RFC3339)}
		return nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return fmt.Errorf("%q: give %s", v, sinceHelp)
	}
	*s = since{d: d, text: shortDuration(d)}
	return nil
}

// Duration is how far back from now the commands look.
func (s *since) Duration(now time.Time) time.Duration {
	if !s.at.IsZero() {
		return max(now.Sub(s.at), time.Nanosecond)
	}
	return s.d
}

// Phrase completes "no runs in …": "the last 24h" or "since TIME".
func (s *since) Phrase() string {
	if !s.at.IsZero() {
		return s.text
	}
	return "the last " + s.text
}

// parseDuration is time.ParseDuration with d and w, positive only.
func parseDuration(v string) (time.Duration, error) {
	if v == "" || !(v[0] >= '0' && v[0] <= '9' || v[0] == '.') {
		return 0, fmt.Errorf("not a positive duration")
	}
	var total time.Duration
	for rest := v; rest != ""; {
		if !(rest[0] >= '0' && rest[0] <= '9' || rest[0] == '.') {
			return 0, fmt.Errorf("not a positive duration") // 1d-1h
		}
		i := strings.IndexAny(rest, "dw")
		if i < 0 {
			d, err := time.ParseDuration(rest)
			if err != nil {
				return 0, err
			}
			total += d
			break
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || n < 0 || n > 1e5 {
			return 0, fmt.Errorf("bad number %q", rest[:i])
		}
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		total += time.Duration(n * float64(unit))
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("not positive")
	}
	return total, nil
}
