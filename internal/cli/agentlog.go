package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/tail"
	"github.com/gastown/gtrun/internal/transcripts"
)

type agentLogOptions struct {
	session, workDir, agent, since, runID, role string
	once                                        bool
	quiet                                       time.Duration
}

func newAgentLogCmd(ios IOStreams) *cobra.Command {
	o := &agentLogOptions{}
	cmd := &cobra.Command{
		Use:   "agent-log --session S [--work-dir D] [--agent claudecode|codex] [--since RFC3339] [--run-id R] [--once]",
		Short: "Tail an agent's JSONL transcripts into agent.event and agent.usage",
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
	f.BoolVar(&o.once, "once", false, "read what is there and exit")
	f.DurationVar(&o.quiet, "quiet", 2*time.Second, "a response's usage is complete after this long without new lines")
	return cmd
}

func runAgentLog(ctx context.Context, ios IOStreams, o *agentLogOptions) error {
	if o.agent != "claudecode" && o.agent != "codex" {
		return usageErr("agent-log: --agent must be claudecode or codex, not %q", o.agent)
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
	if o.role == "" {
		o.role = t.env.Get("GT_ROLE")
	}
	home, _ := os.UserHomeDir()
	discover := func() ([]transcripts.File, error) {
		if o.agent == "codex" {
			return transcripts.Codex(transcripts.CodexHome(t.env.Get, home), o.workDir, since)
		}
		return transcripts.Claude(transcripts.ClaudeRoots(t.env.Get, home), o.workDir, since)
	}
	dir, err := state.Sub("agent-log")
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	cps, err := tail.OpenCheckpoints(filepath.Join(dir, "checkpoints-"+safeName(o.session)+".json"))
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	limit := envInt(t.env, "GT_LOG_AGENT_CONTENT_LIMIT", 512)
	files := map[string]transcripts.File{}
	parsers := map[string]parse.Transcript{}
	malformed := map[string]int{}
	lastData := time.Now()

	emit := func(recs []event.Record) {
		for _, r := range recs {
			t.x.Emit(r)
		}
	}
	flushHeld := func() {
		for _, p := range parsers {
			emit(p.Flush())
		}
	}
	fol := &tail.Follower{
		Once:        o.once,
		Checkpoints: cps,
		Discover: func() ([]string, error) {
			fs, err := discover()
			var out []string
			for _, f := range fs {
				files[f.Path] = f
				out = append(out, f.Path)
			}
			return out, err
		},
		Open: func(path string, st json.RawMessage) {
			f := files[path]
			opts := parse.TranscriptOptions{Session: o.session, Role: o.role, ContentLimit: limit,
				Subagent: f.Subagent, NativeSessionID: f.SessionID}
			var p parse.Transcript
			if f.Agent == "codex" {
				p = parse.NewCodex(opts)
			} else {
				p = parse.NewClaude(opts)
			}
			if st != nil {
				if s, ok := p.(parse.Stateful); ok {
					s.Restore(st)
				}
			}
			parsers[path] = p
		},
		Handle: func(l tail.Line) error {
			lastData = time.Now()
			recs, err := parsers[l.File].Line(l.Data)
			if err != nil {
				malformed[l.File]++
				return nil
			}
			emit(recs)
			return nil
		},
		Idle: func() {
			if time.Since(lastData) >= o.quiet {
				flushHeld()
			}
		},
		AtEnd: func() {
			// At the end of a file the last response is complete only if
			// the agent stopped writing; a file still being written keeps
			// it held (in the checkpoint) for the next run.
			for path, p := range parsers {
				if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) >= o.quiet {
					emit(p.Flush())
				}
			}
		},
		// A batch's offsets are saved once its records are in the journal:
		// from there the delivery agent owns them.
		Commit: t.x.Commit,
		Snapshot: func(path string) json.RawMessage {
			if s, ok := parsers[path].(parse.Stateful); ok {
				return s.State()
			}
			return nil
		},
		Warn: func(msg string) { fmt.Fprintf(ios.Err, "gtrun: agent-log: %s\n", msg) },
	}
	// SIGTERM/SIGINT: stop following, drain, flush held usage, commit.
	runCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	err = fol.Run(runCtx)
	if err == nil && !o.once {
		flushHeld()
		if err = t.x.Commit(); err == nil {
			for path, p := range parsers {
				if s, ok := p.(parse.Stateful); ok {
					cp, _ := cps.Get(path)
					cp.State = s.State()
					cps.Set(path, cp)
				}
			}
			err = cps.Save()
		}
	}
	for f, n := range malformed {
		fmt.Fprintf(ios.Err, "gtrun: agent-log: %s: %d malformed lines skipped\n", f, n)
	}
	if err != nil {
		return exitf(1, "agent-log: %v", err)
	}
	return nil
}

// safeName makes a session name usable in a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
