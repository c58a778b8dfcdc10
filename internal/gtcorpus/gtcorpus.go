// Package gtcorpus reads the recorded run of a real Gas Town
// (internal/parse/testdata/gastown-real, from shared/gastown-real): every
// gt and bd process with argv, environment, exit code and output, and
// every record real gt emitted. Tests and the replayed gt
// (internal/e2e/testdata/replaygt) read it through here.
package gtcorpus

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
)

// Call is one gt or bd process of the run.
type Call struct {
	Prog      string            `json:"prog"`
	Argv      []string          `json:"argv"`
	Env       map[string]string `json:"env"`
	Step      string            `json:"step"`
	ExitCode  int               `json:"exit_code"`
	Stdout    json.RawMessage   `json:"stdout"`
	Stderr    json.RawMessage   `json:"stderr"`
	Seq       int               `json:"seq"`
	ParentSeq *int              `json:"parent_seq"`
}

// Stream decodes a recorded stream: text, {"base64": …}, or null (a
// terminal, not captured).
func Stream(raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	var b struct {
		Base64 string `json:"base64"`
	}
	if json.Unmarshal(raw, &b) == nil && b.Base64 != "" {
		out, _ := base64.StdEncoding.DecodeString(b.Base64)
		return out
	}
	return nil
}

// Lines decodes a JSON-lines file (calls.jsonl as []Call, gt-events.jsonl
// as []map[string]string).
func Lines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, sc.Err()
}
