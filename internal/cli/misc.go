package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/runenv"
)

func newEnvCmd(ios IOStreams) *cobra.Command {
	var noNative, diff bool
	cmd := &cobra.Command{
		Use:   "env [--diff] [--no-native-telemetry] [-- CMD]",
		Short: "Print the environment gtrun would give a child (for a known agent, with its native telemetry)",
		RunE: func(_ *cobra.Command, args []string) error {
			t := newTelemetry(ios, "")
			env, warn := runenv.Child(t.env, t.runID)
			if warn != "" {
				fmt.Fprintf(ios.Err, "gtrun: warning: %s\n", warn)
			}
			var extra []string
			if len(args) > 0 && !noNative {
				if at := knownAgent(args[0]); at != "" {
					n := nativeTelemetry(t, at, args)
					env, extra = append(env, n.Env...), n.Args
				}
			}
			sort.Strings(env)
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				if old, had := t.env.Lookup(k); diff && had && old == v {
					continue // --diff: only what gtrun adds or changes
				}
				fmt.Fprintln(ios.Out, kv)
			}
			if len(extra) > 0 {
				fmt.Fprintf(ios.Out, "# and these arguments after %s: %s\n", args[0], strings.Join(extra, " "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noNative, "no-native-telemetry", false, "leave a known agent's own telemetry alone")
	cmd.Flags().BoolVar(&diff, "diff", false, "print only the variables gtrun adds or changes")
	return cmd
}

// newFlushCmd and newShipperCmd forward to gtrun-shipper, the delivery
// agent's binary: they are the only commands that need OpenTelemetry.
func newFlushCmd(ios IOStreams) *cobra.Command {
	return forwardHelp(&cobra.Command{
		Use:                "flush [--timeout D]",
		Short:              "Deliver everything recorded so far and wait (asks the delivery agent, or does its work)",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return execShipper(ForwardName, append([]string{"flush"}, args...)...)
		},
	}, ForwardName, "flush")
}

func newShipperCmd(ios IOStreams) *cobra.Command {
	return forwardHelp(&cobra.Command{
		Use:                "shipper status|stop|run [--json]",
		Short:              "The delivery agent: status (running, backlog, last delivery and error per endpoint), stop",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"status"}
			}
			return execShipper(ForwardShipperName, args...)
		},
	}, ForwardShipperName)
}
