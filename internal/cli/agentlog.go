package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/agentlog"
	"github.com/gastown/gtrun/internal/price"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/tail"
	"github.com/gastown/gtrun/internal/transcripts"
)

type agentLogOptions struct {
	session, workDir, agent, since, runID, role string
	parentSpan                                  string
	once                                        bool
	quiet                                       time.Duration
}

func newAgentLogCmd(ios IOStreams) *cobra.Command {
	o := &agentLogOptions{}
	cmd := &cobra.Command{
		Use:   "agent-log --session S [--work-dir D] [--agent claudecode|codex] [--since RFC3339] [--run-id R] [--parent-span TRACEPARENT] [--once]",
		Short: "Tail an agent's JSONL transcripts into agent.event, priced agent.usage and turn spans",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.session == "" {
				return usageErr("agent-log: --session is required")
			}
			return runAgentLog(c.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.session, "session", "", "session name recorded on every event")
	f.StringVar(&o.workDir, "work-dir", "", "the agent's working directory (default: current)")
	f.StringVar(&o.agent, "agent", "claudecode", "claudecode or codex")
	f.StringVar(&o.since, "since", "", "only a session transcript modified at or after this time (RFC3339)")
	f.StringVar(&o.runID, "run-id", "", "run id (default: GT_RUN)")
	f.StringVar(&o.role, "role", "", "role recorded on every event (default: GT_ROLE)")
	f.StringVar(&o.parentSpan, "parent-span", "", "W3C traceparent of the agent's span: turn spans become its children (default: a span \"agent SESSION\" in the run's trace)")
	f.BoolVar(&o.once, "once", false, "read what is there and exit")
	f.DurationVar(&o.quiet, "quiet", 2*time.Second, "a response's usage is complete after this long without new lines")
	return cmd
}

func runAgentLog(ctx context.Context, ios IOStreams, o *agentLogOptions) error {
	if o.agent != "claudecode" && o.agent != "codex" {
		return usageErr("agent-log: --agent must be claudecode or codex, not %q", o.agent)
	}
	var parent *runenv.Traceparent
	if o.parentSpan != "" {
		tp, err := runenv.ParseTraceparent(o.parentSpan)
		if err != nil {
			return usageErr("agent-log: --parent-span: %v", err)
		}
		parent = &tp
	}
	var since time.Time
	if o.since != "" {
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return usageErr("agent-log: --since %q is not RFC3339 (e.g. 2026-11-25T10:00:00Z)", o.since)
		}
		since = t
	}
	if o.workDir == "" {
		o.workDir, _ = os.Getwd()
	}
	o.workDir, _ = filepath.Abs(o.workDir)
	lk, err := agentLogLock(o.session)
	if errors.Is(err, state.ErrLocked) {
		fmt.Fprintf(ios.Err, "gtrun: agent-log for session %s is already running\n", o.session)
		return nil
	}
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	defer lk.Unlock()
	t := newTelemetry(ios, o.runID)
	defer t.x.Close()
	p, err := agentLogPipeline(ios, t, o, parent, since)
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	// SIGTERM/SIGINT: stop following, drain, flush held usage, commit.
	runCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	if err := p.Run(runCtx); err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	return nil
}

// agentLogPipeline wires the pipeline to this machine: the transcripts
// under the user's agent homes, the journal, the price table, the state
// directory's checkpoints.
func agentLogPipeline(ios IOStreams, t *telemetry, o *agentLogOptions, parent *runenv.Traceparent, since time.Time) (*agentlog.Pipeline, error) {
	if o.role == "" {
		o.role = t.env.Get("GT_ROLE")
	}
	home, _ := os.UserHomeDir()
	prices, perr := price.Load(price.UserPath(t.env.Get, home))
	if perr != nil {
		fmt.Fprintf(ios.Err, "gtrun: agent-log: %v (default prices used)\n", perr)
	}
	find := func() ([]transcripts.File, error) {
		if o.agent == "codex" {
			return transcripts.Codex(transcripts.CodexHome(t.env.Get, home), o.workDir, since)
		}
		return transcripts.Claude(transcripts.ClaudeRoots(t.env.Get, home), o.workDir, since)
	}
	dir, err := state.Sub("agent-log")
	if err != nil {
		return nil, err
	}
	cps, err := tail.OpenCheckpoints(filepath.Join(dir, "checkpoints-"+state.FileName(o.session)+".json"))
	if err != nil {
		return nil, err
	}
	return agentlog.New(agentlog.Options{
		Session: o.session, Role: o.role, Once: o.once, Quiet: o.quiet,
		ContentLimit: envInt(t.env, "GT_LOG_AGENT_CONTENT_LIMIT", 512),
		Traces:       t.x.Config().Dest.Traces != "", Parent: parent,
		TraceParent: t.env.Get("TRACEPARENT"), RunID: t.runID,
	}, agentlog.Deps{
		Find: find, Sink: t.x, Prices: prices, Checkpoints: cps, StateDir: dir, Warn: ios.Err,
	}), nil
}
