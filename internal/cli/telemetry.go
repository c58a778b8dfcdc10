package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gastown/gtrun/internal/export"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
)

// telemetry is what every command that exports needs: the environment, the
// run id and the exporter.
type telemetry struct {
	env   *runenv.Env
	runID string
	x     *export.Exporter
}

func newTelemetry(ios IOStreams) *telemetry {
	env := runenv.New(os.Environ())
	id, _ := runenv.RunID(env)
	cfg, warns := export.FromEnv(env, id)
	cfg.Version = version()
	cfg.Warn = ios.Err
	x := export.New(cfg)
	if len(warns) > 0 {
		x.Warn(strings.Join(warns, "; "))
	}
	return &telemetry{env: env, runID: id, x: x}
}

// rememberRun records the run id as the last run seen on this machine
// (the default of `gtrun trace`): a run created here or joined through
// GT_RUN. Best effort; the file is rewritten only when the run changes.
func rememberRun(id string) {
	if id == lastRun() {
		return
	}
	if d, err := state.Dir(); err == nil {
		state.WriteFileAtomic(filepath.Join(d, "last-run"), []byte(id+"\n"))
	}
}

// lastRun returns the last run id remembered on this machine.
func lastRun() string {
	d, err := state.Dir()
	if err != nil {
		return ""
	}
	b, _ := os.ReadFile(filepath.Join(d, "last-run"))
	return strings.TrimSpace(string(b))
}

func envBool(e *runenv.Env, k string) bool {
	v, _ := strconv.ParseBool(e.Get(k))
	return v
}

func envInt(e *runenv.Env, k string, def int) int {
	if n, err := strconv.Atoi(e.Get(k)); err == nil && n > 0 {
		return n
	}
	return def
}
