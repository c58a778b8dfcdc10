package sink

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/runenv"
)

// Config says where one process's telemetry goes. The zero value records
// nothing.
type Config struct {
	Dest    journal.Dest
	RunID   string
	Version string
	// Resource holds the extra resource attributes of logs and traces (the
	// caller's OTEL_RESOURCE_ATTRIBUTES plus gt.*); the agent leaves per-run
	// keys out of the logs resource and never gives them to metrics.
	Resource [][2]string
	Work     [][2]string // gt.work_* attributes on every record and span
}

// Enabled reports whether anything is exported.
func (c Config) Enabled() bool {
	return c.Dest.Logs != "" || c.Dest.Metrics != "" || c.Dest.Traces != ""
}

// FromEnv builds the configuration from the environment (SPEC §1
// "Configuration read by gtrun"). Bad values never fail anything: they
// switch the affected signal off and come back as problems, which the
// caller reports once per hour.
func FromEnv(e *runenv.Env, runID string) (Config, []string) {
	var problems []string
	c := Config{RunID: runID}
	if v, _ := strconv.ParseBool(e.Get("OTEL_SDK_DISABLED")); v {
		return c, nil
	}
	pick := func(gt, specific, path string) string {
		// A gtrun below a child pointed at the receiver reads the user's
		// endpoints (runenv.UserEnv), not the receiver's.
		name, raw := gt, runenv.UserEnv(e, gt)
		if raw == "" {
			name, raw = specific, runenv.UserEnv(e, specific)
		}
		if raw == "" {
			if base := runenv.UserEnv(e, "OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
				name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimRight(base, "/")+path
			}
		}
		if raw == "" {
			return ""
		}
		if err := checkURL(raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s ignored: %v", name, err))
			return ""
		}
		return raw
	}
	c.Dest.Logs = pick("GT_OTEL_LOGS_URL", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")
	c.Dest.Metrics = pick("GT_OTEL_METRICS_URL", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")
	c.Dest.Traces = pick("GT_OTEL_TRACES_URL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")
	if h := e.Get("OTEL_EXPORTER_OTLP_HEADERS"); h != "" {
		kv, bad := runenv.ParseResourceAttrs(h) // same k=v,… percent-encoded syntax
		if bad != "" {
			problems = append(problems, strings.Replace(bad, "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS", 1))
		}
		c.Dest.Headers = map[string]string{}
		for _, p := range kv {
			c.Dest.Headers[p[0]] = p[1]
		}
	}
	caller, bad := runenv.ParseResourceAttrs(e.Get("OTEL_RESOURCE_ATTRIBUTES"))
	if bad != "" {
		problems = append(problems, bad)
	}
	c.Resource = append(parse.RedactPairs(caller), runenv.GTAttrs(e, runID)...) // db.password=… never exported
	c.Work = runenv.Work(e)
	return c, problems
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
