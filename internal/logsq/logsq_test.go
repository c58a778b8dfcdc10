package logsq

import (
	"strings"
	"testing"
	"time"
)

func TestCostQuery(t *testing.T) {
	now := time.Unix(1796218236, 0)
	g, tot, field, err := CostQuery("bead", 24*time.Hour, "", now)
	if err != nil || field != "gt.work_bead" {
		t.Fatal(err, field)
	}
	// By event time or, for a late record, by when it was recorded.
	since := `_time:86400s NOT {gtrun.late="true"} ("run.id":*) | union ({gtrun.late="true"} recorded_unix:>=1796131836 ("run.id":*))`
	if !strings.HasPrefix(g, since+` | stats by ("gt.work_bead") `) || !strings.HasPrefix(tot, since+` | stats `) {
		t.Fatalf("%s\n%s", g, tot)
	}
	// The groups and the total are the same stats: the rows add up.
	if g[strings.Index(g, `"gt.work_bead") `)+16:] != tot[strings.Index(tot, "stats ")+6:] {
		t.Fatalf("different stats:\n%s\n%s", g, tot)
	}
	g, _, _, _ = CostQuery("role", 0, "r-1", now)
	if !strings.HasPrefix(g, `"run.id":* AND "run.id":="r-1" | format if (role:="") "<gt.role>" as role | stats by ("role") `) {
		t.Fatal(g)
	}
	if _, _, _, err := CostQuery("planet", time.Hour, "", now); err == nil || !strings.Contains(err.Error(), "run, bead, role") {
		t.Fatal(err)
	}
}
