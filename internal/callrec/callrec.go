// Package callrec is where the record of one wrapped process is born:
// bd.call for bd (its subcommand a safe label), cmd.call for anything else
// — duration, exit status, rusage, the signal that killed it, redacted
// argv, and the child's own "Error: …" line as its error when its output
// was read.
package callrec

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/wrap"
)

// Output keeps the output lines rules and GT_LOG_BD_OUTPUT need, bounded.
type Output struct {
	Stdout, Stderr, Combined []byte
}

const maxOutput = 1 << 20

func (c *Output) Add(stream string, line []byte) {
	dst := &c.Stdout
	switch stream {
	case "stderr":
		dst = &c.Stderr
	case "combined":
		dst = &c.Combined
	}
	if len(*dst)+len(line)+1 > maxOutput {
		return
	}
	*dst = append(append(*dst, line...), '\n')
}

// Options say what a record carries beyond the call itself.
type Options struct {
	// LogOutput attaches stdout/stderr (GT_LOG_BD_OUTPUT), redacted and cut
	// to ContentLimit bytes.
	LogOutput    bool
	ContentLimit int
	// ArgsLimit caps the args attribute (GT_LOG_ARGS_LIMIT; 0: the default).
	ArgsLimit int
}

// Record builds the bd.call or cmd.call record of a finished child.
func Record(name string, args []string, res wrap.Result, out *Output, o Options) event.Record {
	dur := res.End.Sub(res.Start)
	rec := event.Record{Time: res.End}
	limit := o.ArgsLimit
	if limit <= 0 {
		limit = parse.DefaultArgsLimit
	}
	redacted := parse.CallArgs(name, args, limit)
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
		rec.Attrs = append(rec.Attrs, event.String("signal", unix.SignalName(res.Signal)))
	}
	if o.LogOutput {
		limit := o.ContentLimit
		so, se := out.Stdout, out.Stderr
		if len(out.Combined) > 0 {
			so = out.Combined
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
func failureMessage(res wrap.Result, out *Output) string {
	if l := parse.ErrorLine(string(out.Stderr), string(out.Combined), string(out.Stdout)); l != "" {
		return l
	}
	if res.Signal != 0 {
		return "killed by " + unix.SignalName(res.Signal) // SIGTERM, as kill -l names it
	}
	return "exit status " + strconv.Itoa(res.ExitCode)
}
