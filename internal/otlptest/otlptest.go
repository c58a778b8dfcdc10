// Package otlptest is an in-process OTLP/HTTP (protobuf) receiver for fast
// unit tests of the exporter. It complements, never replaces, the real
// servers of internal/backendtest.
package otlptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver records what it was sent.
type Receiver struct {
	URL    string
	mu     sync.Mutex
	logs   []*logspb.ResourceLogs
	mets   []*metricspb.ResourceMetrics
	status int
	reqs   int
}

// Start serves until the test ends.
func Start(t testing.TB) *Receiver {
	r := &Receiver{status: 200}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Fail makes the receiver answer with status (e.g. 503) from now on.
func (r *Receiver) Fail(status int) { r.mu.Lock(); r.status = status; r.mu.Unlock() }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs++
	if r.status != 200 {
		w.WriteHeader(r.status)
		return
	}
	switch req.URL.Path {
	case "/v1/logs":
		var m collogs.ExportLogsServiceRequest
		if proto.Unmarshal(body, &m) != nil {
			w.WriteHeader(400)
			return
		}
		r.logs = append(r.logs, m.ResourceLogs...)
	case "/v1/metrics":
		var m colmetrics.ExportMetricsServiceRequest
		if proto.Unmarshal(body, &m) != nil {
			w.WriteHeader(400)
			return
		}
		r.mets = append(r.mets, m.ResourceMetrics...)
	default:
		w.WriteHeader(404)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// Requests counts requests received.
func (r *Receiver) Requests() int { r.mu.Lock(); defer r.mu.Unlock(); return r.reqs }

// Logs returns every log record received.
func (r *Receiver) Logs() []*logspb.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*logspb.LogRecord
	for _, rl := range r.logs {
		for _, sl := range rl.ScopeLogs {
			out = append(out, sl.LogRecords...)
		}
	}
	return out
}

// ResourceLogs returns the received resource groups.
func (r *Receiver) ResourceLogs() []*logspb.ResourceLogs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*logspb.ResourceLogs(nil), r.logs...)
}

// Metrics returns every metric received.
func (r *Receiver) Metrics() []*metricspb.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*metricspb.Metric
	for _, rm := range r.mets {
		for _, sm := range rm.ScopeMetrics {
			out = append(out, sm.Metrics...)
		}
	}
	return out
}
