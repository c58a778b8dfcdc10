package export

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/otlptest"
	"github.com/gastown/gtrun/internal/runenv"
)

func newTestExporter(t *testing.T, recv *otlptest.Receiver, warn io.Writer) *Exporter {
	t.Helper()
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	e := runenv.New([]string{
		"GT_OTEL_LOGS_URL=" + recv.URL + "/v1/logs", "GT_OTEL_METRICS_URL=" + recv.URL + "/v1/metrics",
		"GT_WORK_BEAD=gt-b1", "GT_ROLE=mayor", "OTEL_RESOURCE_ATTRIBUTES=team=core",
	})
	cfg, warns := FromEnv(e, "run-x")
	if len(warns) > 0 {
		t.Fatal(warns)
	}
	cfg.Version = "test"
	cfg.Warn = warn
	return New(cfg)
}

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestLogRecordShapeAndTypes(t *testing.T) {
	recv := otlptest.Start(t)
	x := newTestExporter(t, recv, io.Discard)
	ts := time.Date(2025, 11, 29, 15, 18, 19, 0, time.UTC)
	x.Emit(context.Background(), event.Record{Name: "mol.squash", Time: ts, Attrs: []event.Attr{
		event.String("mol_id", "gt-wisp-9hx"), event.Int("done_steps", 2), event.Bool("digest_created", true)}})
	x.Emit(context.Background(), event.Record{Name: "bd.call", Err: "Error: boom", Attrs: []event.Attr{
		event.String("subcommand", "close"), event.Int("duration_ms", 12), event.Int("exit_code", 1)}})
	x.Close()
	logs := recv.Logs()
	if len(logs) != 2 {
		t.Fatalf("%d records", len(logs))
	}
	sq, bd := logs[0], logs[1]
	if sq.Body.GetStringValue() != "mol.squash" || sq.EventName != "mol.squash" || sq.TimeUnixNano != uint64(ts.UnixNano()) || sq.SeverityText != "INFO" {
		t.Fatalf("record: %v", sq)
	}
	a := attrMap(sq.Attributes)
	if a["done_steps"].GetIntValue() != 2 || !a["digest_created"].GetBoolValue() || a["run.id"].GetStringValue() != "run-x" ||
		a["status"].GetStringValue() != "ok" || a["gt.work_bead"].GetStringValue() != "gt-b1" {
		t.Fatalf("attributes: %v", a)
	}
	if _, isInt := a["done_steps"].Value.(*commonpb.AnyValue_IntValue); !isInt {
		t.Fatal("done_steps not an int")
	}
	b := attrMap(bd.Attributes)
	if bd.SeverityText != "ERROR" || b["status"].GetStringValue() != "error" || b["error"].GetStringValue() != "Error: boom" {
		t.Fatalf("failed record: %v", bd)
	}
	res := attrMap(recv.ResourceLogs()[0].Resource.Attributes)
	if res["service.name"].GetStringValue() != "gtrun" || res["team"].GetStringValue() != "core" || res["gt.role"].GetStringValue() != "mayor" {
		t.Fatalf("resource: %v", res)
	}
	if _, ok := res["gt.run_id"]; ok {
		t.Fatal("run id in the log resource would make a stream per run")
	}
	var names []string
	for _, m := range recv.Metrics() {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "gastown.mol.squashes.total,gastown.bd.calls.total,gastown.bd.duration_ms" {
		t.Fatalf("metrics: %s", got)
	}
}

// Counters are cumulative across processes: each exporter (a process)
// continues the persisted series, with strictly increasing timestamps, and
// a new series starts with a zero sample.
func TestCumulativeAcrossExporters(t *testing.T) {
	recv := otlptest.Start(t)
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	cfg := Config{MetricsURL: recv.URL + "/v1/metrics", FlushTimeout: 5 * time.Second, Version: "t", Warn: io.Discard}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := New(cfg)
			x.Emit(context.Background(), event.Record{Name: "nudge", Attrs: []event.Attr{event.String("target", "x")}})
			x.Close()
		}()
	}
	wg.Wait()
	type pt struct {
		t uint64
		v int64
	}
	var pts []pt
	for _, m := range recv.Metrics() {
		for _, dp := range m.GetSum().DataPoints {
			pts = append(pts, pt{dp.TimeUnixNano, dp.GetAsInt()})
		}
	}
	if len(pts) != 9 {
		t.Fatalf("%d points, want 8 + the zero sample", len(pts))
	}
	// Sorted by time, values are 0,1,…,8: what VictoriaMetrics will see
	// whatever order the requests arrived in.
	byT := map[uint64]int64{}
	for _, p := range pts {
		if _, dup := byT[p.t]; dup {
			t.Fatal("two samples share a timestamp")
		}
		byT[p.t] = p.v
	}
	var ts []uint64
	for k := range byT {
		ts = append(ts, k)
	}
	slices.Sort(ts)
	for i, k := range ts {
		if byT[k] != int64(i) {
			t.Fatalf("sample %d = %d", i, byT[k])
		}
	}
}

