// Package shipcli holds the commands of gtrun-shipper, the delivery agent:
// run (the agent itself), flush, status and stop. Flags and wiring only:
// the agent is internal/shipper, the OTLP side internal/export.
package shipcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/gastown/gtrun/internal/cli"
	"github.com/gastown/gtrun/internal/cli/viewcli"
	"github.com/gastown/gtrun/internal/export"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/shipper"
	"github.com/gastown/gtrun/internal/sink"
	"github.com/gastown/gtrun/internal/state"
)

// Version is set with -ldflags "-X github.com/gastown/gtrun/internal/cli/shipcli.Version=…".
var Version = ""

// version is Version when the build set it, else gtrun's (the module
// version of a go install, else "dev"): the same string in both binaries.
func version() string {
	if Version != "" {
		return Version
	}
	return cli.VersionString()
}

type exitError struct{ code int }

func (e exitError) Error() string { return "exit " + strconv.Itoa(e.code) }

// ExitCode is the status; the message is already printed.
func (e exitError) ExitCode() int { return e.code }

// Main runs gtrun-shipper with os.Args and returns the exit status.
func Main() int {
	root, args := newTree(os.Args[0], os.Args[1:], os.Stdout, os.Stderr)
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return cli.Status(err, os.Stderr) // trace, runs, cost report as gtrun does
}

// newTree is the command tree for argv0 and the arguments to give it.
// gtrun runs this binary as "gtrun" (trace, runs, cost, flush) or as
// "gtrun shipper" (status, stop): help and usage lines then name the
// command the user typed, so that every message says gtrun.
func newTree(argv0 string, args []string, out, errw io.Writer) (*cobra.Command, []string) {
	switch argv0 {
	case cli.ForwardName:
		return newRoot("gtrun", out, errw), args
	case cli.ForwardShipperName:
		top := &cobra.Command{Use: "gtrun", SilenceUsage: true, SilenceErrors: true}
		top.SetOut(out)
		top.SetErr(errw)
		top.CompletionOptions.DisableDefaultCmd = true
		sh := newRoot("shipper", out, errw)
		sh.Version = ""
		sh.Args = cobra.ArbitraryArgs
		sh.RunE = func(_ *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "help" { // gtrun shipper help [CMD]
				if c, _, err := sh.Find(args[1:]); err == nil {
					return c.Help()
				}
				args = nil
			}
			if len(args) == 0 {
				return sh.Help()
			}
			return cli.UsageErr("unknown command %q for \"gtrun shipper\": give status, stop or run", args[0])
		}
		for _, c := range sh.Commands() {
			switch c.Name() { // gtrun's own top-level commands
			case "trace", "runs", "cost", "flush":
				c.Hidden = true
			}
		}
		top.AddCommand(sh)
		return top, append([]string{"shipper"}, args...)
	}
	return newRoot("gtrun-shipper", out, errw), args
}

func newRoot(name string, out, errw io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           name,
		Short:         "gtrun's delivery agent: ships the per-user journal to the OTLP endpoints",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetOut(out)
	root.SetErr(errw)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newRunCmd(), newFlushCmd(out, errw), newStatusCmd(out), newStopCmd(out))
	// The commands that read the backends back, run for gtrun (which
	// forwards them here so that its own binary stays small).
	ios := cli.System()
	root.AddCommand(viewcli.NewTraceCmd(ios), viewcli.NewRunsCmd(ios), viewcli.NewCostCmd(ios))
	cli.RuntimeErrors(root)
	return root
}

// paths returns the journal and the agent's directory.
func paths() (*journal.Journal, string, error) {
	jd, err := state.Sub("journal")
	if err != nil {
		return nil, "", err
	}
	sd, err := state.Sub("shipper")
	if err != nil {
		return nil, "", err
	}
	return journal.Open(jd), sd, nil
}

