package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/wrap"
)

type runOptions struct {
	pty, noPTY bool
	name       string // overrides the command name used in telemetry
	rules      string
	argv       []string
	extraEnv   []string // KEY=VALUE for the child (sessions)
	path       string   // resolved executable, when the caller already did it (shim)
	runID      string   // the run to join (default GT_RUN, else a new one)
	spanID     [8]byte  // the call's span id, when chosen by the caller
}

func newRunCmd(ios IOStreams) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [--pty|--no-pty] [--name N] -- CMD [ARGS...]",
		Short: "Wrap CMD: pass its terminal through and export bd.call/cmd.call",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if o.pty && o.noPTY {
				return usageErr("--pty and --no-pty exclude each other")
			}
			o.argv = args
			return exitResult(runWrapped(c.Context(), ios, o))
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVar(&o.pty, "pty", false, "always give the child a PTY")
	cmd.Flags().BoolVar(&o.noPTY, "no-pty", false, "never give the child a PTY")
	cmd.Flags().StringVar(&o.name, "name", "", "command name used in telemetry (default: base name of CMD)")
	cmd.Flags().StringVar(&o.rules, "rules", "", "extra output rules file (TOML)")
	return cmd
}

// exitCode turns a wrapped command's status into cobra's error channel.
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code}
}

// exitResult is exitCode for a wrapped child: gtrun ends as it ended (a
// signal death included, wrap.ExitLike).
func exitResult(res wrap.Result) error {
	if res.ExitCode == 0 {
		return nil
	}
	return &exitError{code: res.ExitCode, res: &res}
}

