package runview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// stats rows as VictoriaLogs returns them for `gtrun cost --by bead`
// (sum() of no value is NaN, uniq_values is a JSON array).
var beadStats = []map[string]string{
	{"gt.work_bead": "gt-ehp", "responses": "109", "input": "3119", "output": "32270", "cache_read": "8629528", "cache_write": "216690",
		"priced": "109", "cost": "6.213974", "unpriced": "0", "unpriced_models": "[]", "calls": "12", "errors": "1",
		"first": "2026-11-25T10:00:00Z", "last": "2026-11-25T10:42:13.5Z"},
	{"gt.work_bead": "gt-9xq-with-a-rather-long-bead-identifier", "responses": "1", "input": "3", "output": "13", "cache_read": "11515", "cache_write": "13835",
		"priced": "1", "cost": "0.1446", "unpriced": "0", "unpriced_models": "[]", "calls": "3", "errors": "0",
		"first": "2026-11-25T11:00:00Z", "last": "2026-11-25T11:00:05.25Z"},
	{"gt.work_bead": "gt-cdx", "responses": "4", "input": "7700", "output": "310", "cache_read": "14848", "cache_write": "NaN",
		"priced": "3", "cost": "0.0132", "unpriced": "1", "unpriced_models": `["o4-mini"]`, "calls": "0", "errors": "0",
		"first": "2026-11-25T12:00:00Z", "last": "2026-11-25T12:03:00Z"},
	{"gt.work_bead": "gt-new", "responses": "2", "input": "10", "output": "5", "cache_read": "NaN", "cache_write": "NaN",
		"priced": "0", "cost": "NaN", "unpriced": "2", "unpriced_models": `["mystery-model"]`, "calls": "1", "errors": "1",
		"first": "2026-11-25T13:00:00Z", "last": "2026-11-25T13:00:01Z"},
	{"responses": "0", "input": "NaN", "output": "NaN", "cache_read": "NaN", "cache_write": "NaN",
		"priced": "0", "cost": "NaN", "unpriced": "0", "unpriced_models": "[]", "calls": "5", "errors": "2",
		"first": "2026-11-25T09:00:00Z", "last": "2026-11-25T09:30:00Z"},
}

var totalStats = map[string]string{"responses": "116", "input": "10832", "output": "32598", "cache_read": "8655891", "cache_write": "230525",
	"priced": "113", "cost": "6.371774", "unpriced": "3", "unpriced_models": `["mystery-model","o4-mini"]`, "calls": "21", "errors": "4",
	"first": "2026-11-25T09:00:00Z", "last": "2026-11-25T13:00:01Z"}

func beadReport() CostReport {
	rep := CostReport{By: "bead", Since: "24h", Total: CostRowFromStats(totalStats, "")}
	for _, r := range beadStats {
		rep.Rows = append(rep.Rows, CostRowFromStats(r, "gt.work_bead"))
	}
	SortCostRows(rep.Rows)
	return rep
}

func TestCostGolden(t *testing.T) {
	reps := map[string]CostReport{"bead": beadReport()}
	model := CostReport{By: "model", Since: "1h30m", Run: "run-1", Total: CostRowFromStats(totalStats, "")}
	for _, r := range beadStats[:3] {
		m := map[string]string{}
		for k, v := range r {
			m[k] = v
		}
		m["model"] = strings.TrimPrefix(r["gt.work_bead"], "gt-") + "-model"
		model.Rows = append(model.Rows, CostRowFromStats(m, "model"))
	}
	reps["model"] = model
	for name, rep := range reps {
		for _, width := range []int{80, 200} {
			for _, color := range []bool{false, true} {
				if color && width != 80 {
					continue
				}
				file := fmt.Sprintf("cost-%s-%d.golden", name, width)
				if color {
					file = fmt.Sprintf("cost-%s-%d-color.golden", name, width)
				}
				var b bytes.Buffer
				RenderCost(&b, rep, Options{Width: width, Color: color})
				path := filepath.Join("testdata", file)
				if *update {
					os.WriteFile(path, b.Bytes(), 0o644)
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs:\n%s\nwant:\n%s", file, b.String(), want)
				}
				if color {
					continue
				}
				out := b.String()
				for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					if n := utf8.RuneCountInString(l); n > width {
						t.Errorf("%s: line of %d runes > %d: %q", file, n, width, l)
					}
				}
				// An unknown price is never a $0.00 cost, and the note names the models.
				if strings.Contains(out, "$0.00") || !strings.Contains(out, `"mystery-model", "o4-mini"`) {
					t.Errorf("%s: unknown prices:\n%s", file, out)
				}
			}
		}
	}
}

