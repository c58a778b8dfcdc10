package viewcli

import (
	"bufio"
	"context"
	"fmt"
	"github.com/gastown/gtrun/internal/cli"
	"github.com/gastown/gtrun/internal/state"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gastown/gtrun/internal/logsq"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/runview"
	"github.com/gastown/gtrun/internal/termsafe"
)

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
		if c := e.Get("OTEL_EXPORTER_OTLP_ENDPOINT"); c != "" {
			// A collector takes the records; it cannot be queried.
			return "", fmt.Errorf("records go through the collector at %s, which cannot be queried: pass --logs-query-url http://VICTORIALOGS:9428", c)
		}
		return "", fmt.Errorf("no logs backend: set GT_OTEL_LOGS_URL or pass --logs-query-url http://HOST:9428")
	}
	return logsq.BaseFromOTLP(u)
}

func (o *viewOptions) isTerminal(ios cli.IOStreams) bool {
	return ios.OutFile != nil && term.IsTerminal(int(ios.OutFile.Fd()))
}

func (o *viewOptions) render(ios cli.IOStreams) runview.Options {
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

func NewTraceCmd(ios cli.IOStreams) *cobra.Command {
	o := &viewOptions{}
	var follow, serve bool
	var htmlOut, addr string
	cmd := &cobra.Command{
		Use:   "trace [RUN_ID] [--html [FILE] | --serve]",
		Short: "Show one run as a time-ordered waterfall read back from VictoriaLogs (default: the last run started here)",
		Long: `Show one run as a time-ordered waterfall read back from VictoriaLogs
(default: the last run started on this machine).

  --html [FILE]   write the run as one self-contained HTML page (inline CSS and
                  JS, no network): the waterfall with sessions, agents, agent
                  turns and calls nested, errors marked, attributes on click,
                  tokens and cost. FILE defaults to gtrun-trace-RUN_ID.html in
                  the current directory; "-" writes to stdout. Give FILE as
                  --html=FILE, or after the run: gtrun trace RUN_ID --html FILE.
  --serve         serve that page on a loopback port (--addr, default
                  127.0.0.1:0: a free port), print its URL, re-read the run
                  every 2s and let the page follow it; Ctrl-C stops.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			htmlSet := c.Flags().Changed("html")
			if htmlSet && (htmlOut == htmlDefault || htmlOut == "") {
				htmlOut = ""
				// --html without =FILE: a FILE may follow the run id.
				switch {
				case len(args) == 2:
					htmlOut, args = args[1], args[:1]
				case len(args) == 1 && (args[0] == "-" || strings.HasSuffix(args[0], ".html")):
					htmlOut, args = args[0], nil
				}
			}
			if len(args) > 1 {
				return cli.UsageErr("trace: one RUN_ID at most (a second argument is the FILE of --html)")
			}
			if htmlSet && (serve || follow || o.json) {
				return cli.UsageErr("trace: --html writes a file; it does not go with --serve, --follow or --json")
			}
			if serve && o.json {
				return cli.UsageErr("trace: --serve does not go with --json")
			}
			base, err := o.base() // no backend configured is said first
			if err != nil {
				return backendErr("trace", err)
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			} else if id = cli.LastRun(); id == "" {
				return cli.Exitf(1, "trace: no run started on this machine yet; give a RUN_ID")
			}
			if serve {
				return serveTrace(c.Context(), ios, base, id, addr)
			}
			if htmlSet {
				// A big run's page in bounded memory: a soft limit makes
				// the collector keep the heap near what is live (the
				// fetched records, their values cut at once, then the
				// page drawn straight to the file).
				debug.SetMemoryLimit(48 << 20)
			}
			return showTrace(c.Context(), ios, o, base, id, follow, htmlSet, htmlOut)
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&follow, "follow", false, "keep watching a live run")
	cmd.Flags().StringVar(&htmlOut, "html", "", "write the run as a self-contained HTML page to FILE (default gtrun-trace-RUN_ID.html; - for stdout)")
	// --html alone gets this placeholder: the default name, or a FILE
	// given as the next argument.
	cmd.Flags().Lookup("html").NoOptDefVal = htmlDefault
	cmd.Flags().BoolVar(&serve, "serve", false, "serve the HTML page on loopback and follow the run (Ctrl-C stops)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "loopback address of --serve (port 0: a free one)")
	return cmd
}

// showTrace prints the run (or writes its page), and with follow redraws
// it every 2 s while it grows.
func showTrace(ctx context.Context, ios cli.IOStreams, o *viewOptions, base, id string, follow, htmlSet bool, htmlOut string) error {
	seen := -1
	for {
		recs, err := fetchRun(ctx, base, id, seen < 0 && !follow)
		if err != nil {
			return backendErr("trace", err)
		}
		if len(recs) == 0 && !follow {
			return cli.Exitf(1, "trace: run %s has no records in VictoriaLogs at %s", termsafe.String(id), base)
		}
		if htmlSet {
			return writeHTML(ios, runview.Build(id, runview.BoundRecords(recs)), htmlOut)
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
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

const htmlDefault = "gtrun-trace-RUN_ID.html"

// recordedWait is how long trace waits for a run it finds empty: records a
// call made a moment ago are still on their way (the agent ships within
// ~100 ms, VictoriaLogs shows them about a second after it takes them).
const recordedWait = 5 * time.Second

// fetchRun reads a run's records; wait: an empty answer is asked again
// until recordedWait has passed.
func fetchRun(parent context.Context, base, id string, wait bool) ([]map[string]string, error) {
	deadline := time.Now().Add(recordedWait)
	for {
		ctx, cancel := context.WithTimeout(parent, 15*time.Second)
		recs, err := logsq.Run(ctx, base, id)
		cancel()
		if err != nil || len(recs) > 0 || !wait || time.Now().After(deadline) {
			return recs, err
		}
		select {
		case <-parent.Done():
			return recs, nil
		case <-time.After(250 * time.Millisecond): // polling the backend with a deadline
		}
	}
}

// writeHTML writes the page to file ("" for the default name, "-" for stdout).
func writeHTML(ios cli.IOStreams, run runview.Run, file string) error {
	if file == "-" {
		return runview.RenderHTML(ios.Out, run, runview.HTMLOptions{})
	}
	if file == "" {
		file = "gtrun-trace-" + state.FileName(run.ID) + ".html"
	}
	// Streamed to a temporary file renamed into place: a big run's page
	// is not held in memory a second time, and a failed write leaves no
	// half page under the name.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".gtrun-trace-*.html")
	if err != nil {
		return cli.Exitf(1, "trace: %v", err)
	}
	w := bufio.NewWriterSize(tmp, 256<<10)
	err = runview.RenderHTML(w, run, runview.HTMLOptions{})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return cli.Exitf(1, "trace: %v", err)
	}
	fmt.Fprintf(ios.Out, "wrote %s (%d events)\n", file, len(run.Events))
	return nil
}

func serveTrace(ctx context.Context, ios cli.IOStreams, base, id, addr string) error {
	if err := runview.CheckLoopback(addr); err != nil {
		return cli.UsageErr("trace: --addr: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return backendErr("trace", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	l := &runview.Live{ID: id, Every: 2 * time.Second, Fetch: func(ctx context.Context) ([]map[string]string, error) {
		return logsq.Run(ctx, base, id)
	}}
	// An unreachable backend fails now, as without --serve; a run with no
	// records yet is served (and followed).
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = l.Refresh(rctx)
	cancel()
	if err != nil {
		ln.Close()
		return backendErr("trace", err)
	}
	fmt.Fprintf(ios.Out, "serving run %s at http://%s/  (Ctrl-C stops)\n", id, ln.Addr())
	if err := l.Serve(ctx, ln); err != nil {
		return backendErr("trace", err)
	}
	return nil
}

func NewRunsCmd(ios cli.IOStreams) *cobra.Command {
	o := &viewOptions{}
	since := newSince(24 * time.Hour)
	cmd := &cobra.Command{
		Use:   "runs [--since 24h|7d|RFC3339]",
		Short: "Recent runs, one line each: run id, first event, duration, calls, errors, tokens, role/session",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			base, err := o.base()
			if err != nil {
				return backendErr("runs", err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			recs, err := logsq.Since(ctx, base, since.Duration(time.Now()))
			if err != nil {
				return backendErr("runs", err)
			}
			sums := runview.Summaries(recs)
			if o.json {
				return runview.RenderJSONValue(ios.Out, sums)
			}
			if len(sums) == 0 {
				fmt.Fprintf(ios.Out, "no runs in %s\n", since.Phrase())
				return nil
			}
			ro := o.render(ios)
			if o.width == 0 && !o.isTerminal(ios) {
				ro.Width = 1 << 16 // a pipe gets whole lines, as kubectl and gh do
			}
			runview.RenderRuns(ios.Out, sums, ro)
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().Var(since, "since", "how far back: "+sinceHelp+sinceNote)
	return cmd
}

// backendErr is a read-back command's failure: the error may hold a
// backend's response body, which reaches the terminal only terminal-safe.
func backendErr(cmd string, err error) error {
	return cli.Exitf(1, "%s: %s", cmd, termsafe.String(err.Error()))
}
