package viewcli

import (
	"testing"
	"time"
)

func TestSinceParser(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{"24h": day, "90m": 90 * time.Minute, "7d": 7 * day, "2w": 14 * day,
		"1w2d": 9 * day, "1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "30s": 30 * time.Second} {
		s := newSince(time.Hour)
		if err := s.Set(in); err != nil || s.Duration(time.Now()) != want {
			t.Errorf("%q: %v %v want %v", in, s.Duration(time.Now()), err, want)
		}
	}
	for _, in := range []string{"-5h", "-1s", "0", "0s", "", "5", "d", "7x", "1d-1h", "yesterday", "2099-01-01T00:00:00Z", "-1d"} {
		if err := newSince(time.Hour).Set(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	s := newSince(time.Hour)
	at := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	if err := s.Set(at.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if d := s.Duration(at.Add(3 * time.Hour)); d != 3*time.Hour {
		t.Errorf("RFC3339: %v", d)
	}
}
