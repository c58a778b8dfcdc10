package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

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

func newFlushCmd(ios IOStreams) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Deliver records spooled while a backend was unreachable",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			t := newTelemetry(ios)
			if !t.x.Config().Enabled() {
				return exitf(1, "flush: no OTLP endpoint configured (GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL, GT_OTEL_TRACES_URL)")
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			res := t.x.DeliverSpool(ctx, true)
			failed := false
			kinds := make([]string, 0, len(res))
			for k := range res {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				r := res[k]
				line := fmt.Sprintf("%s: %d delivered", k, r.Sent)
				if r.Corrupt > 0 {
					line += fmt.Sprintf(", %d damaged skipped", r.Corrupt)
				}
				if r.Failed > 0 {
					line += fmt.Sprintf(", %d refused for good", r.Failed)
				}
				if r.Err != nil {
					failed = true
					line += fmt.Sprintf(", stopped: %v", r.Err)
				}
				fmt.Fprintln(ios.Out, line)
			}
			if left := t.x.Spool().Pending(); len(left) > 0 {
				fmt.Fprintf(ios.Out, "still spooled: %v\n", left)
			}
			if failed {
				return exitf(1, "flush: some batches are still spooled")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
