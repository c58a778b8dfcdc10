// Package e2e runs the gtrun binary as users do, against the real
// VictoriaMetrics and VictoriaLogs servers (internal/backendtest).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var gtrunBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gtrun-e2e-")
	if err != nil {
		panic(err)
	}
	gtrunBin = filepath.Join(dir, "gtrun")
	build := exec.Command("go", "build", "-race", "-o", gtrunBin, "github.com/gastown/gtrun/cmd/gtrun")
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		build = exec.Command("go", "build", "-o", gtrunBin, "github.com/gastown/gtrun/cmd/gtrun")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building gtrun failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repo returns the repository root.
func repo(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// env is a clean environment for one gtrun invocation: a private state dir,
// the bd stand-in on PATH, and the given extra variables.
type env struct {
	t     testing.TB
	vars  map[string]string
	state string
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, vars: map[string]string{}, state: t.TempDir()}
	e.vars["GTRUN_STATE_DIR"] = e.state
	e.vars["HOME"] = t.TempDir()
	e.vars["PATH"] = filepath.Join(repo(t), "testdata", "bd") + ":" + os.Getenv("PATH")
	e.vars["GT_OTEL_FLUSH_TIMEOUT"] = "15s" // a loaded CI machine must not spool by accident
	return e
}

func (e *env) set(kv ...string) *env {
	for i := 0; i+1 < len(kv); i += 2 {
		e.vars[kv[i]] = kv[i+1]
	}
	return e
}

func (e *env) list() []string {
	var out []string
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs gtrun with args and optional stdin.
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(gtrunBin, args...)
	cmd.Env = e.list()
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("gtrun %v: %v", args, err)
	}
	return result{code, so.String(), se.String()}
}