// options reads the agent's settings from its environment.
func options(j *journal.Journal, dir string, logw io.Writer) shipper.Options {
	exp := export.NewClient(version())
	exp.SetInstance(shipper.InstanceID(dir))
	o := shipper.Options{Journal: j, Dir: dir, Exporter: exp, Log: logw}
	dur := func(k string, dst *time.Duration) {
		if v := os.Getenv(k); v != "" {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				*dst = d
			} else {
				fmt.Fprintf(logw, "%s=%q ignored: want a duration like 10s\n", k, v)
			}
		}
	}
	dur("GT_OTEL_METRIC_INTERVAL", &o.Interval)
	dur("GT_SHIPPER_IDLE", &o.Idle)
	// The delivery bounds (docs/architecture.md, "Delivery").
	dur("GT_SHIPPER_DEAD_AGE", &o.DeadAge)
	dur("GT_SHIPPER_UNREACHABLE_AGE", &o.UnreachableAge)
	dur("GT_SHIPPER_MAX_RETRY_AFTER", &o.MaxRetryAfter)
	if v := os.Getenv("GT_SHIPPER_DEAD_TRIES"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			o.DeadTries = n
		} else {
			fmt.Fprintf(logw, "GT_SHIPPER_DEAD_TRIES=%q ignored: want a positive count\n", v)
		}
	}
	if v := os.Getenv("GT_JOURNAL_MAX_BYTES"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			o.MaxBytes = n
		} else {
			fmt.Fprintf(logw, "GT_JOURNAL_MAX_BYTES=%q ignored: want a positive byte count\n", v)
		}
	}
	return o
}

// logMax bounds the agent's log: past it the log is renamed log.1 (the
// one before is gone) and started again, whatever the agent's lifetime.
const logMax = 1 << 20

// openLog opens the agent's log. Nothing of the SDK or of Go's log package
// ever reaches a terminal: both write here.
func openLog(dir string) io.Writer {
	w := &capLog{path: filepath.Join(dir, "log"), max: logMax}
	if w.open() != nil {
		return io.Discard
	}
	log.SetOutput(w)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { fmt.Fprintf(w, "%s otel: %v\n", time.Now().Format(time.RFC3339), err) }))
	return w
}

// capLog is a file that rotates itself once past max bytes.
type capLog struct {
	path string
	max  int64
	mu   sync.Mutex
	f    *os.File
	size int64
}

