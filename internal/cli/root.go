// Package cli holds gtrun's cobra commands; it is the only package that
// knows about flags. Each command is an Options struct plus a run function
// that takes IOStreams, so tests drive commands without a terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/wrap"
)

// Version is set with -ldflags "-X github.com/gastown/gtrun/internal/cli.Version=…".
var Version = ""

// VersionString is gtrun's version, the one gtrun-shipper reports too (one
// string for both binaries, every record's scope and resource).
func VersionString() string { return version() }

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// IOStreams are the standard streams of a command.
type IOStreams struct {
	In       *os.File
	Out, Err io.Writer
	OutFile  *os.File // the real stdout, for wrapping and terminal checks
	ErrFile  *os.File
}

// System returns the process's streams.
func System() IOStreams {
	return IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutFile: os.Stdout, ErrFile: os.Stderr}
}

// exitError carries an exit status through cobra.
type exitError struct {
	code int
	msg  string       // printed as "gtrun: msg" unless empty
	res  *wrap.Result // a wrapped child's end: gtrun ends as it did
}

func (e *exitError) Error() string { return e.msg }

// Exitf and UsageErr are exitf and usageErr for the commands gtrun-shipper
// hosts (internal/cli/viewcli).
func Exitf(code int, format string, args ...any) error { return exitf(code, format, args...) }

// UsageErr is a usage error (exit status 2).
func UsageErr(format string, args ...any) error { return usageErr(format, args...) }

// Status turns a command's error into gtrun's exit status, printing its
// message on errw as gtrun does.
func Status(err error, errw io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(errw, "gtrun: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(errw, "gtrun: %v\nRun 'gtrun --help' for usage.\n", err)
	return 2
}

// RuntimeErrors makes an error a command returns once it runs exit 1
// without a usage hint: only what cobra rejects before (an unknown flag, a
// bad value, the argument count) is a usage error, exit 2 with the hint.
func RuntimeErrors(root *cobra.Command) {
	for _, c := range root.Commands() {
		RuntimeErrors(c)
	}
	if run := root.RunE; run != nil {
		root.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			var ee *exitError
			if err == nil || errors.As(err, &ee) {
				return err
			}
			var se interface{ ExitCode() int }
			if errors.As(err, &se) {
				return err // the command chose its status
			}
			_, path, _ := strings.Cut(c.CommandPath(), " ") // "shipper status"
			return exitf(1, "%s: %v", path, err)
		}
	}
}

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// usageError is exit status 2 (SPEC: usage errors of gtrun).
func usageErr(format string, args ...any) error { return exitf(2, format, args...) }

// Main runs gtrun with os.Args and returns the exit status.
// GTRUN_CPUPROFILE=FILE writes a CPU profile (for performance work).
func Main() int {
	if p := os.Getenv("GTRUN_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	code, res := run(context.Background(), os.Args, System())
	if res != nil && res.Signal != 0 {
		pprof.StopCPUProfile()
		// The very last thing, telemetry already journaled: a child killed
		// by a signal makes gtrun die of it, so a shell sees it as bare.
		return wrap.ExitLike(*res)
	}
	return code
}

// run runs gtrun with argv; a wrapped child's end comes back with its code.
func run(ctx context.Context, argv []string, ios IOStreams) (int, *wrap.Result) {
	name := filepath.Base(argv[0])
	if name != "gtrun" && !strings.HasPrefix(name, "gtrun.") && !strings.HasSuffix(name, ".test") {
		return runShim(ctx, name, argv[1:], ios)
	}
	// The hot path: `gtrun CMD ARGS...` wraps CMD without building the
	// command tree (a wrapped call's every microsecond is the user's).
	if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") && !isCommand(argv[1]) {
		res := runWrapped(ctx, ios, &runOptions{argv: argv[1:]})
		return res.ExitCode, &res
	}
	root := newRoot(ios)
	root.SetArgs(rewriteImplicitRun(root, argv[1:]))
	err := root.ExecuteContext(ctx)
	var ee *exitError
	if errors.As(err, &ee) && ee.res != nil {
		return Status(err, ios.Err), ee.res
	}
	return Status(err, ios.Err), nil // cobra's own errors (unknown flag, bad args): 2
}

