package cli

import (
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/runenv"
)

func newEnvCmd(ios IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "env [-- CMD]",
		Short: "Print the environment gtrun would give a child",
		RunE: func(*cobra.Command, []string) error {
			e := runenv.New(os.Environ())
			id, _ := runenv.RunID(e)
			env, warn := runenv.Child(e, id)
			if warn != "" {
				fmt.Fprintf(ios.Err, "gtrun: warning: %s\n", warn)
			}
			sort.Strings(env)
			for _, kv := range env {
				fmt.Fprintln(ios.Out, kv)
			}
			return nil
		},
	}
}

// newFlushCmd and newShipperCmd forward to gtrun-shipper, the delivery
// agent's binary: they are the only commands that need OpenTelemetry.
func newFlushCmd(ios IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:                "flush [--timeout D]",
		Short:              "Deliver everything recorded so far and wait (asks the delivery agent, or does its work)",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return execShipper(ios, append([]string{"flush"}, args...)...)
		},
	}
}

func newShipperCmd(ios IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:                "shipper status|stop|run [--json]",
		Short:              "The delivery agent: status (running, backlog, last delivery and error per endpoint), stop",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"status"}
			}
			return execShipper(ios, args...)
		},
	}
}
