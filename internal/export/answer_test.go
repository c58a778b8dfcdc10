package export

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/otlptest"
)

// The agent sees what the endpoint answered: a partial success as such
// (not a failure to send again), a Retry-After in seconds or as a date, a
// refusal for good.
func TestAnswersReachTheAgent(t *testing.T) {
	fs := otlptest.StartFault(t)
	c := NewClient("test")
	send := func() *Error {
		t.Helper()
		err := c.Logs(context.Background(), fs.URL+"/v1/logs", nil, []*journal.Entry{entry()}, [][]int{{0, 1}})
		if err == nil {
			return nil
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%T %v", err, err)
		}
		return e
	}
	fs.Push(otlptest.Rule{Rejected: 1})
	if e := send(); e == nil || e.RejectedItems() != 1 || e.Status != 200 {
		t.Fatalf("partial success: %+v", e)
	}
	fs.Push(otlptest.Rule{Status: 429, RetryAfter: "7"})
	if e := send(); e == nil || e.RetryAfter() != 7*time.Second || e.HTTPStatus() != 429 {
		t.Fatalf("Retry-After seconds: %+v", e)
	}
	fs.Push(otlptest.Rule{Status: 503, RetryAfter: time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)})
	if e := send(); e == nil || e.RetryAfter() < 58*time.Second || e.RetryAfter() > time.Minute {
		t.Fatalf("Retry-After date: %+v", e)
	}
	fs.Push(otlptest.Rule{Status: 413})
	if e := send(); e == nil || !e.Permanent() || e.RetryAfter() != 0 {
		t.Fatalf("413: %+v", e)
	}
	if e := send(); e != nil {
		t.Fatalf("200: %+v", e)
	}
}
