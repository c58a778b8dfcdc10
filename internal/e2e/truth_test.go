package e2e

import (
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// A child killed by a signal is recorded with the signal's name as kill -l
// and the shell's messages name it (issue 22: "killed by terminated").
func TestSignalDeathNamed(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "sig-name")
	if r := e.run("", "sh", "-c", "kill -TERM $$"); r.code != 143 {
		t.Fatalf("%+v", r)
	}
	e.run("", "flush")
	rec := vl.WaitCount(t, `"run.id":="sig-name"`, 1, 20*time.Second)[0]
	if rec["error"] != "killed by SIGTERM" || rec["signal"] != "SIGTERM" {
		t.Fatalf("error %q signal %q", rec["error"], rec["signal"])
	}
}
