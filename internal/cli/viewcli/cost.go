package viewcli

import (
	"context"
	"fmt"
	"github.com/gastown/gtrun/internal/cli"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/logsq"
	"github.com/gastown/gtrun/internal/runview"
)

func NewCostCmd(ios cli.IOStreams) *cobra.Command {
	o := &viewOptions{}
	var by, run string
	sinceArg := newSince(24 * time.Hour)
	groups := make([]string, 0, len(logsq.CostGroups))
	for g := range logsq.CostGroups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	cmd := &cobra.Command{
		Use:   "cost [--by run|bead|role|rig|agent|model] [--since 24h] [--run RUN_ID] [--json]",
		Short: "What the agents cost: tokens, cost, calls and errors per run, bead, role, rig, agent or model, from VictoriaLogs",
		Long: `cost asks VictoriaLogs (LogsQL stats: the server aggregates) for the agents' usage
and cost, calls and errors of the last --since, grouped --by one of ` + strings.Join(groups, ", ") + `,
with a TOTAL row. A model without a price is never priced at 0: its cost shows "?"
("$1.23+?" when part of a group is priced) and a note names the model; add it to
prices.toml ($XDG_CONFIG_HOME/gtrun/prices.toml). WALL (run, bead) is the time
from the group's first record to its last.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, ok := logsq.CostGroups[by]; !ok {
				return cli.UsageErr("cost: --by must be one of %s, not %q", strings.Join(groups, ", "), by)
			}
			since, sinceText := sinceArg.Duration(time.Now()), sinceArg.String()
			if run != "" && !c.Flags().Changed("since") {
				sinceText = "all time"
				since = 0 // a run's records, however old
			}
			base, err := o.base()
			if err != nil {
				return backendErr("cost", err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			rows, total, field, err := logsq.Cost(ctx, base, by, since, run)
			if err != nil {
				return backendErr("cost", err)
			}
			rep := runview.CostReport{By: by, Since: sinceText, Run: run, Total: runview.CostRowFromStats(total, "")}
			for _, r := range rows {
				rep.Rows = append(rep.Rows, runview.CostRowFromStats(r, field))
			}
			runview.SortCostRows(rep.Rows)
			if rep.Rows == nil {
				rep.Rows = []runview.CostRow{}
			}
			if o.json {
				return runview.RenderJSONValue(ios.Out, rep)
			}
			if len(rep.Rows) == 0 {
				fmt.Fprintf(ios.Out, "no records in %s\n", sinceArg.Phrase())
				return nil
			}
			runview.RenderCost(ios.Out, rep, o.render(ios))
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&by, "by", "bead", "group by run, bead, role, rig, agent or model")
	cmd.Flags().Var(sinceArg, "since", "how far back: "+sinceHelp+sinceNote+" (with --run: all of the run unless given)")
	cmd.Flags().StringVar(&run, "run", "", "only this run's records")
	return cmd
}

// shortDuration prints 24h, 1h30m, 90m as 1h30m: no trailing zero units.
func shortDuration(d time.Duration) string {
	if d <= 0 {
		return "all time"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
