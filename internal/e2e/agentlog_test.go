package e2e

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

const fixtures = "../parse/testdata/transcripts"

// claudeLayout lays the real transcripts out as Claude Code does, over two
// config roots, and returns CLAUDE_CONFIG_DIR.
func claudeLayout(t *testing.T, half bool) (string, string) {
	t.Helper()
	root1, root2 := t.TempDir(), t.TempDir()
	deep := filepath.Join(root1, "projects", "-src-deep-manifest")
	spot := filepath.Join(root2, "projects", "-home-marco-projects-spotter")
	os.MkdirAll(deep, 0o700)
	os.MkdirAll(spot, 0o700)
	cp := func(src, dst string) {
		b, err := os.ReadFile(filepath.Join(fixtures, src))
		if err != nil {
			t.Fatal(err)
		}
		if half {
			b = b[:len(b)/2] // cut mid-line: the rest arrives later
		}
		os.WriteFile(dst, b, 0o600)
		if !half {
			settle(dst)
		}
	}
	cp("claude/ccl_v2.0.55_a7da6a22_main.jsonl", filepath.Join(deep, "a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl"))
	cp("claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl", filepath.Join(deep, "agent-c8d9b115.jsonl"))
	cp("claude/spotter_v2.1.38_short_one-msgid-5-lines.jsonl", filepath.Join(spot, "55604662-cf2a-4331-851a-ec234028f8ca.jsonl"))
	return root1 + "," + root2, deep
}

// settle dates a transcript back: the agent finished writing it.
func settle(path string) {
	past := time.Now().Add(-time.Minute)
	os.Chtimes(path, past, past)
}

type usageSums struct{ input, output, cacheRead, cacheCreation, reasoning, records int }

func vlUsage(t *testing.T, vl *backendtest.VL, run string) usageSums {
	t.Helper()
	vl.Flush(t)
	recs := vl.Query(t, `_msg:"agent.usage" AND "run.id":="`+run+`" | stats count() records, sum(input_tokens) input, sum(output_tokens) output, sum(cache_read_tokens) cr, sum(cache_creation_tokens) cc, sum(reasoning_output_tokens) rs`)
	if len(recs) != 1 {
		t.Fatalf("stats: %v", recs)
	}
	n := func(k string) int {
		v, err := strconv.ParseFloat(recs[0][k], 64)
		if err != nil || math.IsNaN(v) {
			return 0 // sum() of a field no record has
		}
		return int(v)
	}
	return usageSums{n("input"), n("output"), n("cr"), n("cc"), n("rs"), n("records")}
}

// flushed waits until the delivery agent has delivered everything e's
// calls journaled (agent-log returns once its records are in the journal).
func flushed(t *testing.T, e *env) {
	t.Helper()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
}

