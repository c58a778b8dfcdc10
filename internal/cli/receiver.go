package cli

import "github.com/gastown/gtrun/internal/runenv"

// pointAtReceiver sends the child's own OpenTelemetry (gt's GT_OTEL_*, bd's
// BD_OTEL_*, any SDK's OTEL_EXPORTER_OTLP_*) through the delivery agent's
// loopback receiver, which journals it and ships it to the user's endpoints
// with the journal's guarantees and merges short-lived processes' counters
// (docs/architecture.md, "The receiver"). Which programs get it is the one
// decision here (issue 19: "whenever the user configured endpoints");
// GTRUN_RECEIVER=0 leaves every child exporting to the endpoints itself.
// bdshim (the receiver drops the program's own bd.call records) is off
// until the call knows the shim records bd (issue 19 item 3).
func (t *telemetry) pointAtReceiver(name string, childEnv []string) []string {
	if t.env.Get("GTRUN_RECEIVER") == "0" {
		return childEnv
	}
	return runenv.PointAtReceiver(childEnv, t.x.Receiver(false))
}
