package shipper

import (
	"testing"
	"time"
)

// A Retry-After is honoured as given and capped; without one the backoff
// doubles from 0.5 s to 30 s.
func TestBackoffRetryAfterCapped(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := &follower{}
	for _, c := range []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{2, 0, time.Second},
		{7, 0, 30 * time.Second},
		{50, 0, 30 * time.Second},
		{1, 10 * time.Second, 10 * time.Second},
		{1, time.Hour, 5 * time.Minute},
	} {
		f.failures = c.failures
		f.backoff(now, c.retryAfter, DefaultMaxRetryAfter)
		if got := f.nextTry.Sub(now); got != c.want {
			t.Errorf("failures %d, Retry-After %v: next try in %v, want %v", c.failures, c.retryAfter, got, c.want)
		}
	}
}

// Splitting is a binary search: a batch of 8 with its 6th item refused
// isolates it in a bounded number of requests, and batches are whole again
// once past it.
func TestSplitIsolatesTheRefusedItem(t *testing.T) {
	f := &follower{batch: make([]item, 8)}
	bad := 5 // index in the original batch
	front := 0
	requests := 0
	for front <= bad {
		n := f.window()
		requests++
		if front <= bad && bad < front+n { // the request holds the bad item
			if n == 1 {
				break // alone: dead-lettered by the caller
			}
			f.split(n)
			continue
		}
		f.passed(n)
		f.batch = f.batch[n:]
		front += n
	}
	if front != bad || f.window() != 1 {
		t.Fatalf("stopped at %d with a window of %d, want the bad item (%d) alone", front, f.window(), bad)
	}
	if requests > 8 {
		t.Errorf("%d requests to isolate 1 of 8", requests)
	}
	f.passed(1) // dead-lettered
	f.batch = f.batch[1:]
	if f.win != 0 || f.window() != 2 {
		t.Errorf("after the bad item: window %d (win %d), want the whole rest", f.window(), f.win)
	}
}
