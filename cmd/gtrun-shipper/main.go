// Command gtrun-shipper is gtrun's delivery agent: it ships the per-user
// journal to the OTLP endpoints. gtrun starts it on demand and forwards
// `gtrun flush` and `gtrun shipper …` to it; it is a separate binary so that
// a wrapped call never links (or initialises) OpenTelemetry.
package main

import (
	"os"

	"github.com/gastown/gtrun/internal/cli/shipcli"
)

func main() { os.Exit(shipcli.Main()) }
