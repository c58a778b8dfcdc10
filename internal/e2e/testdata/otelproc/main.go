// Command otelproc is a short-lived program that reports its own telemetry
// the way the real gt does (internal/telemetry in gastown): the OTel Go SDK
// set up for one command from GT_OTEL_LOGS_URL / GT_OTEL_METRICS_URL,
// resource service.name=gastown plus OTEL_RESOURCE_ATTRIBUTES and the
// process's pid, a bd.call log record and a gastown.bd.calls.total /
// gastown.bd.duration_ms increment per call, exported once, at exit,
// cumulative from 0. The e2e tests run many of them through gtrun.
//
// Usage: otelproc N SUBCOMMAND — reports N bd calls of SUBCOMMAND.
// OTELPROC_SESSION_RUN=ID also reports an agent.instantiate of a new
// session whose run.id is ID, as gt's polecat session manager does.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: otelproc N SUBCOMMAND")
		os.Exit(2)
	}
	sub := os.Args[2]
	ctx := context.Background()
	res, _ := resource.New(ctx, resource.WithFromEnv(), resource.WithProcessPID(),
		resource.WithAttributes(attribute.String("service.name", "gastown"), attribute.String("service.version", "otelproc")))
	le, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(os.Getenv("GT_OTEL_LOGS_URL")))
	must(err)
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(le)))
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if u := os.Getenv("GT_OTEL_METRICS_URL"); u != "" { // metrics only where configured
		me, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(u))
		must(err)
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour)))) // exported at exit
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	meter := mp.Meter("github.com/steveyegge/gastown")
	calls, _ := meter.Int64Counter("gastown.bd.calls.total")
	dur, _ := meter.Float64Histogram("gastown.bd.duration_ms", metric.WithUnit("ms"))
	logger := lp.Logger("gastown")
	for i := 0; i < n; i++ {
		attrs := metric.WithAttributes(attribute.String("status", "ok"), attribute.String("subcommand", sub))
		calls.Add(ctx, 1, attrs)
		dur.Record(ctx, float64(10+i), attrs)
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetEventName("bd.call")
		r.SetBody(attribute.StringValue("bd.call"))
		r.AddAttributes(attribute.String("subcommand", sub), attribute.String("args", fmt.Sprintf("%s %d", sub, i)),
			attribute.String("status", "ok"))
		addRunID(&r)
		logger.Emit(ctx, r)
	}
	if id := os.Getenv("OTELPROC_SESSION_RUN"); id != "" {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetEventName("agent.instantiate")
		r.SetBody(attribute.StringValue("agent.instantiate"))
		r.AddAttributes(attribute.String("run.id", id), attribute.String("session_id", "dm-rust"))
		addRunID(&r) // gt's emit appends $GT_RUN: the SDK keeps the last
		logger.Emit(ctx, r)
	}
	// gt flushes with a 2 s timeout at exit; an error is not gt's problem.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := lp.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "otelproc: logs:", err)
	}
	if err := mp.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "otelproc: metrics:", err)
	}
}

// addRunID is gt's (internal/telemetry/recorder.go): run.id from $GT_RUN
// when set, appended after the record's own attributes.
func addRunID(r *otellog.Record) {
	if id := os.Getenv("GT_RUN"); id != "" {
		r.AddAttributes(attribute.String("run.id", id))
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelproc:", err)
		os.Exit(1)
	}
}
