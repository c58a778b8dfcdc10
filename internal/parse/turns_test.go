package parse

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// feedTurns runs lines through a parser as agent-log does (turns taken
// after every line) and returns the records and turns.
func feedTurns(p Transcript, lines [][]byte, flush bool) (recs []event.Record, turns []Turn) {
	ts := p.(TurnSource)
	for _, l := range lines {
		r, _ := p.Line(l)
		recs = append(recs, r...)
		turns = append(turns, ts.Turns()...)
	}
	if flush {
		recs = append(recs, p.Flush()...)
		turns = append(turns, ts.Turns()...)
	}
	return recs, turns
}

func fileLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func count(turns []Turn, kind string) int {
	n := 0
	for _, t := range turns {
		if t.Kind == kind {
			n++
		}
	}
	return n
}

// The fixtures' turns: one response per distinct API response (the usage
// records), one tool call per tool_use answered by a tool_result, counted
// independently of the parser (see the numbers in the test's comments).
func TestFixtureTurnCounts(t *testing.T) {
	for _, c := range []struct {
		path                       string
		mk                         func() Transcript
		responses, tools, toolErrs int
	}{
		// 103 (message.id, requestId) pairs, 108 tool_use ids all answered, 4 is_error
		{claudeFixtures[1], func() Transcript { return NewClaude(TranscriptOptions{}) }, 103, 108, 4},
		// 6 responses, 15 tool calls, 1 is_error
		{claudeFixtures[2], func() Transcript { return NewClaude(TranscriptOptions{Subagent: true}) }, 6, 15, 1},
		{claudeFixtures[0], func() Transcript { return NewClaude(TranscriptOptions{}) }, 1, 2, 2},
		// 3 distinct totals, 3 function_call → function_call_output
		{codexFixture, func() Transcript { return NewCodex(TranscriptOptions{}) }, 3, 3, 0},
	} {
		recs, turns := feedTurns(c.mk(), fileLines(t, c.path), true)
		_, usages := sumUsage(recs)
		name := filepath.Base(c.path)
		if r := count(turns, "response"); r != c.responses || r != usages {
			t.Errorf("%s: %d response turns, %d usage records, want %d", name, r, usages, c.responses)
		}
		if n := count(turns, "tool"); n != c.tools {
			t.Errorf("%s: %d tool turns, want %d", name, n, c.tools)
		}
		errs, ids := 0, map[string]bool{}
		for _, tn := range turns {
			if tn.Err != "" {
				errs++
				if tn.Get("is_error") != true {
					t.Errorf("%s: %s failed but is_error is %v", name, tn.ID, tn.Get("is_error"))
				}
			}
			if ids[tn.ID] {
				t.Errorf("%s: turn %s twice", name, tn.ID)
			}
			ids[tn.ID] = true
			if tn.Start.IsZero() || tn.End.Before(tn.Start) {
				t.Errorf("%s: %s times %v → %v", name, tn.ID, tn.Start, tn.End)
			}
		}
		if errs != c.toolErrs {
			t.Errorf("%s: %d failed tool calls, want %d", name, errs, c.toolErrs)
		}
	}
}

// The subagent's turns nest under the Task call of the main transcript
// that ran it (linked by agentId on both sides); the main transcript's
// turns are the agent's own.
func TestSubagentTurnsNestUnderTask(t *testing.T) {
	_, main := feedTurns(NewClaude(TranscriptOptions{}), fileLines(t, claudeFixtures[1]), true)
	_, sub := feedTurns(NewClaude(TranscriptOptions{Subagent: true}), fileLines(t, claudeFixtures[2]), true)
	var task *Turn
	for i, tn := range main {
		if tn.Parent != "" {
			t.Errorf("main turn %s has parent %s", tn.ID, tn.Parent)
		}
		if tn.ID == "agent:c8d9b115" {
			task = &main[i]
		}
	}
	if task == nil || task.Name != "execute_tool Task" || task.Get("subagent_id") != "c8d9b115" {
		t.Fatalf("no Task call named by the subagent: %+v", task)
	}
	for _, tn := range sub {
		if tn.Parent != task.ID {
			t.Errorf("subagent turn %s nests under %q, want %q", tn.ID, tn.Parent, task.ID)
		}
		if tn.Get("subagent") != true {
			t.Errorf("subagent turn %s not marked", tn.ID)
		}
		// The subagent ran inside the Task call.
		if tn.Start.Before(task.Start) || tn.End.After(task.End) {
			t.Errorf("subagent turn %s %v–%v outside the Task call %v–%v", tn.ID, tn.Start, tn.End, task.Start, task.End)
		}
	}
	// Span ids: deterministic, distinct per trace, parent ids match.
	tr := [16]byte{1, 2, 3}
	if SpanID(tr, task.ID) != SpanID(tr, sub[0].Parent) || SpanID(tr, task.ID) == SpanID([16]byte{9}, task.ID) {
		t.Fatal("span ids")
	}
}

