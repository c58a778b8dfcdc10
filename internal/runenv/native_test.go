package runenv

import (
	"strings"
	"testing"
)

func TestNativeTelemetryClaude(t *testing.T) {
	logs, mets := "http://127.0.0.1:9428/insert/opentelemetry/v1/logs", "http://127.0.0.1:8428/opentelemetry/api/v1/push"
	n := NativeTelemetry(New(nil), "claudecode", []string{"claude"}, logs, mets, "")
	want := "CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_METRICS_EXPORTER=otlp OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf " +
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=" + mets + " OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative " +
		"OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=" + logs
	if got := strings.Join(n.Env, " "); got != want || len(n.Args) != 0 {
		t.Fatalf("got %s", got)
	}
	for _, k := range []string{"CLAUDE_CODE_ENABLE_TELEMETRY=0", "OTEL_LOGS_EXPORTER=console", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"} {
		if n := NativeTelemetry(New([]string{k}), "claudecode", nil, logs, mets, ""); len(n.Env) != 0 {
			t.Errorf("%s set by the user, gtrun added %v", k, n.Env)
		}
	}
	if n := NativeTelemetry(New(nil), "claudecode", nil, "", "", ""); len(n.Env) != 0 {
		t.Errorf("no backend, still %v", n.Env)
	}
}

func TestNativeTelemetryCodex(t *testing.T) {
	logs := "http://127.0.0.1:9428/insert/opentelemetry/v1/logs"
	n := NativeTelemetry(New(nil), "codex", []string{"codex", "exec", "hi"}, logs, "", "")
	if got := strings.Join(n.Args, " "); got != `-c otel.exporter={otlp-http={endpoint="`+logs+`",protocol="binary"}} -c otel.environment="gastown"` || len(n.Env) != 0 {
		t.Fatalf("args %s", got)
	}
	for _, c := range []struct {
		argv   []string
		config string
	}{
		{[]string{"codex", "-c", "otel.exporter=none"}, ""},
		{[]string{"codex", "--config=otel.environment=x"}, ""},
		{[]string{"codex"}, "model = \"o4\"\n[otel]\nexporter = \"none\"\n"},
	} {
		if n := NativeTelemetry(New(nil), "codex", c.argv, logs, "", c.config); len(n.Args) != 0 {
			t.Errorf("%v / %q: user's own otel, gtrun added %v", c.argv, c.config, n.Args)
		}
	}
}