// runWrapped runs one child under gtrun and records its call. It returns
// how the child ended (exit status 125/126/127 when it did not start).
func runWrapped(ctx context.Context, ios IOStreams, o *runOptions) wrap.Result {
	// The signal subscription (~0.3 ms of round trips inside the Go
	// runtime) runs while the call is prepared.
	sigs := wrap.Subscribe()
	t := newTelemetry(ios, o.runID)
	defer t.x.Close()

	name := o.name
	if name == "" {
		name = filepath.Base(o.argv[0])
	}
	rules, rerr := loadRules(t.env, o.rules)
	if rerr != nil {
		fmt.Fprintf(ios.Err, "gtrun: %v (default rules used)\n", rerr)
	}
	logOutput := name == "bd" && envBool(t.env, "GT_LOG_BD_OUTPUT")
	var capMu sync.Mutex
	var out capture
	var captureFn func(stream string, line []byte)
	if logOutput || rules.WantsOutput(name, o.argv[1:]) {
		captureFn = func(stream string, line []byte) {
			capMu.Lock()
			out.add(stream, line)
			capMu.Unlock()
		}
	}

	span := planSpan(t, o.spanID)
	childEnv, _ := runenv.Child(t.env, t.runID, append(span.childEnv(), o.extraEnv...)...)
	childEnv = t.pointAtReceiver(name, childEnv) // receiver.go
	path := o.path
	var startErr error
	if path == "" {
		path, startErr = wrap.LookPath(o.argv[0])
	}
	start := time.Now()
	var res wrap.Result
	if startErr == nil {
		mode := wrap.PTYAuto
		if o.pty {
			mode = wrap.PTYOn
		} else if o.noPTY {
			mode = wrap.PTYOff
		}
		res, startErr = wrap.Run(ctx, wrap.Options{
			Path: path, Args: o.argv, Env: childEnv, PTY: mode,
			Stdin: ios.In, Stdout: ios.OutFile, Stderr: ios.ErrFile,
			Capture: captureFn, Signals: sigs,
		})
	}
	if startErr != nil {
		code := 125
		var we *wrap.Error
		if errors.As(startErr, &we) {
			code = we.Code
		}
		res = wrap.Result{ExitCode: code, Start: start, End: time.Now()}
		fmt.Fprintln(ios.Err, oneLine(startErr))
	}

	rec := callRecord(name, o.argv[1:], res, t.env, &out, logOutput)
	if startErr != nil {
		rec.Err = oneLine(startErr)
	}
	spanName := name
	if rec.Name == "bd.call" {
		spanName = "bd " + rec.GetString("subcommand")
	}
	span.finish(t, strings.TrimSpace(spanName), res.Start, res.End, rec.Attrs, rec.Err)
	t.x.Emit(rec)
	for _, r := range rules.Events(parse.Call{
		Command: name, Args: o.argv[1:], ExitCode: res.ExitCode,
		Stdout: out.stdout, Stderr: out.stderr, Combined: out.combined,
	}) {
		if r.Time.IsZero() {
			r.Time = res.End
		}
		t.x.Emit(r)
	}
	return res
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// capture keeps the output lines rules and GT_LOG_BD_OUTPUT need, bounded.
type capture struct {
	stdout, stderr, combined []byte
}

const captureMax = 1 << 20

func (c *capture) add(stream string, line []byte) {
	dst := &c.stdout
	switch stream {
	case "stderr":
		dst = &c.stderr
	case "combined":
		dst = &c.combined
	}
	if len(*dst)+len(line)+1 > captureMax {
		return
	}
	*dst = append(append(*dst, line...), '\n')
}

// callRecord builds the bd.call or cmd.call record of a finished child.
func callRecord(name string, args []string, res wrap.Result, env *runenv.Env, out *capture, logOutput bool) event.Record {
	dur := res.End.Sub(res.Start)
	rec := event.Record{Time: res.End}
	redacted := strings.Join(parse.RedactArgs(args), " ")
	if name == "bd" {
		rec.Name = "bd.call"
		sub := parse.Subcommand(args)
		if sub == "" {
			sub = "unknown" // no safe word: never a secret as a label
		}
		rec.Attrs = append(rec.Attrs, event.String("subcommand", sub))
	} else {
		rec.Name = "cmd.call"
		rec.Attrs = append(rec.Attrs, event.String("command", name))
	}
	rec.Attrs = append(rec.Attrs,
		event.String("args", redacted),
		event.Int("duration_ms", dur.Milliseconds()),
		event.Int("exit_code", int64(res.ExitCode)),
		event.Int("cpu_user_ms", res.UserCPU.Milliseconds()),
		event.Int("cpu_system_ms", res.SysCPU.Milliseconds()),
		event.Int("max_rss_kb", res.MaxRSSKB),
	)
	if res.Signal != 0 {
		rec.Attrs = append(rec.Attrs, event.String("signal", res.Signal.String()))
	}
	if logOutput {
		limit := envInt(env, "GT_LOG_BD_CONTENT_LIMIT", 2048)
		so, se := out.stdout, out.stderr
		if len(out.combined) > 0 {
			so = out.combined
		}
		rec.Attrs = append(rec.Attrs,
			event.String("stdout", parse.TruncateBytes(parse.RedactText(string(so)), limit)),
			event.String("stderr", parse.TruncateBytes(parse.RedactText(string(se)), limit)),
		)
	}
	if res.ExitCode != 0 {
		rec.Err = failureMessage(res, out)
	}
	return rec
}

// failureMessage prefers the child's own "Error: …" line over the status.
func failureMessage(res wrap.Result, out *capture) string {
	if l := parse.ErrorLine(string(out.stderr), string(out.combined), string(out.stdout)); l != "" {
		return l
	}
	if res.Signal != 0 {
		return "killed by " + res.Signal.String()
	}
	return "exit status " + strconv.Itoa(res.ExitCode)
}

// loadRules returns the default rules merged with the user's file: --rules,
// else $XDG_CONFIG_HOME/gtrun/rules.toml (or ~/.config/gtrun/rules.toml).
func loadRules(env *runenv.Env, flag string) (*parse.RuleSet, error) {
	rs := parse.DefaultRules()
	path := flag
	if path == "" {
		dir := env.Get("XDG_CONFIG_HOME")
		if dir == "" {
			if home, err := os.UserHomeDir(); err == nil {
				dir = filepath.Join(home, ".config")
			}
		}
		path = filepath.Join(dir, "gtrun", "rules.toml")
		if _, err := os.Stat(path); err != nil {
			return rs, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return rs, fmt.Errorf("rules: %v", err)
	}
	user, err := parse.LoadRules(path, data)
	if err != nil {
		return rs, err
	}
	return rs.Merge(user), nil
}
