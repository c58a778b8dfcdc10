// Command replaygt stands in for the real gt in the e2e tests: it finds the
// call of the recorded real run (REPLAY_CORPUS, calls.jsonl of
// internal/parse/testdata/gastown-real) with the same argv and GT_RUN, and
// answers exactly as real gt did: its stdout, its stderr, its exit code.
//
// Like the real gt since its in-process telemetry, this binary reads
// GT_OTEL_LOGS_URL, so gtrun's probe takes it for a gt that reports its own
// catalog when that variable is set; it exports nothing itself.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/gastown/gtrun/internal/gtcorpus"
)

func main() {
	_ = os.Getenv("GT_OTEL_LOGS_URL") // the capability gtrun probes for
	calls, err := gtcorpus.Lines[gtcorpus.Call](os.Getenv("REPLAY_CORPUS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "replaygt:", err)
		os.Exit(99)
	}
	for _, c := range calls {
		if c.Prog == "gt" && slices.Equal(c.Argv, os.Args[1:]) && c.Env["GT_RUN"] == os.Getenv("GT_RUN") {
			os.Stdout.Write(gtcorpus.Stream(c.Stdout))
			os.Stderr.Write(gtcorpus.Stream(c.Stderr))
			os.Exit(c.ExitCode)
		}
	}
	fmt.Fprintf(os.Stderr, "replaygt: no recorded call %q in run %q\n", os.Args[1:], os.Getenv("GT_RUN"))
	os.Exit(99)
}
