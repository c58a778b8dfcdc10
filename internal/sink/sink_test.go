package sink

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
)

func TestConfigFallbacksAndDisable(t *testing.T) {
	c, p := FromEnv(runenv.New([]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318/", "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20x"}), "r")
	if c.Dest.Logs != "http://127.0.0.1:4318/v1/logs" || c.Dest.Metrics != "http://127.0.0.1:4318/v1/metrics" ||
		c.Dest.Traces != "http://127.0.0.1:4318/v1/traces" || c.Dest.Headers["Authorization"] != "Bearer x" || len(p) != 0 {
		t.Fatalf("%+v %v", c, p)
	}
	c, _ = FromEnv(runenv.New([]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:1/l", "GT_OTEL_LOGS_URL=http://127.0.0.1:2/g"}), "r")
	if c.Dest.Logs != "http://127.0.0.1:2/g" {
		t.Fatal(c.Dest.Logs)
	}
	c, _ = FromEnv(runenv.New([]string{"OTEL_SDK_DISABLED=true", "GT_OTEL_LOGS_URL=http://127.0.0.1:2/g"}), "r")
	if c.Enabled() {
		t.Fatal("disabled config exports")
	}
	c, p = FromEnv(runenv.New([]string{"GT_OTEL_LOGS_URL=ftp://x/y", "OTEL_RESOURCE_ATTRIBUTES=a=%zz,b=1"}), "r")
	if c.Dest.Logs != "" || len(p) != 2 || !strings.Contains(p[0], "GT_OTEL_LOGS_URL ignored") {
		t.Fatalf("%+v %q", c, p)
	}
}

// A misconfiguration costs one line, at most once per hour per user,
// whatever the number of processes.
func TestNoticeOncePerHour(t *testing.T) {
	t.Setenv("GTRUN_STATE_DIR", t.TempDir())
	var out strings.Builder
	now := time.Now()
	problems := []string{"GT_OTEL_LOGS_URL ignored: bad URL", "other problem"}
	notify(&out, problems, now)
	notify(&out, problems, now.Add(10*time.Minute))
	notify(&out, problems[:1], now.Add(59*time.Minute))
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "gtrun: warning: GT_OTEL_LOGS_URL ignored: bad URL; other problem\n") {
		t.Fatalf("within the hour: %q", got)
	}
	out.Reset()
	notify(&out, problems[:1], now.Add(61*time.Minute))
	if out.String() != "gtrun: warning: GT_OTEL_LOGS_URL ignored: bad URL\n" {
		t.Fatalf("after the hour: %q", out.String())
	}
}

// One entry per Commit, with the records' own times and span link.
func TestCommitAppendsOneEntry(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GTRUN_STATE_DIR", dir)
	t.Setenv("PATH", t.TempDir()) // no gtrun-shipper: the entry waits in the journal
	cfg := Config{Dest: journal.Dest{Logs: "http://127.0.0.1:1/v1/logs"}, RunID: "r1", Version: "t"}
	var warn strings.Builder
	s := New(cfg, nil, &warn)
	s.SetSpan([16]byte{1}, [8]byte{2})
	at := time.Unix(1_700_000_000, 5)
	s.Emit(event.Record{Name: "nudge", Time: at, Attrs: []event.Attr{event.String("target", "x")}})
	s.Emit(event.Record{Name: "done", Time: at, Attrs: []event.Attr{event.String("exit_type", "COMPLETED")}})
	s.Close()
	j := journal.Open(filepath.Join(dir, "journal"))
	segs, _ := j.Segments()
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	c, err := j.ReadSegment(segs[0].Name, 0, 1<<20)
	if err != nil || len(c.Frames) != 1 {
		t.Fatalf("%v %+v", err, c)
	}
	e, _ := journal.Decode(c.Frames[0].Payload)
	if e.RunID != "r1" || len(e.Records) != 2 || e.Records[0].Time != at.UnixNano() || e.Records[0].TraceID != "01000000000000000000000000000000" {
		t.Fatalf("entry %+v", e)
	}
	if !strings.Contains(warn.String(), "gtrun-shipper not found") || strings.Count(warn.String(), "\n") != 1 {
		t.Fatalf("warning %q", warn.String())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "journal", segs[0].Name)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("segment mode %v", fi.Mode())
	}
}

// A problem whose message changes from call to call only by a path or a
// number (a journal segment's name) is one problem for the hourly limit,
// and a state directory that cannot keep markers falls back to
// $XDG_RUNTIME_DIR.
func TestNoticeKindAndFallback(t *testing.T) {
	t.Setenv("GTRUN_STATE_DIR", "/proc/version/not-a-dir") // unusable
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	now := time.Now()
	var out bytes.Buffer
	notify(&out, []string{"telemetry not recorded: journal: write /s/journal/01796294040-29083-c6375446.gtj: no space left on device"}, now)
	notify(&out, []string{"telemetry not recorded: journal: write /s/journal/01796294100-29101-0a0b0c0d.gtj: no space left on device"}, now.Add(time.Minute))
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines:\n%s", n, out.String())
	}
}
