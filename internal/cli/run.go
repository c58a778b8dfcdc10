package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/callrec"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/selfreport"
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

	p := planCall(t, ios, o)
	var capMu sync.Mutex
	var out callrec.Output
	var captureFn func(stream string, line []byte)
	if p.capture {
		captureFn = func(stream string, line []byte) {
			capMu.Lock()
			out.Add(stream, line)
			capMu.Unlock()
		}
	}

	span := planSpan(t, o.spanID)
	extra := append(span.childEnv(), o.extraEnv...)
	if p.reporter {
		extra = append(extra, selfreport.Marker+"="+p.name)
	}
	childEnv, _ := runenv.Child(t.env, t.runID, extra...)
	childEnv = t.pointAtReceiver(p, childEnv) // receiver.go
	start := time.Now()
	var res wrap.Result
	startErr := p.startErr
	if startErr == nil {
		res, startErr = wrap.Run(ctx, wrap.Options{
			Path: p.path, Args: o.argv, Env: childEnv, PTY: o.ptyMode(),
			Stdin: ios.In, Stdout: ios.OutFile, Stderr: ios.ErrFile,
			Capture: captureFn, Signals: sigs, UserEnvOnE2BIG: true,
		})
	}
	if startErr != nil {
		res = startFailed(ios, startErr, start)
	}
	recordCall(t, span, p, o.argv[0], o.argv[1:], res, startErr, &out)
	return res
}

func (o *runOptions) ptyMode() wrap.PTYMode {
	switch {
	case o.pty:
		return wrap.PTYOn
	case o.noPTY:
		return wrap.PTYOff
	}
	return wrap.PTYAuto
}

// startFailed is the result of a child that did not start, with the
// shell's status for it; the message goes to the user's stderr.
func startFailed(ios IOStreams, err error, start time.Time) wrap.Result {
	code := 125
	var we *wrap.Error
	if errors.As(err, &we) {
		code = we.Code
	}
	fmt.Fprintln(ios.Err, oneLine(err))
	return wrap.Result{ExitCode: code, Start: start, End: time.Now()}
}

// callPlan is what a call decides before its child starts.
type callPlan struct {
	name, path string
	startErr   error
	rules      *parse.RuleSet // nil: no catalog event from this call
	// reporter: the child reports its own catalog (gt with its telemetry
	// on): gtrun records the process only, and marks the child's
	// environment so shims below it add no catalog events either.
	reporter  bool
	logOutput bool
	capture   bool
}

func planCall(t *telemetry, ios IOStreams, o *runOptions) callPlan {
	p := callPlan{name: o.name, path: o.path}
	if p.name == "" {
		p.name = filepath.Base(o.argv[0])
	}
	if p.path == "" {
		p.path, p.startErr = resolveChild(o.argv[0])
	}
	p.name = parse.CommandLabel(p.name, p.startErr == nil) // no typo or pasted token as a label
	rules, rerr := loadRules(t.env, o.rules)
	if rerr != nil {
		fmt.Fprintf(ios.Err, "gtrun: %v (default rules used)\n", rerr)
	}
	p.rules = rules
	switch {
	case p.name == "gt":
		if p.startErr == nil && selfreport.Gt(p.path, t.receiverGetenv) {
			p.rules, p.reporter = nil, true
		}
	case t.env.Get(selfreport.Marker) != "":
		p.rules = nil // a program that reports its catalog runs this one
	}
	p.logOutput = p.name == "bd" && envBool(t.env, "GT_LOG_BD_OUTPUT")
	p.capture = p.logOutput || p.rules != nil && p.rules.WantsOutput(p.name, o.argv[1:])
	return p
}

// resolveChild finds the program to run. A gtrun shim found for it (`gtrun
// bd …` with the shim directory first on PATH) is skipped for the real
// program after it: one call, one record, one wrapper.
func resolveChild(arg0 string) (string, error) {
	path, err := wrap.LookPath(arg0)
	if err != nil || !isSelf(path) {
		return path, err
	}
	return findReal(filepath.Base(arg0))
}

// recordCall journals the call record, its span and the catalog events.
func recordCall(t *telemetry, span spanPlan, p callPlan, arg0 string, args []string, res wrap.Result, startErr error, out *callrec.Output) {
	rec := callrec.Record(p.name, args, res, out, callrec.Options{
		LogOutput: p.logOutput, ContentLimit: envInt(t.env, "GT_LOG_BD_CONTENT_LIMIT", 2048),
		ArgsLimit: envInt(t.env, "GT_LOG_ARGS_LIMIT", parse.DefaultArgsLimit)})
	if res.UserEnv {
		rec.Attrs = append(rec.Attrs, event.String("note", parse.UserEnvNote))
	}
	if startErr != nil {
		rec.Err = parse.StartError(oneLine(startErr), arg0, p.name)
	}
	spanName := p.name
	if rec.Name == "bd.call" {
		spanName = "bd " + rec.GetString("subcommand")
	}
	span.finish(t, strings.TrimSpace(spanName), res.Start, res.End, rec.Attrs, rec.Err)
	t.x.Emit(rec)
	if p.rules == nil || startErr != nil {
		return
	}
	for _, r := range p.rules.Events(parse.Call{
		Command: p.name, Args: args, ExitCode: res.ExitCode,
		Stdout: out.Stdout, Stderr: out.Stderr, Combined: out.Combined, Getenv: t.env.Get,
	}) {
		if r.Time.IsZero() {
			r.Time = res.End
		}
		t.x.Emit(r)
	}
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
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