func agentLog(t *testing.T, e *env, workDir string, extra ...string) {
	t.Helper()
	r := e.run("", append([]string{"agent-log", "--session", "gt-gastown-Toast", "--work-dir", workDir, "--once"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("agent-log: %+v", r)
	}
}

// Issue 7: the summed agent.usage in real VictoriaLogs equals the
// deduplicated totals of the real transcripts, and re-runs add nothing.
func TestAgentLogClaudeTotalsExact(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	roots, _ := claudeLayout(t, false)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_RUN", "run-claude",
		"CLAUDE_CONFIG_DIR", roots, "GT_ROLE", "polecat")
	for i := 0; i < 2; i++ { // the second pass must add nothing
		agentLog(t, e, "/src/deep-manifest")
		agentLog(t, e, "/home/marco/projects/spotter")
	}
	want := usageSums{input: 3122, output: 32283, cacheRead: 8641043, cacheCreation: 230525}
	deadline := time.Now().Add(20 * time.Second)
	var got usageSums
	for time.Now().Before(deadline) {
		got = vlUsage(t, vl, "run-claude")
		got.records = 0
		if got == want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("VictoriaLogs sums %+v, want %+v", got, want)
	}
	// Events: subagent lines are marked, content types all present.
	sub := vl.Query(t, `_msg:"agent.event" AND "run.id":="run-claude" AND subagent:=true | count() n`)
	if len(sub) != 1 || sub[0]["n"] == "0" {
		t.Fatalf("no subagent events: %v", sub)
	}
	for _, kind := range []string{"text", "tool_use", "tool_result", "thinking", "user"} {
		r := vl.Query(t, `_msg:"agent.event" AND "run.id":="run-claude" AND event_type:=`+kind+` | count() n`)
		if len(r) != 1 || r[0]["n"] == "0" {
			t.Errorf("no %s events", kind)
		}
	}
	vm.WaitValue(t, `sum(increase(gastown.agent.tokens.total{type="cache_read"}[100y]))`, 8641043, 20*time.Second)
	// The 1-hour share of the cache writes (the spotter session's are all
	// 1-hour writes), and every response priced.
	cc := vl.Query(t, `_msg:"agent.usage" AND "run.id":="run-claude" | stats sum(cache_creation_1h_tokens) h1, count(cost_usd) priced, count() n`)
	if len(cc) != 1 || cc[0]["h1"] != "13835" || cc[0]["priced"] != cc[0]["n"] {
		t.Fatalf("1h cache writes / priced: %v", cc)
	}
}

// writeRest writes the main transcript and its subagent's into deep, the
// second half of a claudeLayout(t, true) session (its agent goes on).
func writeRest(deep string) {
	for _, p := range [][2]string{
		{"claude/ccl_v2.0.55_a7da6a22_main.jsonl", "a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl"},
		{"claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl", "agent-c8d9b115.jsonl"},
	} {
		b, _ := os.ReadFile(filepath.Join(fixtures, p[0]))
		os.WriteFile(filepath.Join(deep, p[1]), b, 0o600)
		settle(filepath.Join(deep, p[1]))
	}
}

func TestAgentLogWrittenInTwoHalves(t *testing.T) {
	vl := backendtest.StartVL(t)
	roots, deep := claudeLayout(t, true)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-halves", "CLAUDE_CONFIG_DIR", roots)
	agentLog(t, e, "/src/deep-manifest")
	// The agent writes the rest.
	writeRest(deep)
	agentLog(t, e, "/src/deep-manifest")
	agentLog(t, e, "/src/deep-manifest")
	flushed(t, e)
	got := vlUsage(t, vl, "run-halves")
	if got.records == 0 {
		t.Fatalf("no usage: %+v", got)
	}
	// Compare with a one-pass read of the same files into another run.
	e2 := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-whole", "CLAUDE_CONFIG_DIR", roots)
	agentLog(t, e2, "/src/deep-manifest")
	flushed(t, e2)
	whole := vlUsage(t, vl, "run-whole")
	if got != whole {
		t.Fatalf("two halves %+v != one pass %+v", got, whole)
	}
}

func TestAgentLogCodexExact(t *testing.T) {
	vl := backendtest.StartVL(t)
	home := t.TempDir()
	day := filepath.Join(home, "sessions", "2026", "01", "02")
	os.MkdirAll(day, 0o700)
	name := "rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"
	b, _ := os.ReadFile(filepath.Join(fixtures, "codex", "codemie_cli0.77.0_dup-token-count_"+name))
	os.WriteFile(filepath.Join(day, name), b, 0o600)
	settle(filepath.Join(day, name))
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-codex", "CODEX_HOME", home)
	for i := 0; i < 2; i++ {
		agentLog(t, e, "/Users/Nikita_Levyankov/repos/EPMCDME/codemie-ai/codemie-code", "--agent", "codex")
	}
	flushed(t, e)
	got := vlUsage(t, vl, "run-codex")
	want := usageSums{input: 22474 - 14848, cacheRead: 14848, output: 300, reasoning: 128, records: 3}
	if got != want {
		t.Fatalf("codex: %+v want %+v", got, want)
	}
}

func TestAgentLogGarbageAndSince(t *testing.T) {
	vl := backendtest.StartVL(t)
	root := t.TempDir()
	dir := filepath.Join(root, "projects", "-w")
	os.MkdirAll(dir, 0o700)
	old := filepath.Join(dir, "old.jsonl")
	os.WriteFile(old, []byte(`{"type":"user","message":{"role":"user","content":"old session"}}`+"\n"), 0o600)
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	cur := filepath.Join(dir, "cur.jsonl")
	os.WriteFile(cur, []byte("{garbage\n"+`{"type":"user","message":{"role":"user","content":"new session"}}`+"\nnot json either\n"), 0o600)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-since", "CLAUDE_CONFIG_DIR", root)
	r := e.run("", "agent-log", "--session", "s", "--work-dir", "/w", "--once", "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if r.code != 0 || !strings.Contains(r.stderr, "2 malformed lines skipped") {
		t.Fatalf("%+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"agent.event" AND "run.id":="run-since"`, 1, 20*time.Second)
	if recs[0]["content"] != "new session" {
		t.Fatalf("%v", recs)
	}
}
