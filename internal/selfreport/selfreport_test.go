package selfreport

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGtReportsOnlyWithSwitchAndCapability(t *testing.T) {
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	dir := t.TempDir()
	// The needle straddles the 1 MiB chunk boundary: the overlap finds it.
	body := bytes.Repeat([]byte{0}, 1<<20-5)
	withTelemetry := filepath.Join(dir, "gt-new")
	os.WriteFile(withTelemetry, append(body, []byte("GT_OTEL_LOGS_URL tail")...), 0o755)
	old := filepath.Join(dir, "gt-old")
	os.WriteFile(old, append(body, []byte("GT_OTEL_METRICS_URL only")...), 0o755)
	on := func(k string) string {
		if k == "GT_OTEL_LOGS_URL" {
			return "http://127.0.0.1:1/v1/logs"
		}
		return ""
	}
	off := func(string) string { return "" }
	for _, tc := range []struct {
		path string
		env  func(string) string
		want bool
	}{{withTelemetry, on, true}, {withTelemetry, off, false}, {old, on, false}} {
		for range 2 { // the second answer comes from the cache
			if got := Gt(tc.path, tc.env); got != tc.want {
				t.Fatalf("Gt(%s) = %v, want %v", filepath.Base(tc.path), got, tc.want)
			}
		}
	}
	// A rebuilt binary (new size and time) is probed again.
	os.WriteFile(withTelemetry, []byte("no telemetry"), 0o755)
	os.Chtimes(withTelemetry, time.Now(), time.Now().Add(time.Hour))
	if Gt(withTelemetry, on) {
		t.Fatal("stale cache answer for a rebuilt binary")
	}
}