func TestSpoolOn503ThenDeliver(t *testing.T) {
	recv := otlptest.Start(t)
	recv.Fail(503)
	var warn strings.Builder
	x := newTestExporter(t, recv, &warn)
	x.Emit(context.Background(), event.Record{Name: "nudge", Attrs: []event.Attr{event.String("target", "x")}})
	x.Close()
	if !strings.Contains(warn.String(), "spooled logs (HTTP 503), metrics (HTTP 503)") || strings.Count(warn.String(), "\n") != 1 {
		t.Fatalf("warning %q", warn.String())
	}
	if p := x.Spool().Pending(); p["logs"] != 1 || p["metrics"] != 1 {
		t.Fatalf("pending %v", p)
	}
	recv.Fail(200)
	res := x.DeliverSpool(context.Background(), true)
	if res["logs"].Sent != 1 || res["metrics"].Sent != 1 || len(recv.Logs()) != 1 || len(recv.Metrics()) != 1 {
		t.Fatalf("deliver: %+v logs %d", res, len(recv.Logs()))
	}
	if len(x.Spool().Pending()) != 0 {
		t.Fatal("spool not empty")
	}
}

func TestSpoolBounded(t *testing.T) {
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	var warns []string
	sp, err := OpenSpool(2500, func(m string) { warns = append(warns, m) })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		sp.Put(KindLogs, "http://127.0.0.1:1/v1/logs", nil, make([]byte, 1000))
		time.Sleep(time.Millisecond)
	}
	if n := sp.Pending()["logs"]; n != 2 {
		t.Fatalf("%d entries kept, want 2 (the newest)", n)
	}
	if len(warns) == 0 || !strings.Contains(warns[0], "dropped the 1 oldest") {
		t.Fatalf("warnings %v", warns)
	}
	ents, _ := filepath.Glob(filepath.Join(sp.Dir, "logs", "*.otlp"))
	for _, e := range ents {
		fi, _ := os.Stat(e)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", e, fi.Mode())
		}
	}
	di, _ := os.Stat(sp.Dir)
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("spool dir mode %v", di.Mode())
	}
}

func TestConfigFallbacksAndDisable(t *testing.T) {
	c, w := FromEnv(runenv.New([]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318/", "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20x"}), "r")
	if c.LogsURL != "http://127.0.0.1:4318/v1/logs" || c.MetricsURL != "http://127.0.0.1:4318/v1/metrics" || c.Headers["Authorization"] != "Bearer x" || len(w) != 0 {
		t.Fatalf("%+v %v", c, w)
	}
	c, _ = FromEnv(runenv.New([]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:1/l", "GT_OTEL_LOGS_URL=http://127.0.0.1:2/g"}), "r")
	if c.LogsURL != "http://127.0.0.1:2/g" {
		t.Fatal(c.LogsURL)
	}
	c, _ = FromEnv(runenv.New([]string{"OTEL_SDK_DISABLED=true", "GT_OTEL_LOGS_URL=http://127.0.0.1:2/g"}), "r")
	if c.Enabled() {
		t.Fatal("disabled config exports")
	}
}
