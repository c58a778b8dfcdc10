package cli

import (
	"os/exec"

	"github.com/gastown/gtrun/internal/runenv"
)

// pointAtReceiver sends the child's own OpenTelemetry (gt's GT_OTEL_*, bd's
// BD_OTEL_*, any SDK's OTEL_EXPORTER_OTLP_*) through the delivery agent's
// loopback receiver, which journals it, ships it to the user's endpoints
// with the journal's guarantees and merges short-lived processes' counters
// (docs/architecture.md, "The receiver").
//
// Which children: a gt that reports its own catalog (p.reporter) — its
// telemetry is then as reliable as gtrun's, its exit-time flush answered
// from the journal whatever the backend does, and with bd shimmed
// (bdshim) its own bd.call records are dropped in favour of the shim's one
// per bd process. GTRUN_RECEIVER=1 points every child at it (agents'
// native telemetry included), GTRUN_RECEIVER=0 none.
func (t *telemetry) pointAtReceiver(p callPlan, childEnv []string) []string {
	switch t.env.Get("GTRUN_RECEIVER") {
	case "0":
		return childEnv
	case "1":
	default:
		if !p.reporter {
			return childEnv
		}
	}
	r := t.x.Receiver(p.name == "gt" && bdShimmed())
	childEnv = runenv.PointAtReceiver(childEnv, r)
	if r.Base != "" && p.reporter && t.ownRun {
		// gt as it runs without gtrun: no GT_RUN of gtrun's making over
		// its records' run.id; the receiver adds the run where gt gives none.
		childEnv = runenv.HideRunID(childEnv, t.runID)
	}
	return childEnv
}

// bdShimmed reports whether the bd a child finds on PATH is a gtrun shim
// (then every bd process is recorded by gtrun).
func bdShimmed() bool {
	path, err := exec.LookPath("bd")
	return err == nil && isSelf(path)
}

// receiverGetenv is the environment gt will see: with every child pointed
// at the receiver (GTRUN_RECEIVER=1) and an endpoint configured, gt's
// switch is on even when the user set only OTEL_EXPORTER_OTLP_*.
func (t *telemetry) receiverGetenv(k string) string {
	if v := t.env.Get(k); v != "" || t.env.Get("GTRUN_RECEIVER") != "1" || !t.x.Config().Enabled() {
		return v
	}
	switch k {
	case "GT_OTEL_LOGS_URL", "GT_OTEL_METRICS_URL":
		return "receiver"
	}
	return ""
}
