package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gastown/gtrun/internal/event"
)

var claudeFixtures = []string{
	"testdata/transcripts/claude/spotter_v2.1.38_short_one-msgid-5-lines.jsonl",
	"testdata/transcripts/claude/ccl_v2.0.55_a7da6a22_main.jsonl",
	"testdata/transcripts/claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl",
}

const codexFixture = "testdata/transcripts/codex/codemie_cli0.77.0_dup-token-count_rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"

// feed runs a whole file through a parser, as agent-log --once does.
func feed(t testing.TB, p Transcript, path string) (recs []event.Record, bad int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		r, err := p.Line(sc.Bytes())
		if err != nil {
			bad++
			continue
		}
		recs = append(recs, r...)
	}
	return append(recs, p.Flush()...), bad
}

type totals struct{ input, output, cacheRead, cacheCreation, reasoning int64 }

func sumUsage(recs []event.Record) (tt totals, n int) {
	for _, r := range recs {
		if r.Name != "agent.usage" {
			continue
		}
		n++
		i := func(k string) int64 { v, _ := r.Get(k).(int64); return v }
		tt.input += i("input_tokens")
		tt.output += i("output_tokens")
		tt.cacheRead += i("cache_read_tokens")
		tt.cacheCreation += i("cache_creation_tokens")
		tt.reasoning += i("reasoning_output_tokens")
	}
	return tt, n
}

// The acceptance numbers: deduplicated totals of the real transcripts.
func TestClaudeFixtureTotalsExact(t *testing.T) {
	var all []event.Record
	for _, f := range claudeFixtures {
		recs, bad := feed(t, NewClaude(TranscriptOptions{Session: "s"}), f)
		if bad != 0 {
			t.Fatalf("%s: %d malformed lines", f, bad)
		}
		all = append(all, recs...)
	}
	got, _ := sumUsage(all)
	want := totals{input: 3122, output: 32283, cacheRead: 8641043, cacheCreation: 230525}
	if got != want {
		t.Fatalf("claude totals %+v, want %+v", got, want)
	}
	// The bug to beat: counting usage once per JSONL line.
	naive := naiveClaudeSum(t)
	t.Logf("deduplicated: %+v", got)
	t.Logf("per-line sum: %+v (input ×%.1f, cache_creation ×%.1f, cache_read ×%.1f, output ×%.2f)", naive,
		float64(naive.input)/float64(got.input), float64(naive.cacheCreation)/float64(got.cacheCreation),
		float64(naive.cacheRead)/float64(got.cacheRead), float64(naive.output)/float64(got.output))
	if naive.input <= 2*got.input || naive.cacheRead <= got.cacheRead || naive.cacheCreation <= 2*got.cacheCreation {
		t.Fatalf("per-line sum %+v should far exceed the deduplicated one", naive)
	}
}

func naiveClaudeSum(t *testing.T) (tt totals) {
	for _, f := range claudeFixtures {
		data, _ := os.ReadFile(f)
		for _, l := range bytes.Split(data, []byte("\n")) {
			var cl claudeLine
			if json.Unmarshal(l, &cl) != nil || cl.Type != "assistant" || cl.Message == nil || cl.Message.Usage == nil {
				continue
			}
			u := cl.Message.Usage
			tt.input += u.Input
			tt.output += u.Output
			tt.cacheRead += u.CacheRead
			tt.cacheCreation += u.CacheCreation
		}
	}
	return tt
}

func TestCodexFixtureTotalsExact(t *testing.T) {
	recs, bad := feed(t, NewCodex(TranscriptOptions{Session: "s"}), codexFixture)
	if bad != 0 {
		t.Fatalf("%d malformed lines", bad)
	}
	got, n := sumUsage(recs)
	// 22,474 input of which 14,848 cached; 300 output of which 128 reasoning.
	want := totals{input: 22474 - 14848, cacheRead: 14848, output: 300, reasoning: 128}
	if got != want {
		t.Fatalf("codex totals %+v, want %+v", got, want)
	}
	if n != 3 {
		t.Fatalf("%d usage records; the 6 token_count events hold 3 distinct totals (one null, two repeats)", n)
	}
	for _, r := range recs {
		if r.Name == "agent.usage" && (r.GetString("native_session_id") != "019b7f94-51b4-7593-922e-ba12b5b73b52" || r.GetString("model") != "gpt-5-1-codex-2025-11-13") {
			t.Fatalf("usage context: %+v", r)
		}
	}
}