// A restarted parser (state saved and restored at any line) reports
// exactly the turns of one pass: none repeated, none lost, same times.
func TestTurnsRestoreSplitAnywhere(t *testing.T) {
	for _, c := range []struct {
		path string
		mk   func() Transcript
		step int
	}{
		{claudeFixtures[0], func() Transcript { return NewClaude(TranscriptOptions{}) }, 1},
		{claudeFixtures[1], func() Transcript { return NewClaude(TranscriptOptions{}) }, 7},
		{claudeFixtures[2], func() Transcript { return NewClaude(TranscriptOptions{Subagent: true}) }, 1},
		{codexFixture, func() Transcript { return NewCodex(TranscriptOptions{}) }, 1},
	} {
		lines := fileLines(t, c.path)
		_, whole := feedTurns(c.mk(), lines, true)
		want := turnDump(whole)
		for cut := 1; cut < len(lines); cut += c.step {
			p1 := c.mk()
			_, first := feedTurns(p1, lines[:cut], false)
			p2 := c.mk()
			if err := p2.(Stateful).Restore(p1.(Stateful).State()); err != nil {
				t.Fatal(err)
			}
			_, rest := feedTurns(p2, lines[cut:], true)
			if got := turnDump(append(first, rest...)); got != want {
				t.Fatalf("%s cut at %d:\n%s\nwant:\n%s", filepath.Base(c.path), cut, got, want)
			}
		}
	}
}

// turnDump is a sorted, complete text form of turns.
func turnDump(turns []Turn) string {
	var ls []string
	for _, tn := range turns {
		ls = append(ls, fmt.Sprintf("%s %s parent=%q %q %s→%s err=%q %v", tn.Kind, tn.ID, tn.Parent, tn.Name,
			tn.Start.Format(time.RFC3339Nano), tn.End.Format(time.RFC3339Nano), tn.Err, tn.Attrs))
	}
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}

// Golden turns of the short fixtures, in order: names, times, parents,
// attributes (run with -update to rewrite after a deliberate change).
func TestTurnsGolden(t *testing.T) {
	for name, c := range map[string]struct {
		path string
		p    Transcript
	}{
		"spotter": {claudeFixtures[0], NewClaude(TranscriptOptions{Session: "gt-s", Role: "polecat"})},
		"codex":   {codexFixture, NewCodex(TranscriptOptions{Session: "gt-s", Role: "polecat"})},
	} {
		_, turns := feedTurns(c.p, fileLines(t, c.path), true)
		var b strings.Builder
		for _, tn := range turns {
			fmt.Fprintf(&b, "%s %q id=%s parent=%q\n  %s → %s (%s)", tn.Kind, tn.Name, tn.ID, tn.Parent,
				tn.Start.UTC().Format(time.RFC3339Nano), tn.End.UTC().Format(time.RFC3339Nano), tn.End.Sub(tn.Start))
			if tn.Err != "" {
				fmt.Fprintf(&b, " err=%q", tn.Err)
			}
			b.WriteString("\n")
			for _, a := range tn.Attrs {
				fmt.Fprintf(&b, "  %s=%v\n", a.Key, a.Value)
			}
		}
		path := filepath.Join("testdata", "turns", name+".golden")
		if *updateGolden {
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(b.String()), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs:\n%s\nwant:\n%s", path, b.String(), want)
		}
	}
}

