package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/transcripts"
	"github.com/gastown/gtrun/internal/wrap"
)

type agentOptions struct {
	agentType, role, rig, session string
	noNative                      bool
}

func newAgentCmd(ios IOStreams) *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent [--agent-type claudecode|codex] [--role R] [--rig R] [--session S] -- AGENT [ARGS...]",
		Short: "Launch a coding agent: agent.instantiate, and agent-log beside it when GT_LOG_AGENT_OUTPUT=true",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return exitResult(runAgent(c.Context(), ios, o, args))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.agentType, "agent-type", "", "claudecode or codex (default: $GT_AGENT, else guessed from AGENT)")
	f.StringVar(&o.role, "role", "", "role (default $GT_ROLE)")
	f.StringVar(&o.rig, "rig", "", "rig (default $GT_RIG)")
	f.StringVar(&o.session, "session", "", "session (default $GT_SESSION)")
	f.BoolVar(&o.noNative, "no-native-telemetry", false, "do not opt the agent's own OpenTelemetry in")
	f.SetInterspersed(false)
	return cmd
}

func guessAgentType(argv0 string) string {
	b := strings.ToLower(filepath.Base(argv0))
	switch {
	case strings.Contains(b, "codex"):
		return "codex"
	case strings.Contains(b, "claude"):
		return "claudecode"
	}
	return b
}

// knownAgent returns the agent type of a command gtrun knows ("" else).
func knownAgent(argv0 string) string {
	switch t := guessAgentType(argv0); t {
	case "claudecode", "codex":
		return t
	}
	return ""
}

// nativeTelemetry is the agent's own OpenTelemetry, opted in and pointed at
// gtrun's backends (never over the user's own settings).
func nativeTelemetry(t *telemetry, agentType string, argv []string) runenv.Native {
	config := ""
	if agentType == "codex" {
		home, _ := os.UserHomeDir()
		b, _ := os.ReadFile(filepath.Join(transcripts.CodexHome(t.env.Get, home), "config.toml"))
		config = string(b)
	}
	d := t.x.Config().Dest
	return runenv.NativeTelemetry(t.env, agentType, argv, d.Logs, d.Metrics, config)
}

// gitInfo returns the branch and commit of dir; empty outside git.
func gitInfo(dir string) (branch, commit string) {
	out := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		b, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return out("rev-parse", "--abbrev-ref", "HEAD"), out("rev-parse", "HEAD")
}

func runAgent(ctx context.Context, ios IOStreams, o *agentOptions, argv []string) wrap.Result {
	t := newTelemetry(ios, "")
	or := func(v, envKey string) string {
		if v != "" {
			return v
		}
		return t.env.Get(envKey)
	}
	o.agentType = or(o.agentType, "GT_AGENT")
	if o.agentType == "" {
		o.agentType = guessAgentType(argv[0])
	}
	o.role, o.rig, o.session = or(o.role, "GT_ROLE"), or(o.rig, "GT_RIG"), or(o.session, "GT_SESSION")
	if o.session == "" {
		o.session = "agent-" + t.runID[:min(8, len(t.runID))]
	}
	cwd, _ := os.Getwd()
	root := t.env.Get("GT_ROOT")
	host, _ := os.Hostname()
	instance := host
	if root != "" {
		instance = host + ":" + filepath.Base(root)
	}
	name := t.env.Get("GT_POLECAT")
	if name == "" {
		name = t.env.Get("GT_CREW")
	}
	branch, commit := gitInfo(cwd)
	start := time.Now()
	t.x.Emit(event.Record{Name: "agent.instantiate", Time: start, Attrs: []event.Attr{
		event.String("instance", instance), event.String("town_root", root), event.String("agent_type", o.agentType),
		event.String("role", o.role), event.String("agent_name", name), event.String("session_id", o.session),
		event.String("rig", o.rig), event.String("issue_id", t.env.Get("GT_WORK_BEAD")),
		event.String("git_branch", branch), event.String("git_commit", commit),
	}})
	t.x.Close() // journal the root event now; the agent may run for hours

	// The agent's call span, chosen now so agent-log can parent its turns.
	agentSpan := planSpan(t, [8]byte{})
	var logger *exec.Cmd
	if envBool(t.env, "GT_LOG_AGENT_OUTPUT") && t.x.Config().Dest.Logs != "" {
		logger = startAgentLog(ios, o, cwd, start, t.runID, agentSpan.traceparent())
	}
	env := []string{"GT_SESSION=" + o.session}
	if !o.noNative {
		n := nativeTelemetry(t, o.agentType, argv)
		argv = append(append([]string{argv[0]}, n.Args...), argv[1:]...)
		env = append(env, n.Env...)
	}
	res := runWrapped(ctx, ios, &runOptions{argv: argv, runID: t.runID, spanID: agentSpan.spanID, extraEnv: env})
	if logger != nil {
		// Final drain: agent-log reads what is left, flushes held usage and
		// commits on SIGTERM.
		logger.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { logger.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			logger.Process.Kill()
			<-done
		}
	}
	return res
}

// startAgentLog starts `gtrun agent-log` detached (its own session, so it
// survives the wrapper's terminal); agent-log's lock keeps one per session.
// parent is the agent's span (traceparent), so agent-log's turn spans are
// its children; "" when traces are off.
func startAgentLog(ios IOStreams, o *agentOptions, cwd string, start time.Time, runID, parent string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	agent := "claudecode"
	if o.agentType == "codex" {
		agent = "codex"
	}
	cmd := exec.Command(self, "agent-log", "--session", o.session, "--work-dir", cwd, "--agent", agent,
		"--since", start.Add(-2*time.Second).UTC().Format(time.RFC3339), "--role", o.role, "--run-id", runID)
	if parent != "" {
		cmd.Args = append(cmd.Args, "--parent-span", parent)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdout, cmd.Stderr = nil, ios.ErrFile
	if err := cmd.Start(); err != nil {
		return nil
	}
	return cmd
}

// agentLogLock keeps a single agent-log per session.
func agentLogLock(session string) (*state.Lock, error) {
	d, err := state.Sub("agent-log")
	if err != nil {
		return nil, err
	}
	return state.TryLock(filepath.Join(d, state.FileName(session)+".lock"))
}
