package backendtest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Collector is a running OpenTelemetry Collector (the test build in
// scripts/otelcol/, built into .bin/otelcol by `make backends`) started
// with the gateway configuration users copy, deploy/otelcol/gateway.yaml,
// its addresses given through that file's variables.
type Collector struct {
	// URL is the OTLP/HTTP base: what OTEL_EXPORTER_OTLP_ENDPOINT is set to.
	URL string
	// MetricsURL serves the collector's own Prometheus metrics
	// (otelcol_receiver_accepted_*, otelcol_exporter_sent_*), for diagnostics.
	MetricsURL string
	log        *lockedBuffer
}

// CollectorBackends are the base URLs the collector forwards to.
type CollectorBackends struct {
	VictoriaMetrics string // e.g. vm.URL
	VictoriaLogs    string // e.g. vl.URL
	JaegerOTLP      string // Jaeger's OTLP/HTTP base, without /v1/traces
}

// Backends returns the forwarding addresses of running servers; any of
// them may be nil (its exporter then points at a refused port).
func Backends(t testing.TB, vm *VM, vl *VL, jg *Jaeger) CollectorBackends {
	t.Helper()
	refused := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	b := CollectorBackends{refused, refused, refused}
	if vm != nil {
		b.VictoriaMetrics = vm.URL
	}
	if vl != nil {
		b.VictoriaLogs = vl.URL
	}
	if jg != nil {
		b.JaegerOTLP = strings.TrimSuffix(jg.OTLPURL, "/v1/traces")
	}
	return b
}

// GatewayConfig is the path of deploy/otelcol/gateway.yaml.
func GatewayConfig(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "deploy", "otelcol", "gateway.yaml")
}

// StartCollector starts the collector on free loopback ports with the
// gateway config and a 200ms batch timeout; it is killed when the test
// ends, and its log is shown when the test failed.
func StartCollector(t testing.TB, b CollectorBackends) *Collector {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), ".bin", "otelcol")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("backendtest: %s is missing: run `make backends` (scripts/backends.sh ensure) to build the test OpenTelemetry Collector from scripts/otelcol/", bin)
	}
	cfg := GatewayConfig(t)
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		listen, telemetry := FreePort(t), FreePort(t)
		c := &Collector{
			URL:        fmt.Sprintf("http://127.0.0.1:%d", listen),
			MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetry),
			log:        &lockedBuffer{},
		}
		cmd := exec.Command(bin, "--config", cfg)
		cmd.Env = append(os.Environ(),
			fmt.Sprintf("OTELCOL_LISTEN=127.0.0.1:%d", listen),
			fmt.Sprintf("OTELCOL_TELEMETRY_PORT=%d", telemetry),
			"OTELCOL_BATCH_TIMEOUT=200ms",
			"OTELCOL_LOG_LEVEL=info",
			"VICTORIAMETRICS_URL="+b.VictoriaMetrics,
			"VICTORIALOGS_URL="+b.VictoriaLogs,
			"JAEGER_OTLP_URL="+b.JaegerOTLP,
		)
		cmd.Stdout, cmd.Stderr = c.log, c.log
		if err := cmd.Start(); err != nil {
			t.Fatalf("backendtest: start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cmd.Process.Kill(); <-exited }
		// The receiver starts after the exporters and processors, so once
		// it answers (405 to a GET: it only takes POST) the pipelines are up.
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case <-exited:
				last = fmt.Errorf("otelcol exited: %s", c.log.String())
				goto retry
			default:
			}
			if resp, err := http.Get(c.URL + "/v1/logs"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusMethodNotAllowed {
					t.Cleanup(func() {
						failed := t.Failed()
						if failed {
							t.Logf("otelcol counters at the end:\n%s", c.Counters())
						}
						stop()
						if failed {
							t.Logf("otelcol log:\n%s", c.log.String())
						}
					})
					return c
				}
			}
			if time.Now().After(deadline) {
				stop()
				last = fmt.Errorf("otelcol did not answer on %s within 60s: %s", c.URL, c.log.String())
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	retry:
	}
	t.Fatalf("backendtest: %v", last)
	return nil
}

// Log returns what the collector wrote so far.
func (c *Collector) Log() string { return c.log.String() }

// Sum adds up the collector's own metric over its label sets (0 when it
// has none).
func (c *Collector) Sum(t testing.TB, metric string) float64 {
	t.Helper()
	resp, err := http.Get(c.MetricsURL)
	if err != nil {
		t.Fatalf("backendtest: collector metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if name != metric {
			continue
		}
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// Counters returns the collector's own receiver/exporter counters
// (non-zero otelcol_receiver_* and otelcol_exporter_* lines), or the
// error reaching them.
func (c *Collector) Counters() string {
	resp, err := http.Get(c.MetricsURL)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if (strings.HasPrefix(l, "otelcol_receiver_") || strings.HasPrefix(l, "otelcol_exporter_")) && !strings.HasSuffix(l, " 0") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