func (l *capLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

func (l *capLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	if l.size+int64(len(p)) > l.max {
		l.f.Close()
		os.Rename(l.path, l.path+".1")
		if err := l.open(); err != nil {
			l.f = nil
			return len(p), nil
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func newRunCmd() *cobra.Command {
	var spawned, handed bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Be the agent: follow the journal until idle (started by gtrun; exits if one runs already)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if spawned && !stateExists("journal") && !(handed && stateExists("shipper")) {
				return nil // the state directory went away before we started
			}
			j, dir, err := paths()
			if err != nil {
				return err
			}
			logw := openLog(dir)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
			defer stop()
			o := options(j, dir, logw)
			rh := receiveHandler(j, dir, logw)
			ln := handedListener(handed)
			o.Receiver = shipper.NewReceiver(dir, rh, ln, rh.Logf)
			err = shipper.New(o).Run(ctx)
			if errors.Is(err, shipper.ErrRunning) && ln != nil {
				// Another agent took the lock first: the socket this one
				// was handed may hold a child's connection; serve it.
				o.Receiver.ServeAlone(o.Idle)
				return nil
			}
			if errors.Is(err, shipper.ErrRunning) || errors.Is(err, shipper.ErrLockLost) {
				return nil // nothing to report to a detached process's stderr
			}
			return err
		},
	}
	// A call starts the agent right after appending, so the journal is
	// there, unless the state directory was deleted meanwhile (a test's
	// temporary one, most often): then the agent must not create it anew.
	cmd.Flags().BoolVar(&spawned, "spawned", false, "started by a call: exit if the journal is gone")
	cmd.Flags().MarkHidden("spawned")
	cmd.Flags().BoolVar(&handed, "listener", false, "descriptor 3 is the receiver's socket, bound by the call")
	cmd.Flags().MarkHidden("listener")
	return cmd
}

// stateExists reports whether a subdirectory of the state directory is
// there (a call with a receiver starts the agent before its first append).
func stateExists(name string) bool {
	p, err := state.Path(name)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

func newFlushCmd(out, errw io.Writer) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "flush [--timeout D]",
		Short: "Deliver everything the journal holds now and wait (works with or without a running agent)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			j, dir, err := paths()
			if err != nil {
				return err
			}
			rep, asked, err := shipper.Ask(dir, shipper.Request{Op: "flush"}, timeout)
			if err != nil {
				return err
			}
			if !asked {
				// No agent: be one, for this drain only.
				o := options(j, dir, openLog(dir))
				o.Drain, o.DrainTimeout = true, timeout
				s := shipper.New(o)
				err := s.Run(context.Background())
				if errors.Is(err, shipper.ErrRunning) { // one started meanwhile
					rep, _, err = shipper.Ask(dir, shipper.Request{Op: "flush"}, timeout)
				} else {
					rep = s.Report()
				}
				if err != nil {
					return err
				}
			}
			if len(rep.Endpoints) == 0 {
				if cfg, problems := envConfig(); !cfg.Enabled() {
					// Nothing was ever addressed anywhere: say so
					// rather than succeed in silence (exit 0: nothing
					// waits).
					fmt.Fprintln(errw, "gtrun: flush: no endpoint is configured: "+configVars)
					for _, p := range problems {
						fmt.Fprintln(errw, "gtrun: flush: "+p)
					}
				}
			}
			for _, e := range rep.Endpoints {
				line := fmt.Sprintf("%s %s: delivered", e.Kind, e.URL)
				if e.Pending {
					line = fmt.Sprintf("%s %s: NOT delivered", e.Kind, e.URL)
					if e.LastErr != "" {
						line += " (" + e.LastErr + ")"
					}
				}
				if e.Dropped > 0 {
					line += fmt.Sprintf(", %d dropped", e.Dropped)
				}
				fmt.Fprintln(out, line)
			}
			if !rep.OK {
				fmt.Fprintln(errw, "gtrun: flush: some telemetry is still waiting in the journal")
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func newStatusCmd(out io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the agent: running or not, backlog, last delivery and last error per endpoint, journal size",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			j, dir, err := paths()
			if err != nil {
				return err
			}
			st, err := shipper.ReadStatus(dir, j)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			shipper.RenderStatus(out, st, time.Now())
			renderEnv(out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON for scripts")
	return cmd
}

func newStopCmd(out io.Writer) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Ask the running agent to deliver what it can and exit",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, dir, err := paths()
			if err != nil {
				return err
			}
			pid := shipper.Running(dir)
			if pid == 0 {
				fmt.Fprintln(out, "delivery agent: not running")
				return nil
			}
			// Until no agent holds the lock: one that was starting as
			// this one stopped takes over, and is asked to stop too; a
			// pid not written yet (-1) is read again.
			deadline := time.Now().Add(timeout)
			asked := map[int]bool{}
			for ; pid != 0; pid = shipper.Running(dir) {
				if pid > 0 && !asked[pid] {
					syscall.Kill(pid, syscall.SIGTERM)
					asked[pid] = true
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("agent %d still running after %v", pid, timeout)
				}
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for it to exit")
	return cmd
}

// configVars names the variables that set the endpoints (SPEC §1).
const configVars = "set GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL, GT_OTEL_TRACES_URL " +
	"(or OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_{LOGS,METRICS,TRACES}_ENDPOINT)"

// envConfig is what a call in this environment would do: the endpoints,
// and why a set one is off.
func envConfig() (sink.Config, []string) {
	return sink.FromEnv(runenv.New(os.Environ()), "")
}

// renderEnv shows, per signal, what calls made in this environment send
// where: a URL a call ignores (invalid) shows as disabled, with why, not
// as nothing at all.
func renderEnv(w io.Writer) {
	cfg, problems := envConfig()
	fmt.Fprintln(w, "this environment:")
	for _, sig := range []struct{ kind, url, vars string }{
		{shipper.KindLogs, cfg.Dest.Logs, "LOGS"},
		{shipper.KindMetrics, cfg.Dest.Metrics, "METRICS"},
		{shipper.KindTraces, cfg.Dest.Traces, "TRACES"},
	} {
		line := sig.url
		if line == "" {
			line = "not configured"
			for _, p := range problems {
				if strings.Contains(p, "_"+sig.vars+"_") || strings.HasPrefix(p, "OTEL_EXPORTER_OTLP_ENDPOINT ") {
					line = "disabled — invalid URL: " + p + " (calls record nothing for it, now or later)"
				}
			}
		}
		fmt.Fprintf(w, "  %-9s%s\n", sig.kind+":", line)
	}
}
