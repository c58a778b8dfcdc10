package cli

import "github.com/gastown/gtrun/internal/runenv"

// pointAtReceiver sends the child's own OpenTelemetry (gt's GT_OTEL_*, bd's
// BD_OTEL_*, any SDK's OTEL_EXPORTER_OTLP_*) through the delivery agent's
// loopback receiver, which journals it, ships it to the user's endpoints
// with the journal's guarantees and merges short-lived processes' counters
// (docs/architecture.md, "The receiver"). Which programs get it is the
// lead's decision (issue 19 item 3: which program reports what); until it
// is made, GTRUN_RECEIVER=1 points every wrapped child at the receiver and
// the default leaves children exporting to the endpoints themselves, as
// before. bdshim (the receiver drops the program's own bd.call records) is
// for the same decision.
func (t *telemetry) pointAtReceiver(name string, childEnv []string) []string {
	if t.env.Get("GTRUN_RECEIVER") != "1" {
		return childEnv
	}
	return runenv.PointAtReceiver(childEnv, t.x.Receiver(false))
}
