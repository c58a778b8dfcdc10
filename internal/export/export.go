// Package export is gtrun's only importer of OpenTelemetry. It turns
// event.Records into OTLP log records (VictoriaLogs) and catalog counters
// and histograms (VictoriaMetrics), delivers them within a bounded time,
// and spools what could not be delivered for a later, once-only delivery.
//
// Delivery model: records are collected in memory while the child runs and
// sent when Flush is called (at exit, or periodically by long-running
// commands such as agent-log). Each signal is one HTTP request through a
// spooling transport; a request that fails or outlives the flush deadline
// is stored byte for byte in the per-user spool and sent again by the next
// gtrun invocation (in the background of its own work) or `gtrun flush`.
package export

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gastown/gtrun/internal/catalog"
	"github.com/gastown/gtrun/internal/event"
)

// Exporter collects records and metric increments and delivers them.
// It is safe for concurrent use.
type Exporter struct {
	cfg Config

	mu      sync.Mutex
	logs    []sdklog.Record
	metrics pending
	warned  bool
	warning string

	spool    *Spool
	client   *http.Client
	logger   otellog.Logger
	lp       *sdklog.LoggerProvider
	logExp   *otlploghttp.Exporter
	metExp   *otlpmetrichttp.Exporter
	traceExp *otlptrace.Exporter
	spans    []sdktrace.ReadOnlySpan
	spanCtx  trace.SpanContext
	logRes   *resource.Resource
	metRes   *resource.Resource
	identity string
	bg       sync.WaitGroup
	bgCancel context.CancelFunc

	spooled map[string]error // kind -> why, for the single warning
}

// New builds an exporter. It never fails: problems become the warning.
func New(cfg Config) *Exporter {
	x := &Exporter{cfg: cfg, spooled: map[string]error{}}
	if !cfg.Enabled() {
		return x
	}
	sp, err := OpenSpool(cfg.SpoolMaxBytes, func(m string) { x.warnf("%s", m) })
	if err != nil {
		x.warnf("spool unavailable (%v): undeliverable telemetry will be lost", err)
	}
	x.spool = sp
	x.client = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // telemetry goes straight to the configured endpoint
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
	host, _ := os.Hostname()
	base := []attribute.KeyValue{
		attribute.String("service.name", "gtrun"),
		attribute.String("service.version", cfg.Version),
		attribute.String("host.name", host),
		attribute.String("os.type", runtime.GOOS),
	}
	x.metRes = resource.NewSchemaless(base...)
	x.identity = fmt.Sprintf("%s|%s|%s", cfg.Version, host, runtime.GOOS)
	if cfg.LogsURL != "" {
		kvs := append([]attribute.KeyValue(nil), base...)
		for _, kv := range cfg.Resource {
			// run id and work context are on every record; as resource
			// attributes they would make a VictoriaLogs stream per run.
			if kv[0] != "service.name" && kv[0] != "service.version" && kv[0] != "gt.run_id" && !strings.HasPrefix(kv[0], "gt.work_") {
				kvs = append(kvs, attribute.String(kv[0], kv[1]))
			}
		}
		x.logRes = resource.NewSchemaless(kvs...)
		exp, err := otlploghttp.New(context.Background(),
			otlploghttp.WithEndpointURL(cfg.LogsURL),
			otlploghttp.WithHTTPClient(x.spoolingClient(KindLogs)),
			otlploghttp.WithHeaders(cfg.Headers),
			otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		)
		if err != nil {
			x.warnf("logs export off: %v", err)
		} else {
			x.logExp = exp
			x.lp = sdklog.NewLoggerProvider(
				sdklog.WithResource(x.logRes),
				sdklog.WithProcessor(collector{x}),
			)
			x.logger = x.lp.Logger("gtrun")
		}
	}
	if x.logRes == nil {
		x.logRes = resource.NewSchemaless(base...)
	}
	if cfg.TracesURL != "" {
		x.initTraces()
	}
	if cfg.MetricsURL != "" {
		exp, err := otlpmetrichttp.New(context.Background(),
			otlpmetrichttp.WithEndpointURL(cfg.MetricsURL),
			otlpmetrichttp.WithHTTPClient(x.spoolingClient(KindMetrics)),
			otlpmetrichttp.WithHeaders(cfg.Headers),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
		)
		if err != nil {
			x.warnf("metrics export off: %v", err)
		} else {
			x.metExp = exp
		}
	}
	return x
}

