package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/catalog"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
)

func newEmitCmd(ios IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "emit EVENT [KEY=VALUE...]",
		Short: "Emit one catalog event (mail, sling, done, mol.*, …) with its counter",
		Long: "Emit one Gas Town catalog event from a script. status=error and error=MSG mark a failure.\n" +
			"Events: " + strings.Join(catalog.Names(), ", "),
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			rec, err := buildEmit(args[0], args[1:])
			if err != nil {
				return err
			}
			t := newTelemetry(ios, "")
			t.x.Emit(rec)
			t.x.Close()
			return nil
		},
	}
}

// buildEmit validates an emit command line against the catalog.
func buildEmit(name string, kvs []string) (event.Record, error) {
	ev, ok := catalog.Lookup(name)
	if !ok {
		if s := catalog.Closest(name); s != "" {
			return event.Record{}, usageErr("unknown event %q; did you mean %q?", name, s)
		}
		return event.Record{}, usageErr("unknown event %q; known: %s", name, strings.Join(catalog.Names(), ", "))
	}
	rec := event.Record{Name: name, Time: time.Now()}
	status := "ok"
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return rec, usageErr("%s: %q is not KEY=VALUE", name, kv)
		}
		switch k {
		case "status":
			if v != "ok" && v != "error" {
				return rec, usageErr("%s: status must be ok or error, not %q", name, v)
			}
			status = v
			continue
		case "error":
			rec.Err = parse.RedactText(v)
			continue
		}
		val, err := ev.Convert(k, v)
		if err != nil {
			return rec, usageErr("%v", err)
		}
		if s, ok := val.(string); ok {
			val = parse.RedactAttr(k, s) // password=X: the key says it
		}
		rec.Set(k, val)
	}
	if status == "error" && rec.Err == "" {
		rec.Err = "error"
	}
	if status == "ok" && rec.Err != "" {
		status = "error"
	}
	if m := ev.Missing(rec); len(m) > 0 {
		return rec, usageErr("%s: missing required %s", name, strings.Join(quoteAll(m), ", "))
	}
	return rec, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%s=…", v)
	}
	return out
}