func TestTurnTimesAndErrors(t *testing.T) {
	p := NewClaude(TranscriptOptions{Session: "s"})
	lines := []string{
		`{'type':'user','timestamp':'2025-01-02T03:04:00Z','sessionId':'S','message':{'role':'user','content':'go'}}`,
		`{'type':'assistant','timestamp':'2025-01-02T03:04:02Z','sessionId':'S','requestId':'r1','message':{'id':'m1','model':'claude-sonnet-4-5','content':[{'type':'text','text':'ok'}],'usage':{'input_tokens':1,'output_tokens':1,'cache_creation_input_tokens':300,'cache_creation':{'ephemeral_5m_input_tokens':100,'ephemeral_1h_input_tokens':200}}}}`,
		`{'type':'assistant','timestamp':'2025-01-02T03:04:03Z','sessionId':'S','requestId':'r1','message':{'id':'m1','model':'claude-sonnet-4-5','content':[{'type':'tool_use','id':'tu1','name':'Bash','input':{}}],'usage':{'input_tokens':1,'output_tokens':9,'cache_creation_input_tokens':300,'cache_creation':{'ephemeral_5m_input_tokens':100,'ephemeral_1h_input_tokens':200}}}}`,
		`{'type':'user','timestamp':'2025-01-02T03:04:07Z','sessionId':'S','message':{'role':'user','content':[{'type':'tool_result','tool_use_id':'tu1','is_error':true,'content':'boom: password=hunter2\nmore'}]}}`,
		`{'type':'user','timestamp':'2025-01-02T03:04:08Z','sessionId':'S','message':{'role':'user','content':[{'type':'tool_result','tool_use_id':'tu1','content':'again'}]}}`,
		`{'type':'assistant','timestamp':'2025-01-02T03:04:10Z','sessionId':'S','requestId':'r2','message':{'id':'m2','model':'claude-sonnet-4-5','content':[],'usage':{'input_tokens':1,'output_tokens':1}}}`,
	}
	var bs [][]byte
	for _, l := range lines {
		bs = append(bs, line(l))
	}
	recs, turns := feedTurns(p, bs, true)
	at := func(s string) time.Time { return time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC).Add(parseDur(s)) }
	if len(turns) != 3 {
		t.Fatalf("turns: %s", turnDump(turns))
	}
	tool, r1, r2 := turns[0], turns[1], turns[2]
	if tool.Kind != "tool" || !tool.Start.Equal(at("3s")) || !tool.End.Equal(at("7s")) || tool.Get("gen_ai.tool.name") != "Bash" {
		t.Errorf("tool %s", turnDump(turns[:1]))
	}
	if !strings.HasPrefix(tool.Err, "tool error: boom:") || strings.Contains(tool.Err, "hunter2") || strings.Contains(tool.Err, "more") {
		t.Errorf("tool error %q", tool.Err)
	}
	// The response ran from its request (the prompt) to its last line; the
	// next from the tool result to its line.
	if r1.Kind != "response" || !r1.Start.Equal(at("0s")) || !r1.End.Equal(at("3s")) || r1.Get("output_tokens") != int64(9) || r1.Name != "chat claude-sonnet-4-5" {
		t.Errorf("response 1 %s", turnDump(turns[1:2]))
	}
	if !r2.Start.Equal(at("8s")) || !r2.End.Equal(at("10s")) {
		t.Errorf("response 2 %s", turnDump(turns[2:]))
	}
	// The 1-hour share of the cache writes.
	for _, r := range recs {
		if r.Name == "agent.usage" && r.GetString("model") != "" && r.Get("output_tokens") == int64(9) {
			if r.Get("cache_creation_tokens") != int64(300) || r.Get("cache_creation_1h_tokens") != int64(200) {
				t.Errorf("cache writes %+v", r.Attrs)
			}
		}
	}
}

func parseDur(s string) time.Duration { d, _ := time.ParseDuration(s); return d }

// A Codex shell call with a non-zero exit code is a failed tool call.
func TestCodexToolError(t *testing.T) {
	p := NewCodex(TranscriptOptions{})
	_, turns := feedTurns(p, [][]byte{
		[]byte(`{"timestamp":"2026-01-02T16:39:49.666Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{}","call_id":"c1"}}`),
		[]byte(`{"timestamp":"2026-01-02T16:39:50.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"{\"output\":\"no such file\\n\",\"metadata\":{\"exit_code\":2}}"}}`),
	}, true)
	if len(turns) != 1 || turns[0].Err != "tool error: no such file" || turns[0].Get("exit_code") != int64(2) {
		t.Fatalf("%s", turnDump(turns))
	}
}

func TestTurnAttrsStable(t *testing.T) {
	a := Turn{Attrs: []event.Attr{event.String("k", "v")}}
	a.Set("k", "w")
	a.Set("n", int64(1))
	if !reflect.DeepEqual(a.Attrs, []event.Attr{event.String("k", "w"), event.Int("n", 1)}) {
		t.Fatal(a.Attrs)
	}
}