func (x *Exporter) spoolingClient(kind string) *http.Client {
	return &http.Client{Transport: &spoolTransport{base: x.client.Transport, spool: x.spool, kind: kind, onSpool: x.noteSpooled}}
}

func (x *Exporter) noteSpooled(kind string, err error) {
	x.mu.Lock()
	x.spooled[kind] = err
	x.mu.Unlock()
}

// Config returns the exporter's configuration.
func (x *Exporter) Config() Config { return x.cfg }

// warnf keeps the first warning; Close prints it, after the child's own
// output, so a warning never lands in the middle of the user's screen.
func (x *Exporter) warnf(format string, args ...any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.warning == "" {
		x.warning = fmt.Sprintf(format, args...)
	}
}

// printWarning writes the single warning, once.
func (x *Exporter) printWarning() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.warning == "" || x.warned || x.cfg.Warn == nil {
		return
	}
	x.warned = true
	fmt.Fprintf(x.cfg.Warn, "gtrun: warning: %s\n", x.warning)
}

// Warn prints the process's single warning (used for configuration problems).
func (x *Exporter) Warn(msg string) { x.warnf("%s", msg) }

// collector is the log processor: it keeps the SDK-built records (with
// resource and scope) until Flush sends them in one request.
type collector struct{ x *Exporter }

func (c collector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c collector) Shutdown(context.Context) error                         { return nil }
func (c collector) ForceFlush(context.Context) error                       { return nil }
func (c collector) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.x.mu.Lock()
	c.x.logs = append(c.x.logs, r.Clone())
	c.x.mu.Unlock()
	return nil
}

// Emit records one catalog event: a log record (with run.id, status, error
// and work context) and the metric movements the catalog assigns to it.
func (x *Exporter) Emit(ctx context.Context, r event.Record) {
	if !x.cfg.Enabled() {
		return
	}
	if x.logger != nil {
		x.logger.Emit(x.withSpan(ctx), x.logRecord(r))
	}
	if x.metExp != nil {
		incs := catalog.Increments(r)
		x.mu.Lock()
		for _, inc := range incs {
			x.metrics.add(inc)
		}
		x.mu.Unlock()
	}
}

func (x *Exporter) logRecord(r event.Record) otellog.Record {
	var lr otellog.Record
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	lr.SetTimestamp(t)
	lr.SetObservedTimestamp(time.Now())
	lr.SetEventName(r.Name)
	lr.SetBody(attribute.StringValue(r.Name))
	if r.Failed() {
		lr.SetSeverity(otellog.SeverityError)
		lr.SetSeverityText("ERROR")
	} else {
		lr.SetSeverity(otellog.SeverityInfo)
		lr.SetSeverityText("INFO")
	}
	kvs := make([]attribute.KeyValue, 0, len(r.Attrs)+4+len(x.cfg.Work))
	kvs = append(kvs,
		attribute.String("run.id", x.cfg.RunID),
		attribute.String("status", r.Status()),
		attribute.String("error", r.Err),
	)
	have := map[string]bool{}
	for _, a := range r.Attrs {
		have[a.Key] = true
	}
	for _, w := range x.cfg.Work {
		if !have[w[0]] {
			kvs = append(kvs, attribute.String(w[0], w[1]))
		}
	}
	for _, a := range r.Attrs {
		if a.Key == "run.id" || a.Key == "status" || a.Key == "error" {
			continue
		}
		kvs = append(kvs, attrKV(a))
	}
	lr.AddAttributes(kvs...)
	return lr
}

func attrKV(a event.Attr) attribute.KeyValue {
	switch v := a.Value.(type) {
	case string:
		return attribute.String(a.Key, v)
	case int64:
		return attribute.Int64(a.Key, v)
	case int:
		return attribute.Int64(a.Key, int64(v))
	case bool:
		return attribute.Bool(a.Key, v)
	case float64:
		return attribute.Float64(a.Key, v)
	case nil:
		return attribute.String(a.Key, "")
	}
	return attribute.String(a.Key, fmt.Sprint(a.Value))
}

