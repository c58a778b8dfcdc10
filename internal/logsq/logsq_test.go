package logsq

import (
	"strings"
	"testing"
	"time"
)

func TestCostQuery(t *testing.T) {
	g, tot, field, err := CostQuery("bead", 24*time.Hour, "")
	if err != nil || field != "gt.work_bead" {
		t.Fatal(err, field)
	}
	if !strings.HasPrefix(g, `_time:86400s "run.id":* | stats by ("gt.work_bead") `) || !strings.HasPrefix(tot, `_time:86400s "run.id":* | stats `) {
		t.Fatalf("%s\n%s", g, tot)
	}
	// The groups and the total are the same stats: the rows add up.
	if g[strings.Index(g, ") ")+2:] != tot[strings.Index(tot, "stats ")+6:] {
		t.Fatalf("different stats:\n%s\n%s", g, tot)
	}
	g, _, _, _ = CostQuery("role", 0, "r-1")
	if !strings.HasPrefix(g, `"run.id":* AND "run.id":="r-1" | format if (role:="") "<gt.role>" as role | stats by ("role") `) {
		t.Fatal(g)
	}
	if _, _, _, err := CostQuery("planet", time.Hour, ""); err == nil || !strings.Contains(err.Error(), "run, bead, role") {
		t.Fatal(err)
	}
}
