package shipper

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/termsafe"
)

// RenderStatus writes the status for a terminal.
func RenderStatus(w io.Writer, st Status, now time.Time) {
	if st.Running {
		fmt.Fprintf(w, "delivery agent: running (pid %d", st.PID)
		if !st.Started.IsZero() {
			fmt.Fprintf(w, ", up %s", now.Sub(st.Started).Round(time.Second))
		}
		fmt.Fprintln(w, ")")
	} else {
		fmt.Fprintln(w, "delivery agent: not running")
	}
	fmt.Fprintf(w, "journal: %s in %d segment(s)", bytesText(st.JournalBytes), st.Segments)
	if st.Damaged > 0 {
		// Frames in an unreadable region cannot be counted: say so
		// rather than guess.
		fmt.Fprintf(w, "; damage skipped: %s in %d torn frame(s) and %d unreadable region(s) (frames in those lost, number unknown)",
			bytesText(st.Damaged), st.Torn, st.Garbled)
	}
	fmt.Fprintln(w)
	if len(st.Endpoints) == 0 {
		fmt.Fprintln(w, "no endpoints yet")
		return
	}
	for _, e := range st.Endpoints {
		fmt.Fprintf(w, "%-7s %s%s\n", e.Kind, e.URL, headersText(e))
		fmt.Fprintf(w, "        backlog: %d record(s), %s\n", e.BacklogRecords, bytesText(e.BacklogBytes))
		fmt.Fprintf(w, "        last delivery: %s\n", ago(e.LastOK, now))
		if e.LastErr != "" {
			fmt.Fprintf(w, "        last error: %s (%s)\n", termsafe.String(e.LastErr), ago(e.LastErrAt, now)) // a backend's body: no escape reaches the terminal
		}
		if e.Dropped > 0 {
			fmt.Fprintf(w, "        dropped: %d", e.Dropped)
			if e.DeadLettered > 0 {
				fmt.Fprintf(w, " (%d in the dead-letter file %s)", e.DeadLettered, st.DeadLetter)
			}
			fmt.Fprintln(w)
		}
		if e.Rejected > 0 {
			fmt.Fprintf(w, "        refused by the endpoint in partial successes: %d\n", e.Rejected)
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

// headersText names an endpoint's headers, so two endpoints of one URL
// are told apart.
func headersText(e EndpointRep) string {
	if len(e.Headers) == 0 {
		return ""
	}
	return fmt.Sprintf(" (headers %s, %s)", strings.Join(e.Headers, ", "), e.HeaderID)
}