// Flush delivers everything emitted so far, concurrently per signal, within
// ctx. Undelivered batches go to the spool. It returns an error only when
// something could be neither delivered nor spooled.
func (x *Exporter) Flush(ctx context.Context) error {
	if !x.cfg.Enabled() {
		return nil
	}
	x.mu.Lock()
	logs := x.logs
	x.logs = nil
	met := x.metrics
	x.metrics = pending{}
	spans := x.spans
	x.spans = nil
	x.mu.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	if len(logs) > 0 && x.logExp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.logExp.Export(ctx, logs); err != nil && !x.wasSpooled(KindLogs) {
				fail(fmt.Errorf("logs: %w", err))
			}
		}()
	}
	if !met.empty() && x.metExp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rm, err := met.commit(x.identity, x.metRes)
			if err != nil {
				fail(fmt.Errorf("metrics state: %w", err))
				return
			}
			if err := x.metExp.Export(ctx, rm); err != nil && !x.wasSpooled(KindMetrics) {
				fail(fmt.Errorf("metrics: %w", err))
			}
		}()
	}
	if len(spans) > 0 && x.traceExp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.traceExp.ExportSpans(ctx, spans); err != nil && !x.wasSpooled(KindTraces) {
				fail(fmt.Errorf("traces: %w", err))
			}
		}()
	}
	wg.Wait()
	x.reportSpooled()
	return errors.Join(errs...)
}

func (x *Exporter) wasSpooled(kind string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.spooled[kind]
	return ok
}

func (x *Exporter) reportSpooled() {
	x.mu.Lock()
	var parts []string
	for k, err := range x.spooled {
		parts = append(parts, fmt.Sprintf("%s (%v)", k, shortErr(err)))
	}
	x.spooled = map[string]error{}
	x.mu.Unlock()
	if len(parts) > 0 {
		sort.Strings(parts)
		x.warnf("telemetry backend unreachable, spooled %s; `gtrun flush` or the next call delivers it", strings.Join(parts, ", "))
	}
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

// urlFor returns the configured endpoint of a spool kind.
func (x *Exporter) urlFor(kind string) string {
	switch kind {
	case KindLogs:
		return x.cfg.LogsURL
	case KindMetrics:
		return x.cfg.MetricsURL
	case KindTraces:
		return x.cfg.TracesURL
	}
	return ""
}

// DeliverSpool sends spooled batches of every configured signal. With
// wait=false it leaves a kind alone while another process delivers it.
func (x *Exporter) DeliverSpool(ctx context.Context, wait bool) map[string]DeliverResult {
	out := map[string]DeliverResult{}
	if x.spool == nil {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range kinds {
		u := x.urlFor(k)
		if u == "" {
			continue
		}
		if !wait && len(x.spool.entries(k)) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := x.spool.Deliver(ctx, x.client, k, u, x.cfg.Headers, wait)
			mu.Lock()
			out[k] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Spool returns the exporter's spool (nil when export is off or the state
// directory is unusable).
func (x *Exporter) Spool() *Spool { return x.spool }

// StartBackgroundDelivery delivers older spooled batches while the caller
// does its own work; Close waits for it within the flush deadline.
func (x *Exporter) StartBackgroundDelivery() {
	if x.spool == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.bgCancel = cancel
	x.bg.Add(1)
	go func() {
		defer x.bg.Done()
		x.DeliverSpool(ctx, false)
	}()
}

// Close flushes within the configured FlushTimeout and waits for
// background delivery, never longer than that deadline.
func (x *Exporter) Close() {
	defer x.printWarning()
	if !x.cfg.Enabled() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), x.cfg.FlushTimeout)
	defer cancel()
	if err := x.Flush(ctx); err != nil {
		x.warnf("telemetry lost: %v", err)
	}
	done := make(chan struct{})
	go func() { x.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if x.bgCancel != nil {
			x.bgCancel()
		}
		<-done // cancelled requests return at once
	}
}
