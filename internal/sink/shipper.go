package sink

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/gastown/gtrun/internal/state"
)

// ShipperName is the delivery agent's binary, installed beside gtrun.
const ShipperName = "gtrun-shipper"

// ShipperPath finds gtrun-shipper: next to the running gtrun (make build,
// go install ./cmd/... put them together), else on PATH.
func ShipperPath() (string, error) {
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), ShipperName)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(ShipperName)
	if err != nil {
		return "", errors.New(ShipperName + " not found beside gtrun or on PATH: telemetry waits in the journal " +
			"until it is installed (go install github.com/gastown/gtrun/cmd/...@latest)")
	}
	return p, nil
}

// LockPath is the flock the running agent holds.
func LockPath() (string, error) {
	d, err := state.Sub("shipper")
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "lock"), nil
}

// ShipperRunning reports whether an agent holds its lock.
func ShipperRunning() bool {
	p, err := LockPath()
	if err != nil {
		return false
	}
	held, _ := state.Held(p)
	return held
}

// ensureShipper starts the agent, detached, when none runs. The caller
// never waits for it: a cold start costs one fork/exec. It runs after the
// append, and the agent re-checks the journal after releasing its lock,
// so an entry is never left behind by an agent that was just exiting.
func (s *Sink) ensureShipper() {
	if s.ensured || ShipperRunning() {
		return
	}
	s.spawnShipper(nil)
}

// spawnShipper starts the agent, detached; ln, when not nil, is the
// receiver's bound socket, handed over as descriptor 3.
func (s *Sink) spawnShipper(ln *os.File) bool {
	path, err := ShipperPath()
	if err != nil {
		s.problems = append(s.problems, err.Error())
		return false
	}
	cmd := exec.Command(path, "run", "--spawned")
	if ln != nil {
		cmd.Args = append(cmd.Args, "--listener")
		cmd.ExtraFiles = []*os.File{ln}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives the caller's terminal and signals
	if err := cmd.Start(); err != nil {
		s.problems = append(s.problems, "cannot start "+ShipperName+": "+err.Error())
		return false
	}
	// Reap it if this process lives longer than the agent (agent-log, session-run).
	go cmd.Wait()
	return true
}
