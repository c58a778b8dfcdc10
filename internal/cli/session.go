package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/session"
	"github.com/gastown/gtrun/internal/tmux"
	"github.com/gastown/gtrun/internal/wrap"
)

// sessions is the session lifecycle on the chosen tmux server.
func sessions(socket string) (*session.Manager, error) {
	st, err := session.DefaultStore()
	return &session.Manager{Tmux: tmuxServer(socket), Store: st}, err
}

func tmuxServer(socket string) *tmux.Server {
	if socket == "" {
		socket = os.Getenv("GTRUN_TMUX_SOCKET")
	}
	return &tmux.Server{Socket: socket}
}

// passEnv are the variables carried into the session (a tmux server that
// was started earlier would otherwise give the pane its own environment).
func passEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GT_"), strings.HasPrefix(k, "OTEL_"), strings.HasPrefix(k, "BD_"), strings.HasPrefix(k, "GTRUN_"),
			strings.HasPrefix(k, "CLAUDE_"), strings.HasPrefix(k, "CODEX_"), strings.HasPrefix(k, "XDG_"),
			k == "PATH", k == "HOME", k == "LANG", k == "TMUX_TMPDIR":
			out = append(out, kv)
		}
	}
	return out
}

func newSessionCmd(ios IOStreams) *cobra.Command {
	var socket string
	cmd := &cobra.Command{Use: "session", Short: "tmux sessions: start, stop, send"}
	cmd.PersistentFlags().StringVar(&socket, "socket", "", "tmux socket name (tmux -L; default $GTRUN_TMUX_SOCKET, else the default server)")

	cmd.AddCommand(newSessionStartCmd(ios, &socket), newSessionStopCmd(ios, &socket), newSessionSendCmd(ios, &socket))
	return cmd
}

func newSessionStartCmd(ios IOStreams, socket *string) *cobra.Command {
	var role, cwd string
	var envs []string
	var noNative bool
	start := &cobra.Command{
		Use:   "start NAME [--role R] [--cwd DIR] [--env K=V]... -- CMD...",
		Short: "Create a detached tmux session running CMD under gtrun; session.start now, session.stop exactly once at its end",
		Long: `Create a detached tmux session running CMD under gtrun: session.start now,
session.stop exactly once at its end. Prints the session's run id (its GT_RUN,
the run its records join) on stdout, so scripts can capture it:

  run=$(gtrun session start gt-gastown-Toast --role polecat -- claude)`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			name, argv := args[0], args[1:]
			if err := tmux.ValidateName(name); err != nil {
				return usageErr("session start: %v", err)
			}
			for _, kv := range envs {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					return usageErr("session start: --env %q is not K=V", kv)
				}
			}
			t := newTelemetry(ios, "")
			defer t.x.Close()
			if role == "" {
				role = t.env.Get("GT_ROLE")
			}
			self, err := os.Executable()
			if err != nil {
				return exitf(1, "session start: %v", err)
			}
			si := session.Info{Name: name, RunID: t.runID, Role: role, Start: time.Now()}
			span := planSpan(t, [8]byte{})
			if span.on {
				si.TraceParent = runenv.Traceparent{TraceID: span.traceID, SpanID: span.spanID, Flags: 1}.String()
				si.ParentSpan = t.env.Get("TRACEPARENT")
			}
			env := append(passEnv(), "GT_SESSION="+name, "GT_RUN="+t.runID)
			env = append(env, span.childEnv()...)
			if role != "" {
				env = append(env, "GT_ROLE="+role)
			}
			env = append(env, envs...)
			if at := knownAgent(argv[0]); at != "" && !noNative {
				n := nativeTelemetry(t, at, argv)
				argv = append(append([]string{argv[0]}, n.Args...), argv[1:]...)
				env = append(env, n.Env...)
			}
			m, _ := sessions(*socket)
			rec, err := m.Start(c.Context(), si, cwd, env, append([]string{self, "session-run", name, "--"}, argv...))
			t.x.Emit(rec)
			if err != nil {
				return exitf(1, "session start %s: %v", name, err)
			}
			fmt.Fprintf(ios.Out, "%s\n", t.runID)
			return nil
		},
	}
	start.Flags().StringVar(&role, "role", "", "role (default $GT_ROLE)")
	start.Flags().StringVar(&cwd, "cwd", "", "working directory of the session")
	start.Flags().StringArrayVar(&envs, "env", nil, "K=V set inside the session (repeatable)")
	start.Flags().BoolVar(&noNative, "no-native-telemetry", false, "do not opt a known agent's own OpenTelemetry in")

	return start
}

