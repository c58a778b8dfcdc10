package export

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/runenv"
)

// Config says where and how to export. The zero value exports nothing.
type Config struct {
	LogsURL, MetricsURL, TracesURL string
	Headers                        map[string]string
	// FlushTimeout bounds the time spent delivering at exit; what is not
	// delivered by then is spooled. GT_OTEL_FLUSH_TIMEOUT, default 200ms.
	FlushTimeout time.Duration
	// SpoolMaxBytes bounds the spool; the oldest batches are dropped first.
	SpoolMaxBytes int64
	Version       string
	// Resource holds the extra resource attributes of logs and traces (the
	// caller's OTEL_RESOURCE_ATTRIBUTES plus gt.*). Metrics never get them:
	// a per-run attribute would make every call a new series.
	Resource [][2]string
	RunID    string
	Work     [][2]string // gt.work_* attributes added to every record
	Warn     io.Writer   // where the one short warning goes (stderr)
}

// Enabled reports whether anything is exported.
func (c Config) Enabled() bool { return c.LogsURL != "" || c.MetricsURL != "" || c.TracesURL != "" }

// DefaultFlushTimeout keeps a black-holed backend within the §6 budget.
const DefaultFlushTimeout = 200 * time.Millisecond

// DefaultSpoolMaxBytes bounds the spool directory.
const DefaultSpoolMaxBytes = 64 << 20

// FromEnv builds the configuration from the environment (SPEC §1
// "Configuration read by gtrun"). Bad values never fail: they switch the
// affected signal off and come back as warnings.
func FromEnv(e *runenv.Env, runID string) (Config, []string) {
	var warns []string
	c := Config{FlushTimeout: DefaultFlushTimeout, SpoolMaxBytes: DefaultSpoolMaxBytes, RunID: runID}
	if v, _ := strconv.ParseBool(e.Get("OTEL_SDK_DISABLED")); v {
		return c, nil
	}
	pick := func(gt, specific, path string) string {
		name, raw := gt, e.Get(gt)
		if raw == "" {
			name, raw = specific, e.Get(specific)
		}
		if raw == "" {
			if base := e.Get("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
				name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimRight(base, "/")+path
			}
		}
		if raw == "" {
			return ""
		}
		if err := checkURL(raw); err != nil {
			warns = append(warns, fmt.Sprintf("%s ignored: %v", name, err))
			return ""
		}
		return raw
	}
	c.LogsURL = pick("GT_OTEL_LOGS_URL", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")
	c.MetricsURL = pick("GT_OTEL_METRICS_URL", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")
	c.TracesURL = pick("GT_OTEL_TRACES_URL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")
	if h := e.Get("OTEL_EXPORTER_OTLP_HEADERS"); h != "" {
		kv, warn := runenv.ParseResourceAttrs(h) // same k=v,… percent-encoded syntax
		if warn != "" {
			warns = append(warns, strings.Replace(warn, "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS", 1))
		}
		c.Headers = map[string]string{}
		for _, p := range kv {
			c.Headers[p[0]] = p[1]
		}
	}
	if v := e.Get("GT_OTEL_FLUSH_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			warns = append(warns, fmt.Sprintf("GT_OTEL_FLUSH_TIMEOUT=%q ignored: want a duration like 200ms", v))
		} else {
			c.FlushTimeout = d
		}
	}
	if v := e.Get("GT_SPOOL_MAX_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			warns = append(warns, fmt.Sprintf("GT_SPOOL_MAX_BYTES=%q ignored: want a positive byte count", v))
		} else {
			c.SpoolMaxBytes = n
		}
	}
	caller, warn := runenv.ParseResourceAttrs(e.Get("OTEL_RESOURCE_ATTRIBUTES"))
	if warn != "" {
		warns = append(warns, warn)
	}
	c.Resource = append(caller, runenv.GTAttrs(e, runID)...)
	c.Work = runenv.Work(e)
	return c, warns
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bad URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", raw)
	}
	return nil
}