func TestSpotterOneResponseFiveLines(t *testing.T) {
	recs, _ := feed(t, NewClaude(TranscriptOptions{Session: "s"}), claudeFixtures[0])
	_, n := sumUsage(recs)
	if n != 1 {
		t.Fatalf("%d usage records for one API response", n)
	}
	kinds := map[string]int{}
	for _, r := range recs {
		if r.Name == "agent.event" {
			kinds[r.GetString("event_type")]++
		}
	}
	if kinds["text"] != 2 || kinds["thinking"] != 1 || kinds["tool_use"] != 2 {
		t.Fatalf("event types %v", kinds)
	}
}

func line(s string) []byte { return []byte(strings.ReplaceAll(s, "'", `"`)) }

func TestClaudeLines(t *testing.T) {
	asst := func(id, req string, out int, content string) string {
		r := ""
		if req != "" {
			r = `,'requestId':'` + req + `'`
		}
		return `{'type':'assistant','timestamp':'2025-01-02T03:04:05.5Z','sessionId':'S1'` + r + `,'message':{'id':'` + id +
			`','model':'m1','role':'assistant','content':` + content + `,'usage':{'input_tokens':10,'output_tokens':` +
			itoa(out) + `,'cache_read_input_tokens':100,'cache_creation_input_tokens':5}}}`
	}
	cases := []struct {
		name      string
		lines     []string
		events    []string // event_type:content
		usage     int
		out       int64
		malformed int
	}{
		{"string user prompt", []string{`{'type':'user','sessionId':'S1','message':{'role':'user','content':'hello there'}}`}, []string{"user:hello there"}, 0, 0, 0},
		{"array user prompt", []string{`{'type':'user','message':{'role':'user','content':[{'type':'text','text':'hi'}]}}`}, []string{"user:hi"}, 0, 0, 0},
		{"tool_result string", []string{`{'type':'user','message':{'role':'user','content':[{'type':'tool_result','tool_use_id':'t1','content':'ok done'}]}}`}, []string{"tool_result:ok done"}, 0, 0, 0},
		{"tool_result array", []string{`{'type':'user','message':{'role':'user','content':[{'type':'tool_result','tool_use_id':'t1','content':[{'type':'text','text':'a'},{'type':'text','text':'b'}]}]}}`}, []string{"tool_result:a\nb"}, 0, 0, 0},
		{"meta user skipped", []string{`{'type':'user','isMeta':true,'message':{'role':'user','content':'caveat'}}`}, nil, 0, 0, 0},
		{"no content types", []string{`{'type':'summary','summary':'x'}`, `{'type':'system','content':'x'}`, `{'type':'file-history-snapshot'}`, `{'type':'progress'}`, `{'type':'queue-operation'}`, `{'type':'permission-mode'}`, `{'type':'brand-new-kind','message':{'content':'x'}}`}, nil, 0, 0, 0},
		{"malformed", []string{`{not json`, ``, `[1,2]`}, nil, 0, 0, 3},
		{"partial output grows", []string{asst("m1", "r1", 3, `[{'type':'text','text':'a'}]`), asst("m1", "r1", 40, `[{'type':'tool_use','name':'Bash','input':{'command':'ls'}}]`)}, []string{"text:a", `tool_use:Bash {"command":"ls"}`}, 1, 40, 0},
		{"two responses", []string{asst("m1", "r1", 3, `[]`), asst("m2", "r2", 7, `[]`)}, nil, 2, 10, 0},
		{"no requestId (Bedrock)", []string{asst("m1", "", 3, `[]`), asst("m1", "", 9, `[]`)}, nil, 1, 9, 0},
		{"key reappears later", []string{asst("m1", "r1", 3, `[]`), asst("m2", "r2", 4, `[]`), asst("m1", "r1", 3, `[]`)}, nil, 2, 7, 0},
		{"thinking", []string{asst("m1", "r1", 1, `[{'type':'thinking','thinking':'hmm'}]`)}, []string{"thinking:hmm"}, 1, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewClaude(TranscriptOptions{Session: "sess", Role: "polecat"})
			var recs []event.Record
			bad := 0
			for _, l := range c.lines {
				r, err := p.Line(line(l))
				if err != nil {
					bad++
				}
				recs = append(recs, r...)
			}
			recs = append(recs, p.Flush()...)
			var evs []string
			for _, r := range recs {
				if r.Name == "agent.event" {
					evs = append(evs, r.GetString("event_type")+":"+r.GetString("content"))
					if r.GetString("session") != "sess" || r.GetString("role") != "polecat" || r.GetString("agent_type") != "claudecode" {
						t.Errorf("context: %+v", r)
					}
				}
			}
			if strings.Join(evs, "|") != strings.Join(c.events, "|") {
				t.Errorf("events %q want %q", evs, c.events)
			}
			tt, n := sumUsage(recs)
			if n != c.usage || tt.output != c.out {
				t.Errorf("usage records %d output %d, want %d/%d", n, tt.output, c.usage, c.out)
			}
			if bad != c.malformed {
				t.Errorf("malformed %d want %d", bad, c.malformed)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestContentCutOnRunes(t *testing.T) {
	p := NewClaude(TranscriptOptions{ContentLimit: 3})
	recs, _ := p.Line([]byte(`{"type":"user","message":{"role":"user","content":"héllo wörld"}}`))
	if got := recs[0].GetString("content"); got != "hél…" {
		t.Fatalf("%q", got)
	}
}

func TestCodexRepeatedAndNullTotals(t *testing.T) {
	p := NewCodex(TranscriptOptions{})
	tc := func(in, cached, out int) string {
		return `{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":` + itoa(in) +
			`,"cached_input_tokens":` + itoa(cached) + `,"output_tokens":` + itoa(out) + `,"total_tokens":` + itoa(in+out) + `}}}}`
	}
	var recs []event.Record
	for _, l := range []string{`{"type":"event_msg","payload":{"type":"token_count","info":null}}`, tc(100, 0, 10), tc(100, 0, 10), tc(250, 80, 30), tc(250, 80, 30)} {
		r, err := p.Line([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
	}
	got, n := sumUsage(recs)
	if n != 2 || got != (totals{input: 170, cacheRead: 80, output: 30}) {
		t.Fatalf("%d records %+v", n, got)
	}
}

func BenchmarkClaudeParse(b *testing.B) {
	var data []byte
	for _, f := range claudeFixtures {
		d, _ := os.ReadFile(f)
		data = append(data, d...)
	}
	lines := bytes.Split(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := NewClaude(TranscriptOptions{})
		for _, l := range lines {
			p.Line(l)
		}
		p.Flush()
	}
}

func TestFixtureLicencesTravel(t *testing.T) {
	for _, f := range []string{"SOURCES.md", "LICENSES/marot-spotter.MIT.txt", "LICENSES/daaain-claude-code-log.MIT.txt", "LICENSES/codemie-ai-codemie-code.Apache-2.0.txt"} {
		if _, err := os.Stat(filepath.Join("testdata/transcripts", f)); err != nil {
			t.Errorf("fixture licence file missing: %v", err)
		}
	}
}

// A restarted parser (state saved and restored between two halves of a
// file) gives exactly the totals of one pass, at every split point.
func TestStateRestoreSplitAnywhere(t *testing.T) {
	for _, c := range []struct {
		path string
		mk   func() Transcript
	}{
		{claudeFixtures[1], func() Transcript { return NewClaude(TranscriptOptions{}) }},
		{codexFixture, func() Transcript { return NewCodex(TranscriptOptions{}) }},
	} {
		data, _ := os.ReadFile(c.path)
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		run := func(ls [][]byte, p Transcript, flush bool) (out []event.Record) {
			for _, l := range ls {
				r, _ := p.Line(l)
				out = append(out, r...)
			}
			if flush {
				out = append(out, p.Flush()...)
			}
			return out
		}
		whole, _ := sumUsage(run(lines, c.mk(), true))
		for cut := 1; cut < len(lines); cut += 7 {
			p1 := c.mk()
			first := run(lines[:cut], p1, false)
			p2 := c.mk()
			if err := p2.(Stateful).Restore(p1.(Stateful).State()); err != nil {
				t.Fatal(err)
			}
			got, _ := sumUsage(append(first, run(lines[cut:], p2, true)...))
			if got != whole {
				t.Fatalf("%s cut at %d: %+v, want %+v", filepath.Base(c.path), cut, got, whole)
			}
		}
	}
}
