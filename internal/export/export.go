// Package export is gtrun's only importer of OpenTelemetry. It turns journal
// entries into OTLP log records and spans, and the agent's metric samples
// into OTLP cumulative sums and histograms, and sends them with the
// design card's OTLP/HTTP exporters (otlploghttp, otlpmetrichttp,
// otlptracehttp). Only the delivery agent (gtrun-shipper) links it: a
// wrapped call never pays for its start-up.
package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gastown/gtrun/internal/shipper"
)

// Client sends to any number of endpoints; it caches one exporter per
// endpoint. It is safe for concurrent use by different endpoints.
type Client struct {
	version string
	host    string
	http    *http.Client

	mu       sync.Mutex
	logs     map[string]*endpoint[*otlploghttp.Exporter]
	metrics  map[string]*endpoint[*otlpmetrichttp.Exporter]
	traces   map[string]*endpoint[*otlptrace.Exporter]
	metRes   *resource.Resource
	logState logState
}

// NewClient returns a client; version is the agent's (the metrics
// resource's service.version).
func NewClient(version string) *Client {
	host, _ := os.Hostname()
	c := &Client{version: version, host: host,
		logs: map[string]*endpoint[*otlploghttp.Exporter]{}, metrics: map[string]*endpoint[*otlpmetrichttp.Exporter]{},
		traces: map[string]*endpoint[*otlptrace.Exporter]{}}
	c.http = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // telemetry goes straight to the configured endpoint
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
	c.metRes = resource.NewSchemaless(c.baseAttrs(version)...)
	return c
}

// SetInstance names the agent in the metrics resource (service.instance.id):
// two agents on one host (two users, two state directories) then write
// two series, not one series overwritten by both.
func (c *Client) SetInstance(id string) {
	c.metRes = resource.NewSchemaless(append(c.baseAttrs(c.version), attribute.String("service.instance.id", id))...)
}

func (c *Client) baseAttrs(version string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("service.name", "gtrun"),
		attribute.String("service.version", version),
		attribute.String("host.name", c.host),
		attribute.String("os.type", runtime.GOOS),
	}
}

// statusTransport remembers the last answer: its HTTP status (so a refusal
// for good can be told from a backend that is down), its Retry-After, and
// a partial success the exporters would only log.
type statusTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	ans  answer
}

// answer is what the endpoint said to the last request.
type answer struct {
	status     int // 0 when there was no answer
	retryAfter time.Duration
	rejected   int64
	msg        string
}

func (t *statusTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	var a answer
	if err == nil {
		a.status = resp.StatusCode
		a.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if a.status/100 == 2 {
			a.rejected, a.msg = peekPartial(resp)
		}
	}
	t.mu.Lock()
	t.ans = a
	t.mu.Unlock()
	return resp, err
}

// reset forgets the last answer before a new export: an export that never
// reaches the network must not report the previous one's.
func (t *statusTransport) reset() {
	t.mu.Lock()
	t.ans = answer{}
	t.mu.Unlock()
}

func (t *statusTransport) last() answer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ans
}

// Error is a failed export, or a partial success (Status 2xx, Rejected > 0).
type Error struct {
	Status int // HTTP status, 0 when there was no answer
	// Wait is the endpoint's Retry-After (0 when it gave none).
	Wait time.Duration
	// Rejected counts the items a 2xx refused (partial success): the
	// rest was accepted, so the request is not sent again.
	Rejected int64
	Err      error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("HTTP %d: %v", e.Status, shortErr(e.Err))
	}
	return shortErr(e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent: the payload itself is refused, so sending it again cannot help.
func (e *Error) Permanent() bool { return e.Status == 400 || e.Status == 413 || e.Status == 415 }

// HTTPStatus is the endpoint's answer (0: none).
func (e *Error) HTTPStatus() int { return e.Status }

// RetryAfter is how long the endpoint asked to wait.
func (e *Error) RetryAfter() time.Duration { return e.Wait }

// RejectedItems counts what a partial success refused.
func (e *Error) RejectedItems() int64 { return e.Rejected }

// wrapErr turns an exporter's outcome and the answer the transport saw into
// the agent's terms: a 2xx is a success (partial or whole) whatever the
// exporter made of it.
func wrapErr(err error, t *statusTransport) error {
	a := t.last()
	if a.status/100 == 2 {
		if a.rejected > 0 {
			return &Error{Status: a.status, Rejected: a.rejected, Err: errors.New("partial success: " + a.msg)}
		}
		return nil
	}
	if err == nil {
		return nil
	}
	return &Error{Status: a.status, Wait: a.retryAfter, Err: err}
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// peekPartial reads a 2xx protobuf answer's partial_success (the same
// fields for logs, metrics and traces) and puts the body back for the
// exporter.
func peekPartial(resp *http.Response) (int64, string) {
	if resp.Body == nil || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		return 0, ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return 0, ""
	}
	var m collogs.ExportLogsServiceResponse
	if proto.Unmarshal(b, &m) != nil || m.PartialSuccess == nil {
		return 0, ""
	}
	return m.PartialSuccess.RejectedLogRecords, m.PartialSuccess.ErrorMessage
}

func shortErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		s := op.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = s[i+2:]
		}
		return s
	}
	return err.Error()
}

func (c *Client) transport() *statusTransport { return &statusTransport{base: c.http.Transport} }

// endpoint is one cached exporter and the transport that saw its answers.
type endpoint[E any] struct {
	exp E
	st  *statusTransport
}

// cached returns m's exporter for (url, headers), made by newExp the first
// time (the retries of the SDK off: the agent retries, with its own backoff).
func cached[E any](c *Client, m map[string]*endpoint[E], url string, headers map[string]string, newExp func(*http.Client) (E, error)) (*endpoint[E], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := shipper.Identity(url, headers)
	if e := m[k]; e != nil {
		return e, nil
	}
	st := c.transport()
	exp, err := newExp(&http.Client{Transport: st})
	if err != nil {
		return nil, &Error{Status: 400, Err: err} // a bad URL never gets better
	}
	e := &endpoint[E]{exp: exp, st: st}
	m[k] = e
	return e, nil
}

func (c *Client) logExporter(url string, headers map[string]string) (*endpoint[*otlploghttp.Exporter], error) {
	return cached(c, c.logs, url, headers, func(hc *http.Client) (*otlploghttp.Exporter, error) {
		return otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(url), otlploghttp.WithHTTPClient(hc),
			otlploghttp.WithHeaders(headers), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	})
}

func (c *Client) metricExporter(url string, headers map[string]string) (*endpoint[*otlpmetrichttp.Exporter], error) {
	return cached(c, c.metrics, url, headers, func(hc *http.Client) (*otlpmetrichttp.Exporter, error) {
		return otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(url), otlpmetrichttp.WithHTTPClient(hc),
			otlpmetrichttp.WithHeaders(headers), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	})
}

func (c *Client) traceExporter(url string, headers map[string]string) (*endpoint[*otlptrace.Exporter], error) {
	return cached(c, c.traces, url, headers, func(hc *http.Client) (*otlptrace.Exporter, error) {
		return otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url), otlptracehttp.WithHTTPClient(hc),
			otlptracehttp.WithHeaders(headers), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	})
}
