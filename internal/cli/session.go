package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/state"
	"github.com/gastown/gtrun/internal/tmux"
	"github.com/gastown/gtrun/internal/wrap"
)

// sessionInfo is what `session start` leaves for `session stop` and the
// in-pane wrapper (state/sessions/NAME.json).
type sessionInfo struct {
	Name  string    `json:"name"`
	RunID string    `json:"run_id"`
	Role  string    `json:"role"`
	Start time.Time `json:"start"`
	// The session's span (when traces are on): ids fixed at start so the
	// calls made inside the session are its children.
	TraceParent string `json:"traceparent,omitempty"` // the session span itself
	ParentSpan  string `json:"parent,omitempty"`      // TRACEPARENT session start was given
}

func sessionDir() (string, error) { return state.Sub("sessions") }

func loadSession(name string) (sessionInfo, error) {
	var si sessionInfo
	d, err := sessionDir()
	if err != nil {
		return si, err
	}
	b, err := os.ReadFile(filepath.Join(d, state.FileName(name)+".json"))
	if err != nil {
		return si, err
	}
	return si, json.Unmarshal(b, &si)
}

// stopMarker is the file whose creation claims a (session, run)'s stop.
func stopMarker(si sessionInfo) (string, error) {
	d, err := sessionDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, state.FileName(si.Name)+"."+state.FileName(si.RunID)+".stopped"), nil
}

// claimStop makes session.stop exactly once per (session, run): the first
// process to create the marker emits it, whoever notices the end first.
func claimStop(si sessionInfo) bool {
	p, err := stopMarker(si)
	if err != nil {
		return false
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func stopMarkerExists(si sessionInfo) bool {
	p, err := stopMarker(si)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
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
			si := sessionInfo{Name: name, RunID: t.runID, Role: role, Start: time.Now()}
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
			rec := event.Record{Name: "session.start", Time: si.Start, Attrs: []event.Attr{
				event.String("session_id", name), event.String("role", role)}}
			if d, err := sessionDir(); err == nil {
				b, _ := json.Marshal(si)
				state.WriteFileAtomic(filepath.Join(d, state.FileName(name)+".json"), b)
			}
			err = tmuxServer(socket).NewSession(c.Context(), tmux.NewSession{
				Name: name, Dir: cwd, Env: env,
				Argv: append([]string{self, "session-run", name, "--"}, argv...),
			})
			if err != nil {
				rec.Err = err.Error()
				t.x.Emit(rec)
				return exitf(1, "session start %s: %v", name, err)
			}
			t.x.Emit(rec)
			fmt.Fprintf(ios.Out, "%s\n", t.runID)
			return nil
		},
	}
	start.Flags().StringVar(&role, "role", "", "role (default $GT_ROLE)")
	start.Flags().StringVar(&cwd, "cwd", "", "working directory of the session")
	start.Flags().StringArrayVar(&envs, "env", nil, "K=V set inside the session (repeatable)")
	start.Flags().BoolVar(&noNative, "no-native-telemetry", false, "do not opt a known agent's own OpenTelemetry in")

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
			srv := tmuxServer(socket)
			kerr := srv.KillSession(c.Context(), name)
			if tmux.IsNotFound(kerr) {
				// Not tmux's "no server running on /tmp/…": the user asked
				// for a session.
				kerr = fmt.Errorf("no session %s", name)
			}
			si, lerr := loadSession(name)
			if lerr != nil {
				if kerr != nil {
					return exitf(1, "session stop: %v", kerr)
				}
				return nil
			}
			// The wrapper inside the pane reports the end; if it cannot (it
			// was killed outright), report it here, still exactly once.
			deadline := time.Now().Add(wait)
			for !stopMarkerExists(si) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if claimStop(si) {
				t := newTelemetry(ios, si.RunID)
				t.x.Emit(event.Record{Name: "session.stop", Attrs: []event.Attr{
					event.String("session_id", name), event.Int("duration_ms", time.Since(si.Start).Milliseconds()), event.Int("exit_code", -1)}})
				t.x.Close()
			}
			if kerr != nil {
				return exitf(1, "session stop: %v", kerr)
			}
			return nil
		},
	}
	stop.Flags().DurationVar(&wait, "wait", 5*time.Second, "how long to wait for the session's own report")

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
			srv := tmuxServer(socket)
			err := srv.SendLiteral(c.Context(), name, text)
			if err == nil {
				time.Sleep(time.Duration(debounce) * time.Millisecond)
				err = srv.SendEnter(c.Context(), name)
			}
			rec := event.Record{Name: "prompt.send", Attrs: []event.Attr{
				event.String("session", name), event.Int("keys_len", int64(len(text))), event.Int("debounce_ms", int64(debounce))}}
			if envBool(t.env, "GT_LOG_PROMPT_KEYS") {
				rec.Attrs = append(rec.Attrs, event.String("keys", parse.RedactText(text)))
			}
			if err != nil {
				rec.Err = err.Error()
			}
			t.x.Emit(rec)
			if err != nil {
				return exitf(1, "session send %s: %v", name, err)
			}
			return nil
		},
	}
	send.Flags().IntVar(&debounce, "debounce-ms", 100, "pause between the text and Enter")
	cmd.AddCommand(start, stop, send)
	return cmd
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
			si, err := loadSession(name)
			if err != nil {
				si = sessionInfo{Name: name, RunID: os.Getenv("GT_RUN"), Start: time.Now()}
			}
			code := 0
			var sig syscall.Signal
			path, perr := wrap.LookPath(argv[0])
			if perr == nil {
				var res wrap.Result
				res, perr = wrap.Run(context.Background(), wrap.Options{Path: path, Args: argv, Env: os.Environ(),
					PTY: wrap.PTYOff, Stdin: ios.In, Stdout: ios.OutFile, Stderr: ios.ErrFile})
				code, sig = res.ExitCode, res.Signal
			}
			var we *wrap.Error
			if errors.As(perr, &we) {
				code = we.Code
				fmt.Fprintln(ios.Err, we.Msg)
			}
			if claimStop(si) {
				t := newTelemetry(ios, si.RunID)
				rec := event.Record{Name: "session.stop", Attrs: []event.Attr{
					event.String("session_id", name), event.Int("duration_ms", time.Since(si.Start).Milliseconds()), event.Int("exit_code", int64(code))}}
				// Ended by tmux (kill-session, kill-server: SIGHUP) or by a
				// stop is a normal end; a failing command is an error.
				if code != 0 && sig != syscall.SIGHUP && sig != syscall.SIGTERM {
					rec.Err = fmt.Sprintf("exit status %d", code)
					if perr != nil {
						rec.Err = perr.Error()
					}
				}
				if tp, err := runenv.ParseTraceparent(si.TraceParent); err == nil && t.x.Config().Dest.Traces != "" {
					sp := spanPlan{on: true, traceID: tp.TraceID, spanID: tp.SpanID}
					if ptp, err := runenv.ParseTraceparent(si.ParentSpan); err == nil {
						sp.parent, sp.remote = ptp.SpanID, true
					}
					t.x.SetSpan(sp.traceID, sp.spanID)
					sp.finish(t, "session "+name, si.Start, time.Now(), append([]event.Attr{event.String("role", si.Role)}, rec.Attrs...), rec.Err)
				}
				t.x.Emit(rec)
				t.x.Close()
			}
			return exitCode(code)
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}
