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
	"syscall"
	"testing"
)

// gtrunBin is the gtrun under test; gtrun-shipper sits beside it.
var gtrunBin string

// TestMain uses the binaries in $GTRUN_BIN (a directory holding gtrun and
// gtrun-shipper: `make test` points it at a plain `go install ./cmd/...`),
// else builds both with -race.
func TestMain(m *testing.M) {
	dir := os.Getenv("GTRUN_BIN")
	tmp := ""
	if dir == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "gtrun-e2e-"); err != nil {
			panic(err)
		}
		dir = tmp
		args := []string{"build", "-o", dir + "/"}
		if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, "github.com/gastown/gtrun/cmd/gtrun", "github.com/gastown/gtrun/cmd/gtrun-shipper")...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building gtrun failed:", err)
			os.Exit(1)
		}
	}
	gtrunBin = filepath.Join(dir, "gtrun")
	for _, b := range []string{gtrunBin, filepath.Join(dir, "gtrun-shipper")} {
		if _, err := os.Stat(b); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s missing (GTRUN_BIN=%q must hold gtrun and gtrun-shipper)\n", b, os.Getenv("GTRUN_BIN"))
			os.Exit(1)
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
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
	// A -race build sleeps a second at exit by default.
	e.vars["GORACE"] = "atexit_sleep_ms=0 halt_on_error=1"
	// The delivery agent a test's calls start is stopped when the test
	// ends (its state directory goes away with the test).
	t.Cleanup(func() { e.stopShipper() })
	return e
}

// stopShipper stops the delivery agent of e's state directory, if any.
func (e *env) stopShipper() {
	cmd := exec.Command(gtrunBin, "shipper", "stop")
	cmd.Env = e.list()
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Errorf("gtrun shipper stop: %v: %s", err, out)
	}
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
	code           int // as a shell reports it: 128+N for a death by signal N
	signal         syscall.Signal
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
	code, sig := 0, syscall.Signal(0)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
			code = 128 + int(sig)
		}
	} else if err != nil {
		e.t.Fatalf("gtrun %v: %v", args, err)
	}
	return result{code, sig, so.String(), se.String()}
}
