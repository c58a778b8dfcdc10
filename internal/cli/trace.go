package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gastown/gtrun/internal/logsq"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/runview"
)

func init() { extraCommands = append(extraCommands, newTraceCmd, newRunsCmd) }

type viewOptions struct {
	queryURL string
	json     bool
	width    int
}

func (o *viewOptions) base() (string, error) {
	if o.queryURL != "" {
		return o.queryURL, nil
	}
	e := runenv.New(os.Environ())
	u := e.Get("GT_OTEL_LOGS_URL")
	if u == "" {
		u = e.Get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
	}
	if u == "" {
		return "", fmt.Errorf("no logs backend: set GT_OTEL_LOGS_URL or pass --logs-query-url http://HOST:9428")
	}
	return logsq.BaseFromOTLP(u)
}

func (o *viewOptions) render(ios IOStreams) runview.Options {
	w := o.width
	color := false
	if ios.OutFile != nil && term.IsTerminal(int(ios.OutFile.Fd())) {
		if cols, _, err := term.GetSize(int(ios.OutFile.Fd())); err == nil && w == 0 {
			w = cols
		}
		_, noColor := os.LookupEnv("NO_COLOR")
		color = !noColor
	}
	if w == 0 {
		w = 100
	}
	return runview.Options{Width: w, Color: color}
}

func (o *viewOptions) flags(c *cobra.Command) {
	c.Flags().StringVar(&o.queryURL, "logs-query-url", "", "VictoriaLogs base URL (default: derived from GT_OTEL_LOGS_URL)")
	c.Flags().BoolVar(&o.json, "json", false, "JSON for scripts")
	c.Flags().IntVar(&o.width, "width", 0, "columns (default: the terminal's, else 100)")
}

func newTraceCmd(ios IOStreams) *cobra.Command {
	o := &viewOptions{}
	var follow bool
	cmd := &cobra.Command{
		Use:   "trace [RUN_ID]",
		Short: "Show one run as a time-ordered waterfall read back from VictoriaLogs (default: the last run started here)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			} else if id = lastRun(); id == "" {
				return exitf(1, "trace: no run started on this machine yet; give a RUN_ID")
			}
			base, err := o.base()
			if err != nil {
				return exitf(1, "trace: %v", err)
			}
			seen := -1
			for {
				ctx, cancel := context.WithTimeout(c.Context(), 15*time.Second)
				recs, err := logsq.Run(ctx, base, id)
				cancel()
				if err != nil {
					return exitf(1, "trace: %v", err)
				}
				if len(recs) == 0 && !follow {
					return exitf(1, "trace: run %s has no records in VictoriaLogs at %s", id, base)
				}
				if len(recs) != seen {
					seen = len(recs)
					run := runview.Build(id, recs)
					if o.json {
						runview.RenderJSON(ios.Out, run)
					} else {
						if follow {
							fmt.Fprint(ios.Out, "\x1b[H\x1b[2J")
						}
						runview.Render(ios.Out, run, o.render(ios))
					}
				}
				if !follow {
					return nil
				}
				select {
				case <-c.Context().Done():
					return nil
				case <-time.After(2 * time.Second):
				}
			}
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&follow, "follow", false, "keep watching a live run")
	return cmd
}

func newRunsCmd(ios IOStreams) *cobra.Command {
	o := &viewOptions{}
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "runs [--since 24h]",
		Short: "Recent runs, one line each: run id, first event, duration, calls, errors, tokens, role/session",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			base, err := o.base()
			if err != nil {
				return exitf(1, "runs: %v", err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			recs, err := logsq.Since(ctx, base, since)
			if err != nil {
				return exitf(1, "runs: %v", err)
			}
			sums := runview.Summaries(recs)
			if o.json {
				return runview.RenderJSONValue(ios.Out, sums)
			}
			if len(sums) == 0 {
				fmt.Fprintf(ios.Out, "no runs in the last %s\n", since)
				return nil
			}
			runview.RenderRuns(ios.Out, sums, o.render(ios))
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "how far back")
	return cmd
}