func newSessionStopCmd(ios IOStreams, socket *string) *cobra.Command {
	var wait time.Duration
	stop := &cobra.Command{
		Use:   "stop NAME",
		Short: "End the session (session.stop is still emitted exactly once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := tmux.ValidateName(name); err != nil {
				return usageErr("session stop: %v", err)
			}
			m, _ := sessions(*socket)
			rec, si, err := m.Stop(c.Context(), name, wait)
			if rec != nil {
				t := newTelemetry(ios, si.RunID)
				t.x.Emit(*rec)
				t.x.Close()
			}
			if err != nil {
				return exitf(1, "session stop: %v", err)
			}
			return nil
		},
	}
	stop.Flags().DurationVar(&wait, "wait", 5*time.Second, "how long to wait for the session's own report")

	return stop
}

func newSessionSendCmd(ios IOStreams, socket *string) *cobra.Command {
	var debounce int
	send := &cobra.Command{
		Use:   "send NAME [--debounce-ms N] TEXT",
		Short: "Type TEXT into the session (literal keys, then Enter after the debounce); emits prompt.send",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			name, text := args[0], args[1]
			if err := tmux.ValidateName(name); err != nil {
				return usageErr("session send: %v", err)
			}
			t := newTelemetry(ios, "")
			defer t.x.Close()
			m, _ := sessions(*socket)
			rec, err := m.Send(c.Context(), name, text, time.Duration(debounce)*time.Millisecond, envBool(t.env, "GT_LOG_PROMPT_KEYS"))
			t.x.Emit(rec)
			if err != nil {
				return exitf(1, "session send %s: %v", name, err)
			}
			return nil
		},
	}
	send.Flags().IntVar(&debounce, "debounce-ms", 100, "pause between the text and Enter")
	return send
}

// newSessionRunCmd is the process inside the pane: it runs CMD and reports
// session.stop when CMD ends for any reason, tmux killing the pane or the
// server included (SIGHUP reaches it and is passed on to CMD).
func newSessionRunCmd(ios IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "session-run NAME -- CMD...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			name, argv := args[0], args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return usageErr("session-run: no command")
			}
			m, _ := sessions("")
			si, err := m.Store.Load(name)
			if err != nil {
				si = session.Info{Name: name, RunID: os.Getenv("GT_RUN"), Start: time.Now()}
			}
			code, sig, perr := runInPane(ios, argv)
			if rec := m.Ended(si, code, sig, perr); rec != nil {
				t := newTelemetry(ios, si.RunID)
				sessionSpan(t, si, rec)
				t.x.Emit(*rec)
				t.x.Close()
			}
			return exitCode(code)
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// runInPane runs the session's command with the pane's terminal.
func runInPane(ios IOStreams, argv []string) (int, syscall.Signal, error) {
	path, err := wrap.LookPath(argv[0])
	if err == nil {
		var res wrap.Result
		res, err = wrap.Run(context.Background(), wrap.Options{Path: path, Args: argv, Env: os.Environ(),
			PTY: wrap.PTYOff, Stdin: ios.In, Stdout: ios.OutFile, Stderr: ios.ErrFile})
		if err == nil {
			return res.ExitCode, res.Signal, nil
		}
	}
	var we *wrap.Error
	if errors.As(err, &we) {
		fmt.Fprintln(ios.Err, we.Msg)
		return we.Code, 0, err
	}
	return 125, 0, err
}

// sessionSpan records the session's span (ids fixed at start) when traces
// are on, and points the stop record at it.
func sessionSpan(t *telemetry, si session.Info, rec *event.Record) {
	tp, err := runenv.ParseTraceparent(si.TraceParent)
	if err != nil || t.x.Config().Dest.Traces == "" {
		return
	}
	sp := spanPlan{on: true, traceID: tp.TraceID, spanID: tp.SpanID}
	if ptp, err := runenv.ParseTraceparent(si.ParentSpan); err == nil {
		sp.parent, sp.remote = ptp.SpanID, true
	}
	t.x.SetSpan(sp.traceID, sp.spanID)
	sp.finish(t, "session "+si.Name, si.Start, time.Now(), append([]event.Attr{event.String("role", si.Role)}, rec.Attrs...), rec.Err)
}