func TestCostRows(t *testing.T) {
	rep := beadReport()
	keys := []string{}
	for _, r := range rep.Rows {
		keys = append(keys, r.Key)
	}
	// By cost, unknown costs last (then by tokens).
	if strings.Join(keys, ",") != "gt-ehp,gt-9xq-with-a-rather-long-bead-identifier,gt-cdx,gt-new," {
		t.Fatalf("order %q", keys)
	}
	by := map[string]CostRow{}
	for _, r := range rep.Rows {
		by[r.Key] = r
	}
	if c := by["gt-new"]; c.CostUSD != nil || c.Unpriced != 2 || c.UnpricedModels[0] != "mystery-model" {
		t.Fatalf("unpriced row %+v", c)
	}
	if c := by["gt-cdx"]; c.CostUSD == nil || *c.CostUSD != 0.0132 || c.CacheWrite != 0 || costCell(c.CostUSD, c.Unpriced, c.Responses) != "$0.0132+?" {
		t.Fatalf("partly priced row %+v", c)
	}
	if c := by[""]; c.CostUSD != nil || c.Calls != 5 || costCell(c.CostUSD, c.Unpriced, c.Responses) != "—" {
		t.Fatalf("calls-only row %+v", c)
	}
	if w := by["gt-ehp"].Wall().String(); w != "42m13.5s" {
		t.Fatal(w)
	}
	for d, want := range map[time.Duration]string{1500 * time.Millisecond: "1.50s", 50 * time.Hour: "2d2h", 8819 * time.Hour: "367d11h"} {
		if got := wallDur(d); got != want {
			t.Errorf("wallDur(%v) = %q want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{0: "$0", 6.2139: "$6.21", 0.09264: "$0.0926", 0.00004: "<$0.0001", 123.456: "$123.46"} {
		if got := FormatUSD(v); got != want {
			t.Errorf("FormatUSD(%v) = %q want %q", v, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 9999: "9999", 31430: "31.4k", 8641043: "8.64M", 1_000_000: "1M", 2_500_000_000: "2.5G"} {
		if got := compact(n); got != want {
			t.Errorf("compact(%d) = %q want %q", n, got, want)
		}
	}
}

func TestCostJSONRoundTrip(t *testing.T) {
	rep := beadReport()
	var b bytes.Buffer
	if err := RenderJSONValue(&b, rep); err != nil {
		t.Fatal(err)
	}
	var back CostReport
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, back) {
		t.Fatalf("round trip:\n%+v\n%+v", rep, back)
	}
	// An unknown cost is null, never 0.
	if !strings.Contains(b.String(), `"cost_usd": null`) {
		t.Fatalf("%s", b.String())
	}
}

// The trace footer and `gtrun runs` show cost next to tokens; unpriced
// models are named, never priced 0.
func TestTraceAndRunsCost(t *testing.T) {
	recs := append([]map[string]string{}, sets["session"]...)
	recs[3] = copyRec(recs[3], "cost_usd", "0.0926", "model", "claude-opus-4-6")
	recs = append(recs, rec("04.000", "agent.usage", "session", "gt-gastown-Toast", "agent_type", "claudecode", "input_tokens", "5",
		"output_tokens", "7", "model", "o4-mini", "cost_unknown_model", "o4-mini", "gt.work_bead", "gt-ehp"))
	for _, width := range []int{80, 200} {
		var b bytes.Buffer
		Render(&b, Build(run1, recs), Options{Width: width})
		file := fmt.Sprintf("priced-%d.golden", width)
		path := filepath.Join("testdata", file)
		if *update {
			os.WriteFile(path, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs:\n%s\nwant:\n%s", file, b.String(), want)
		}
		if !strings.Contains(b.String(), "cost claudecode $0.0926+? · bead gt-ehp $0.0926+?") || !strings.Contains(b.String(), `"o4-mini"`) {
			t.Errorf("footer:\n%s", b.String())
		}
	}
	sums := Summaries(recs)
	var b bytes.Buffer
	RenderRuns(&b, sums, Options{Width: 160})
	if !strings.Contains(b.String(), "COST") || !strings.Contains(b.String(), "$0.0926+?") {
		t.Fatalf("runs:\n%s", b.String())
	}
}

func copyRec(r map[string]string, kv ...string) map[string]string {
	c := map[string]string{}
	for k, v := range r {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i]] = kv[i+1]
	}
	return c
}
