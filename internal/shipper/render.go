package shipper

import (
	"fmt"
	"io"
	"time"

	"github.com/gastown/gtrun/internal/termsafe"
)

// RenderStatus writes the status for a terminal.
func RenderStatus(w io.Writer, st Status, now time.Time) {
	if st.Running {
		fmt.Fprintf(w, "gtrun-shipper: running (pid %d", st.PID)
		if !st.Started.IsZero() {
			fmt.Fprintf(w, ", up %s", now.Sub(st.Started).Round(time.Second))
		}
		fmt.Fprintln(w, ")")
	} else {
		fmt.Fprintln(w, "gtrun-shipper: not running")
	}
	fmt.Fprintf(w, "journal: %s in %d segment(s)", bytesText(st.JournalBytes), st.Segments)
	if st.Torn > 0 {
		fmt.Fprintf(w, ", %d torn frame(s) skipped", st.Torn)
	}
	fmt.Fprintln(w)
	if len(st.Endpoints) == 0 {
		fmt.Fprintln(w, "no endpoints yet")
		return
	}
	for _, e := range st.Endpoints {
		fmt.Fprintf(w, "%-7s %s\n", e.Kind, e.URL)
		fmt.Fprintf(w, "        backlog: %d record(s), %s\n", e.BacklogRecords, bytesText(e.BacklogBytes))
		fmt.Fprintf(w, "        last delivery: %s\n", ago(e.LastOK, now))
		if e.LastErr != "" {
			fmt.Fprintf(w, "        last error: %s (%s)\n", termsafe.String(e.LastErr), ago(e.LastErrAt, now)) // a backend's body: no escape reaches the terminal
		}
		if e.Dropped > 0 {
			fmt.Fprintf(w, "        dropped: %d\n", e.Dropped)
		}
	}
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.Local().Format("2006-01-02 15:04:05"), now.Sub(t).Round(time.Second))
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
