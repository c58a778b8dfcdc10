package runenv

import (
	"strconv"
	"strings"
)

// Native is what opts a coding agent's own OpenTelemetry in, pointed at
// gtrun's backends: environment entries and extra arguments. The run and
// work context travel in OTEL_RESOURCE_ATTRIBUTES (Child), so the agent's
// native events join the run ("gt.run_id":=… in VictoriaLogs).
type Native struct {
	Env  []string
	Args []string // inserted after argv[0]
}

// NativeTelemetry returns the native-telemetry settings for agent
// ("claudecode" or "codex") given gtrun's endpoints. It never overrides
// what the user set: any telemetry setting of their own (in the
// environment, in argv, or in Codex's config file text) means none.
func NativeTelemetry(e *Env, agent string, argv []string, logsURL, metricsURL string, codexConfig string) Native {
	if logsURL == "" && metricsURL == "" {
		return Native{}
	}
	switch agent {
	case "claudecode":
		return claudeNative(e, logsURL, metricsURL)
	case "codex":
		return codexNative(argv, logsURL, codexConfig)
	}
	return Native{}
}

// claudeUserKeys are the settings that mean the user configured Claude
// Code's telemetry themselves.
var claudeUserKeys = []string{"CLAUDE_CODE_ENABLE_TELEMETRY", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"}

func claudeNative(e *Env, logsURL, metricsURL string) Native {
	for _, k := range claudeUserKeys {
		if _, set := e.Lookup(k); set {
			return Native{}
		}
	}
	// OTLP/HTTP protobuf: VictoriaLogs ingests protobuf only. Cumulative:
	// Claude Code's default is delta, which VictoriaMetrics stores raw.
	env := []string{"CLAUDE_CODE_ENABLE_TELEMETRY=1"}
	if metricsURL != "" {
		env = append(env, "OTEL_METRICS_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="+metricsURL, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative")
	}
	if logsURL != "" {
		env = append(env, "OTEL_LOGS_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf",
			"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="+logsURL)
	}
	return Native{Env: env}
}

// codexNative points Codex's OTel log exporter (it exports events as OTLP
// logs) at gtrun's logs endpoint with `-c otel.…` overrides. Headers are
// left out: argv is visible to every user of the machine.
func codexNative(argv []string, logsURL, config string) Native {
	if logsURL == "" {
		return Native{}
	}
	for i, a := range argv {
		if (a == "-c" || a == "--config") && i+1 < len(argv) && strings.HasPrefix(argv[i+1], "otel") ||
			strings.HasPrefix(a, "--config=otel") || strings.HasPrefix(a, "-cotel") {
			return Native{}
		}
	}
	for _, l := range strings.Split(config, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "[otel") || strings.HasPrefix(t, "otel.") || strings.HasPrefix(t, "otel =") {
			return Native{}
		}
	}
	return Native{Args: []string{"-c", "otel.exporter={otlp-http={endpoint=" + strconv.Quote(logsURL) + `,protocol="binary"}}`,
		"-c", `otel.environment="gastown"`}}
}
