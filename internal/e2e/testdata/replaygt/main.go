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
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

type call struct {
	Prog     string            `json:"prog"`
	Argv     []string          `json:"argv"`
	Env      map[string]string `json:"env"`
	ExitCode int               `json:"exit_code"`
	Stdout   json.RawMessage   `json:"stdout"`
	Stderr   json.RawMessage   `json:"stderr"`
}

func stream(raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	var b struct{ Base64 string }
	if json.Unmarshal(raw, &b) == nil {
		out, _ := base64.StdEncoding.DecodeString(b.Base64)
		return out
	}
	return nil
}

func main() {
	_ = os.Getenv("GT_OTEL_LOGS_URL") // the capability gtrun probes for
	f, err := os.Open(os.Getenv("REPLAY_CORPUS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "replaygt:", err)
		os.Exit(99)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var c call
		if json.Unmarshal(sc.Bytes(), &c) != nil || c.Prog != "gt" {
			continue
		}
		if slices.Equal(c.Argv, os.Args[1:]) && c.Env["GT_RUN"] == os.Getenv("GT_RUN") {
			os.Stdout.Write(stream(c.Stdout))
			os.Stderr.Write(stream(c.Stderr))
			os.Exit(c.ExitCode)
		}
	}
	fmt.Fprintf(os.Stderr, "replaygt: no recorded call %q in run %q\n", os.Args[1:], os.Getenv("GT_RUN"))
	os.Exit(99)
}
