package otlptest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
)

// Rule is how the fault server answers one request.
type Rule struct {
	Status     int    // HTTP status; 0 is 200
	RetryAfter string // Retry-After header (seconds or an HTTP date)
	// Rejected > 0 answers 200 with partial_success.rejected_log_records:
	// the last Rejected log records of the request are refused, the rest
	// kept (and forwarded).
	Rejected int64
	Down     bool          // the connection is closed with no answer
	Trickle  time.Duration // the answer comes this late (a slow backend)
}

// Req is one request the fault server answered.
type Req struct {
	At      time.Time
	Path    string
	Status  int // 0: closed with no answer
	Records int // log records in the request
	Bytes   int
}

// Fault is a loopback OTLP/HTTP server that misbehaves on demand: scripted
// answers per request, a default answer, a poison marker (any batch holding
// it is refused), a size limit (413) and partial success. What it accepts
// it keeps, and forwards to a real server when told to.
type Fault struct {
	URL string

	mu       sync.Mutex
	script   []Rule
	def      Rule
	poison   string
	poisonSC int
	limit    int
	forward  map[string]string // path -> upstream URL
	reqs     []Req
	accepted []*logspb.LogRecord
	rejected []*logspb.LogRecord
	client   *http.Client
}

// StartFault serves until the test ends; it answers 200 until told otherwise.
func StartFault(t testing.TB) *Fault {
	f := &Fault{forward: map[string]string{}, client: &http.Client{Timeout: 10 * time.Second}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Push queues rules for the next requests, one each, before the default.
func (f *Fault) Push(r ...Rule) { f.mu.Lock(); f.script = append(f.script, r...); f.mu.Unlock() }

// Default sets the answer of every request the script does not cover.
func (f *Fault) Default(r Rule) { f.mu.Lock(); f.def = r; f.mu.Unlock() }

// Poison refuses with status any request whose body holds marker.
func (f *Fault) Poison(marker string, status int) {
	f.mu.Lock()
	f.poison, f.poisonSC = marker, status
	f.mu.Unlock()
}

// Limit answers 413 to bodies over n bytes (0: no limit).
func (f *Fault) Limit(n int) { f.mu.Lock(); f.limit = n; f.mu.Unlock() }

// Forward relays what is accepted on path to the upstream URL.
func (f *Fault) Forward(path, upstream string) {
	f.mu.Lock()
	f.forward[path] = upstream
	f.mu.Unlock()
}

// rule picks the answer to a request with body b.
func (f *Fault) rule(b []byte) Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.poison != "" && bytes.Contains(b, []byte(f.poison)):
		return Rule{Status: f.poisonSC}
	case f.limit > 0 && len(b) > f.limit:
		return Rule{Status: http.StatusRequestEntityTooLarge}
	case len(f.script) > 0:
		r := f.script[0]
		f.script = f.script[1:]
		return r
	}
	return f.def
}

func (f *Fault) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r := f.rule(body)
	logs := decodeLogs(req.URL.Path, body)
	entry := Req{At: time.Now(), Path: req.URL.Path, Status: r.Status, Records: len(logs), Bytes: len(body)}
	if r.Trickle > 0 && !waitCtx(req.Context(), r.Trickle) {
		return
	}
	if r.Down {
		entry.Status = 0
		f.log(entry, nil, nil)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	}
	if r.Status != 0 && r.Status != 200 {
		if r.RetryAfter != "" {
			w.Header().Set("Retry-After", r.RetryAfter)
		}
		f.log(entry, nil, nil)
		w.WriteHeader(r.Status)
		return
	}
	entry.Status = 200
	keep, refused := logs, []*logspb.LogRecord(nil)
	if r.Rejected > 0 && int(r.Rejected) <= len(logs) {
		keep, refused = logs[:len(logs)-int(r.Rejected)], logs[len(logs)-int(r.Rejected):]
		body = dropLast(body, int(r.Rejected))
	}
	if up := f.upstream(req.URL.Path); up != "" && !f.relay(up, req, body) {
		entry.Status = 502
		f.log(entry, nil, nil)
		w.WriteHeader(502)
		return
	}
	f.log(entry, keep, refused)
	w.Header().Set("Content-Type", "application/x-protobuf")
	var resp collogs.ExportLogsServiceResponse
	if r.Rejected > 0 {
		resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: r.Rejected, ErrorMessage: "rejected by the fault server"}
	}
	b, _ := proto.Marshal(&resp)
	w.Write(b)
}

func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *Fault) upstream(path string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forward[path]
}

// relay sends body on to the real server; false when it did not take it.
func (f *Fault) relay(up string, req *http.Request, body []byte) bool {
	out, err := http.NewRequest("POST", up, bytes.NewReader(body))
	if err != nil {
		return false
	}
	out.Header.Set("Content-Type", req.Header.Get("Content-Type"))
	resp, err := f.client.Do(out)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func (f *Fault) log(r Req, keep, refused []*logspb.LogRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	f.accepted = append(f.accepted, keep...)
	f.rejected = append(f.rejected, refused...)
}

// decodeLogs returns the log records of a logs request (nil otherwise).
func decodeLogs(path string, body []byte) []*logspb.LogRecord {
	if !strings.HasSuffix(path, "/logs") {
		return nil
	}
	var m collogs.ExportLogsServiceRequest
	if proto.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []*logspb.LogRecord
	for _, rl := range m.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			out = append(out, sl.LogRecords...)
		}
	}
	return out
}

// dropLast re-encodes a logs request without its last n records.
func dropLast(body []byte, n int) []byte {
	var m collogs.ExportLogsServiceRequest
	if proto.Unmarshal(body, &m) != nil {
		return body
	}
	for i := len(m.ResourceLogs) - 1; i >= 0 && n > 0; i-- {
		for j := len(m.ResourceLogs[i].ScopeLogs) - 1; j >= 0 && n > 0; j-- {
			sl := m.ResourceLogs[i].ScopeLogs[j]
			k := min(n, len(sl.LogRecords))
			sl.LogRecords = sl.LogRecords[:len(sl.LogRecords)-k]
			n -= k
		}
	}
	b, err := proto.Marshal(&m)
	if err != nil {
		return body
	}
	return b
}

// Requests returns every request answered so far.
func (f *Fault) Requests() []Req {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Req(nil), f.reqs...)
}

// Accepted returns the log records accepted so far.
func (f *Fault) Accepted() []*logspb.LogRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*logspb.LogRecord(nil), f.accepted...)
}

// Rejected returns the log records refused by partial successes.
func (f *Fault) Rejected() []*logspb.LogRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*logspb.LogRecord(nil), f.rejected...)
}

// Attr returns a log record's string attribute key ("" when absent).
func Attr(r *logspb.LogRecord, key string) string {
	for _, kv := range r.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}
