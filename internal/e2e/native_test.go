package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `gtrun agent` opts a known agent's own OpenTelemetry in, pointed at
// gtrun's backends and carrying the run — and never over the user's own
// settings. The agents are stand-ins that print what they were given.
func TestNativeTelemetryOptIn(t *testing.T) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "claude"), []byte("#!/bin/sh\nenv | grep -E '^(CLAUDE_CODE_|OTEL_)' | sort\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "codex"), []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"arg:$a\"; done\n"), 0o755)
	logs, mets := "http://127.0.0.1:9/insert/opentelemetry/v1/logs", "http://127.0.0.1:9/opentelemetry/api/v1/push"
	e := newEnv(t).set("PATH", bin+":"+os.Getenv("PATH"), "GT_OTEL_LOGS_URL", logs, "GT_OTEL_METRICS_URL", mets,
		"GT_RUN", "run-native", "GT_WORK_BEAD", "gt-nat")
	want := []string{
		"CLAUDE_CODE_ENABLE_TELEMETRY=1",
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=" + logs,
		"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=" + mets,
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_RESOURCE_ATTRIBUTES=gt.run_id=run-native,gt.work_bead=gt-nat",
	}
	r := e.run("", "agent", "--role", "polecat", "--", "claude")
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got != strings.Join(want, "\n") {
		t.Fatalf("claude got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// gtrun env shows the same.
	r = e.run("", "env", "--", "claude")
	for _, w := range want {
		if !strings.Contains(r.stdout, w+"\n") {
			t.Errorf("gtrun env -- claude lacks %s", w)
		}
	}
	// The user's own setting, or --no-native-telemetry: nothing added.
	r = e.with("OTEL_LOGS_EXPORTER", "console").run("", "agent", "--", "claude")
	if got := strings.TrimSpace(r.stdout); got != "OTEL_LOGS_EXPORTER=console\nOTEL_RESOURCE_ATTRIBUTES=gt.run_id=run-native,gt.work_bead=gt-nat" {
		t.Fatalf("user's own setting overridden:\n%s", got)
	}
	r = e.run("", "agent", "--no-native-telemetry", "--", "claude")
	if got := strings.TrimSpace(r.stdout); got != "OTEL_RESOURCE_ATTRIBUTES=gt.run_id=run-native,gt.work_bead=gt-nat" {
		t.Fatalf("--no-native-telemetry:\n%s", got)
	}
	// Codex: -c otel.* overrides, before its own arguments.
	r = e.run("", "agent", "--", "codex", "exec", "hi")
	if got := strings.TrimSpace(r.stdout); got != `arg:-c
arg:otel.exporter={otlp-http={endpoint="`+logs+`",protocol="binary"}}
arg:-c
arg:otel.environment="gastown"
arg:exec
arg:hi` {
		t.Fatalf("codex args:\n%s", got)
	}
	r = e.run("", "agent", "--", "codex", "-c", "otel.exporter=none", "exec")
	if got := strings.TrimSpace(r.stdout); got != "arg:-c\narg:otel.exporter=none\narg:exec" {
		t.Fatalf("codex with its own otel:\n%s", got)
	}
}