func newRoot(ios IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "gtrun [flags] CMD [ARGS...] | gtrun COMMAND",
		Short: "Wrap Gas Town processes and export their telemetry (OTLP logs, metrics and traces)",
		Long: `gtrun wraps a command (bd, a tmux session, a coding agent, anything), passes
its terminal through untouched, and exports the Gas Town event catalog as OTLP
logs, metrics and traces. "gtrun CMD ARGS..." is the same as "gtrun run -- CMD ARGS...".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	root.CompletionOptions.HiddenDefaultCmd = false
	for _, c := range commands {
		root.AddCommand(c.new(ios))
	}
	RuntimeErrors(root)
	return root
}

// commands are gtrun's subcommands. Any other first word is a command to
// wrap (run never builds this tree for it).
var commands = []struct {
	name string
	new  func(IOStreams) *cobra.Command
}{
	{"run", newRunCmd}, {"emit", newEmitCmd}, {"env", newEnvCmd}, {"flush", newFlushCmd},
	{"shipper", newShipperCmd}, {"shim", newShimCmd}, {"version", newVersionCmd},
	{"session", newSessionCmd}, {"session-run", newSessionRunCmd}, {"agent", newAgentCmd},
	{"agent-log", newAgentLogCmd},
	{"trace", forward("trace [RUN_ID]", "Show one run as a time-ordered waterfall read back from VictoriaLogs; --html, --serve, --json")},
	{"runs", forward("runs [--since 24h]", "Recent runs, one line each: run id, first event, duration, calls, errors, tokens, cost")},
	{"cost", forward("cost [--by run|bead|role|rig|agent|model] [--since 24h]", "What the agents cost: tokens, cost, calls, errors, wall, from VictoriaLogs")},
}

// forward is a command gtrun-shipper runs: the ones that read the backends
// (net/http, templates) live there, so that a wrapped call's binary stays
// small — every megabyte of gtrun costs each call start-up time.
func forward(use, short string) func(IOStreams) *cobra.Command {
	return func(ios IOStreams) *cobra.Command {
		name, _, _ := strings.Cut(use, " ")
		return forwardHelp(&cobra.Command{
			Use: use, Short: short, DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				return execShipper(ForwardName, append([]string{name}, args...)...)
			},
		}, ForwardName, name)
	}
}

// forwardHelp makes `gtrun help CMD` of a forwarded command the help its
// host prints for `CMD --help`, flags included (this stub has none).
func forwardHelp(cmd *cobra.Command, argv0 string, args ...string) *cobra.Command {
	def := cmd.HelpFunc()
	cmd.SetHelpFunc(func(c *cobra.Command, a []string) {
		words := append(append([]string(nil), args...), helpWords(os.Args[1:], c.Name())...)
		execShipper(argv0, append(words, "--help")...)
		def(c, a) // only when gtrun-shipper cannot be run
	})
	return cmd
}

// helpWords are the words after `gtrun help NAME` (`gtrun help shipper
// status` → status): cobra's help hands the command over without them.
func helpWords(args []string, name string) []string {
	if len(args) < 2 || args[0] != "help" || args[1] != name {
		return nil
	}
	var out []string
	for _, w := range args[2:] {
		if !strings.HasPrefix(w, "-") {
			out = append(out, w)
		}
	}
	return out
}

// isCommand reports whether word names a gtrun subcommand (or cobra's own).
func isCommand(word string) bool {
	switch word {
	case "help", "completion", "__complete", "__completeNoDesc":
		return true
	}
	for _, c := range commands {
		if c.name == word {
			return true
		}
	}
	return false
}

// rewriteImplicitRun turns "gtrun [run flags] CMD ARGS..." into
// "gtrun run [run flags] -- CMD ARGS..." when CMD is not a gtrun command,
// so that everything after CMD belongs to CMD, unchanged.
func rewriteImplicitRun(root *cobra.Command, args []string) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if args[i] == "-h" || args[i] == "--help" || args[i] == "-v" || args[i] == "--version" {
			return args
		}
		if takesValue(args[i]) && !strings.Contains(args[i], "=") {
			i++
		}
		i++
	}
	if i < len(args) && args[i] == "--" {
		return append(append([]string{"run"}, args[:i]...), args[i:]...)
	}
	if i >= len(args) {
		return args
	}
	for _, c := range root.Commands() {
		if c.Name() == args[i] || c.HasAlias(args[i]) {
			return args
		}
	}
	if args[i] == "help" || args[i] == "completion" || args[i] == "__complete" {
		return args
	}
	out := append([]string{"run"}, args[:i]...)
	out = append(out, "--")
	return append(out, args[i:]...)
}

func takesValue(flag string) bool {
	switch strings.SplitN(flag, "=", 2)[0] {
	case "--name", "--rules":
		return true
	}
	return false
}

func newVersionCmd(ios IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gtrun's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(ios.Out, "gtrun %s\n", version())
			return nil
		},
	}
}
