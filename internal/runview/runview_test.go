package runview

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

const run1 = "5b8efff7-9803-4103-9269-b633813fc60c"

func rec(t, msg string, kv ...string) map[string]string {
	m := map[string]string{"_time": "2026-11-25T10:00:" + t + "Z", "_msg": msg, "run.id": run1, "status": "ok", "service.name": "gtrun"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var sets = map[string][]map[string]string{
	"normal": {
		rec("00.250", "bd.call", "subcommand", "create", "args", "create Fix login", "duration_ms", "250", "exit_code", "0"),
		rec("00.250", "bead.create", "bead_id", "gt-ehp"),
		rec("01.000", "bd.call", "subcommand", "list", "args", "list", "duration_ms", "160", "exit_code", "0"),
		rec("01.500", "sling", "bead", "gt-ehp", "target", "gastown/polecats/Toast"),
		rec("02.000", "done", "exit_type", "COMPLETED"),
	},
	"failing": {
		rec("00.300", "bd.call", "subcommand", "close", "args", "close gt-nope", "duration_ms", "300", "exit_code", "1", "status", "error",
			"error", `Error: resolving ID gt-nope: no issue found matching "gt-nope"`),
		rec("01.000", "cmd.call", "command", "make", "args", "test", "duration_ms", "600", "exit_code", "2", "status", "error", "error", "exit status 2"),
	},
	"session": {
		rec("00.000", "session.start", "session_id", "gt-gastown-Toast", "role", "polecat", "gt.session", "gt-gastown-Toast"),
		rec("00.100", "agent.instantiate", "agent_type", "claudecode", "session_id", "gt-gastown-Toast", "gt.work_bead", "gt-ehp"),
		rec("01.000", "agent.event", "session", "gt-gastown-Toast", "event_type", "text", "content", "I'll examine the pending changes in your repository."),
		rec("02.000", "agent.usage", "session", "gt-gastown-Toast", "agent_type", "claudecode", "input_tokens", "3", "output_tokens", "449",
			"cache_read_tokens", "23806", "cache_creation_tokens", "3000", "gt.work_bead", "gt-ehp"),
		rec("03.000", "bd.call", "subcommand", "update", "args", "update gt-ehp --status in_progress", "duration_ms", "200", "exit_code", "0", "gt.session", "gt-gastown-Toast"),
		rec("05.000", "session.stop", "session_id", "gt-gastown-Toast", "duration_ms", "5000", "exit_code", "0"),
	},
}

func TestGolden(t *testing.T) {
	for name, recs := range sets {
		for _, width := range []int{80, 200} {
			for _, color := range []bool{false, true} {
				if color && width != 80 {
					continue
				}
				file := fmt.Sprintf("%s-%d.golden", name, width)
				if color {
					file = fmt.Sprintf("%s-%d-color.golden", name, width)
				}
				var b bytes.Buffer
				Render(&b, Build(run1, recs), Options{Width: width, Color: color})
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
				if !color {
					for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
						if n := utf8.RuneCountInString(l); n > width {
							t.Errorf("%s: line of %d runes > %d: %q", file, n, width, l)
						}
					}
				}
			}
		}
	}
}

func TestOrderAndTotals(t *testing.T) {
	r := Build(run1, sets["normal"])
	if r.Events[0].Name != "bd.call" || r.Calls != 2 || r.Errors != 0 {
		t.Fatalf("%+v", r)
	}
	if !r.Events[0].Start.Before(r.Events[1].Start) {
		t.Fatal("bd.call must start 250ms before its record")
	}
	f := Build(run1, sets["failing"])
	if f.Errors != 2 {
		t.Fatalf("errors %d", f.Errors)
	}
	s := Build(run1, sets["session"])
	if s.ByAgent["claudecode"].CacheRead != 23806 || s.ByBead["gt-ehp"].Output != 449 {
		t.Fatalf("tokens %+v %+v", s.ByAgent, s.ByBead)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := Build(run1, sets["session"])
	var b bytes.Buffer
	if err := RenderJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Run
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Events[0].Start.UnixNano(), back.Events[0].Start.UnixNano()) || len(back.Events) != len(r.Events) ||
		back.TraceID != r.TraceID || back.ByAgent["claudecode"] != r.ByAgent["claudecode"] || back.Events[3].Attrs["input_tokens"] != "3" {
		t.Fatalf("round trip:\n%+v\n%+v", r, back)
	}
}

func TestTraceID(t *testing.T) {
	if got := TraceID("5b8efff7-9803-4103-9269-b633813fc60c"); got != "5b8efff7980341039269b633813fc60c" {
		t.Fatal(got)
	}
	if got := TraceID("not-a-uuid"); len(got) != 32 || got == TraceID("other") {
		t.Fatal(got)
	}
}

func TestRuns(t *testing.T) {
	var all []map[string]string
	for _, s := range []string{"normal", "failing"} {
		for _, r := range sets[s] {
			c := map[string]string{}
			for k, v := range r {
				c[k] = v
			}
			c["run.id"] = s
			all = append(all, c)
		}
	}
	sums := Summaries(all)
	if len(sums) != 2 {
		t.Fatalf("%+v", sums)
	}
	var b bytes.Buffer
	RenderRuns(&b, sums, Options{Width: 120})
	out := b.String()
	if !strings.Contains(out, "normal") || !strings.Contains(out, "failing") || strings.Count(out, "\n") != 3 {
		t.Fatalf("%s", out)
	}
}

// A record's span link is not part of its description line (the trace is
// in the header); its other attributes are.
func TestDetailLeavesOutSpanLinks(t *testing.T) {
	e := Event{Name: "bead.create", Attrs: map[string]string{"bead_id": "gt-kio", "trace_id": "785fc24f978e42b38ee5a68720ab74a7", "span_id": "db9b204b36512e5f"}}
	if got := detail(e); got != "bead_id=gt-kio" {
		t.Fatalf("detail = %q", got)
	}
}
