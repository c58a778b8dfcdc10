package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/sink"
	"github.com/gastown/gtrun/internal/state"
)

// telemetry is what every command that records needs: the environment,
// the run id and the sink (journal writer).
type telemetry struct {
	env    *runenv.Env
	runID  string
	ownRun bool // runID is gtrun's, not the caller's (no GT_RUN, no --run-id)
	x      *sink.Sink
}

// newTelemetry reads the environment; runID, when set, is the run to join
// (else GT_RUN, else a new one).
func newTelemetry(ios IOStreams, runID string) *telemetry {
	env := runenv.New(os.Environ())
	// gtrun's own run: none given (--run-id, GT_RUN), so new or carried
	// from a gtrun above a reporting gt (GTRUN_USER_GT_RUN).
	ownRun := runID == "" && strings.TrimSpace(env.Get("GT_RUN")) == ""
	if runID == "" {
		runID, _ = runenv.RunID(env)
	}
	cfg, problems := sink.FromEnv(env, runID)
	cfg.Version = version()
	return &telemetry{env: env, runID: runID, ownRun: ownRun, x: sink.New(cfg, problems, ios.Err)}
}

// LastRun is lastRun for gtrun-shipper's trace.
func LastRun() string { return lastRun() }

// lastRun returns the last run recorded on this machine (the default of
// `gtrun trace`): the newest journal entry's, else what the delivery agent
// last noted.
func lastRun() string {
	if d, err := state.Sub("journal"); err == nil {
		if id := journal.Open(d).LastRunID(); id != "" {
			return id
		}
	}
	d, err := state.Dir()
	if err != nil {
		return ""
	}
	b, _ := os.ReadFile(filepath.Join(d, "last-run"))
	return strings.TrimSpace(string(b))
}

// ForwardName and ForwardShipperName are the argv[0] gtrun gives
// gtrun-shipper for a forwarded command, the words the user typed: its help
// and messages then say "gtrun trace", "gtrun shipper status".
const (
	ForwardName        = "gtrun"
	ForwardShipperName = "gtrun shipper"
)

// execShipper replaces this process with gtrun-shipper ARGS (flush,
// shipper status, …), named argv0: only the agent's binary links
// OpenTelemetry.
func execShipper(argv0 string, args ...string) error {
	path, err := sink.ShipperPath()
	if err != nil {
		return exitf(1, "%v", err)
	}
	err = syscall.Exec(path, append([]string{argv0}, args...), os.Environ())
	return exitf(1, "cannot run %s: %v", path, err)
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
