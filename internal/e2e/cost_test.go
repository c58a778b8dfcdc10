package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/price"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/runview"
)

const costRun = "c0570000-1111-4222-8333-000000000001"

// mysteryTranscript is one Claude response of a model no table prices.
const mysteryTranscript = `{"type":"user","timestamp":"2026-11-25T10:00:00Z","sessionId":"m-1","message":{"role":"user","content":"hi"}}
{"type":"assistant","timestamp":"2026-11-25T10:00:02Z","sessionId":"m-1","requestId":"r1","message":{"id":"msg_m1","model":"mystery-model-1","role":"assistant","content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":11,"output_tokens":22,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}
`

// costLayout lays out four agents' transcripts (Claude main + subagent,
// Claude spotter, Codex, a Claude session of an unpriced model) and
// returns CLAUDE_CONFIG_DIR and CODEX_HOME.
func costLayout(t *testing.T) (claudeRoots, codexHome string) {
	t.Helper()
	roots, _ := claudeLayout(t, false)
	mys := filepath.Join(strings.Split(roots, ",")[0], "projects", "-w-mystery")
	os.MkdirAll(mys, 0o700)
	os.WriteFile(filepath.Join(mys, "m-1.jsonl"), []byte(mysteryTranscript), 0o600)
	settle(filepath.Join(mys, "m-1.jsonl"))
	codexHome = t.TempDir()
	day := filepath.Join(codexHome, "sessions", "2026", "01", "02")
	os.MkdirAll(day, 0o700)
	name := "rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"
	b, _ := os.ReadFile(filepath.Join(fixtures, "codex", "codemie_cli0.77.0_dup-token-count_"+name))
	os.WriteFile(filepath.Join(day, name), b, 0o600)
	settle(filepath.Join(day, name))
	return roots, codexHome
}

// expectedPico prices a transcript's usage independently of agent-log:
// the parser's records through the price table, in exact pico-dollars.
func expectedPico(t *testing.T, paths ...string) (pico int64, responses int) {
	t.Helper()
	for _, path := range paths {
		var p parse.Transcript = parse.NewClaude(parse.TranscriptOptions{})
		if strings.Contains(path, "codex") {
			p = parse.NewCodex(parse.TranscriptOptions{})
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var recs []event.Record
		for sc.Scan() {
			r, _ := p.Line(sc.Bytes())
			recs = append(recs, r...)
		}
		f.Close()
		for _, r := range append(recs, p.Flush()...) {
			if r.Name != "agent.usage" {
				continue
			}
			n := func(k string) int64 { v, _ := r.Get(k).(int64); return v }
			c, ok := price.Default().Pico(price.Usage{Model: r.GetString("model"), Input: n("input_tokens"), Output: n("output_tokens"),
				CacheRead: n("cache_read_tokens"), CacheWrite5m: n("cache_creation_tokens") - n("cache_creation_1h_tokens"),
				CacheWrite1h: n("cache_creation_1h_tokens")})
			if !ok {
				t.Fatalf("%s: %s has no price", path, r.GetString("model"))
			}
			pico += c
			responses++
		}
	}
	return pico, responses
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Issue "what a run cost": four agents under three priced beads and one
// unpriced, run twice (restart: nothing repeated). gtrun cost --by bead
// rows add up to the total, each bead's cost is the price table's, the
// counter equals the records' cost_usd, and the trace has one span per
// API response and per tool call, subagent turns under the Task call.
func TestCostByBeadAndTurnSpans(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	jg := backendtest.StartJaeger(t)
	roots, codexHome := costLayout(t)
	base := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL,
		"GT_RUN", costRun, "CLAUDE_CONFIG_DIR", roots, "CODEX_HOME", codexHome, "GT_ROLE", "polecat")
	agents := []struct{ bead, session, workDir, agent string }{
		{"gt-cost-a", "gt-a", "/src/deep-manifest", "claudecode"},
		{"gt-cost-b", "gt-b", "/home/marco/projects/spotter", "claudecode"},
		{"gt-cost-c", "gt-c", "/Users/Nikita_Levyankov/repos/EPMCDME/codemie-ai/codemie-code", "codex"},
		{"gt-cost-d", "gt-d", "/w/mystery", "claudecode"},
	}
	for pass := 0; pass < 2; pass++ { // the second pass must add nothing
		for _, a := range agents {
			base.set("GT_WORK_BEAD", a.bead)
			r := base.run("", "agent-log", "--session", a.session, "--work-dir", a.workDir, "--agent", a.agent, "--once")
			if r.code != 0 {
				t.Fatalf("agent-log %s: %+v", a.session, r)
			}
			warn := price.UnknownWarning("mystery-model-1")
			if want := a.bead == "gt-cost-d" && pass == 0; strings.Count(r.stderr, warn) != map[bool]int{true: 1}[want] {
				t.Fatalf("agent-log %s pass %d: stderr %q (want the unknown model named once on the first pass)", a.session, pass, r.stderr)
			}
		}
	}
	base.set("GT_WORK_BEAD", "gt-cost-a")
	base.run("", "bd", "create", "x")
	if r := base.run("", "bd", "close", "gt-nope"); r.code == 0 {
		t.Fatalf("bd close gt-nope should fail: %+v", r)
	}
	if r := base.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	vl.Flush(t)

	// --- gtrun cost --by bead: rows add up to the total.
	j := base.run("", "cost", "--by", "bead", "--run", costRun, "--json")
	var rep runview.CostReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); j.code != 0 || err != nil {
		t.Fatalf("cost --json: %v %+v", err, j)
	}
	rows := map[string]runview.CostRow{}
	var sum runview.CostRow
	var sumCost float64
	for _, r := range rep.Rows {
		rows[r.Key] = r
		sum.Responses += r.Responses
		sum.Input += r.Input
		sum.Output += r.Output
		sum.CacheRead += r.CacheRead
		sum.CacheWrite += r.CacheWrite
		sum.Calls += r.Calls
		sum.Errors += r.Errors
		sum.Unpriced += r.Unpriced
		if r.CostUSD != nil {
			sumCost += *r.CostUSD
		}
	}
	tot := rep.Total
	if len(rep.Rows) != 4 || sum.Responses != tot.Responses || sum.Input != tot.Input || sum.Output != tot.Output ||
		sum.CacheRead != tot.CacheRead || sum.CacheWrite != tot.CacheWrite || sum.Calls != tot.Calls || sum.Errors != tot.Errors ||
		sum.Unpriced != tot.Unpriced || tot.CostUSD == nil || !near(sumCost, *tot.CostUSD) {
		t.Fatalf("rows do not add up to the total:\nrows %+v\nsum %+v cost %v\ntotal %+v", rep.Rows, sum, sumCost, tot)
	}
	t.Logf("cost by bead: a %v b %v c %v d %v (unpriced %d) = %v; total %v", *rows["gt-cost-a"].CostUSD, *rows["gt-cost-b"].CostUSD,
		*rows["gt-cost-c"].CostUSD, rows["gt-cost-d"].CostUSD, rows["gt-cost-d"].Unpriced, sumCost, *tot.CostUSD)
	// Each bead's cost is the price table's over its transcripts.
	cl := filepath.Join(fixtures, "claude")
	for bead, paths := range map[string][]string{
		"gt-cost-a": {filepath.Join(cl, "ccl_v2.0.55_a7da6a22_main.jsonl"), filepath.Join(cl, "ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl")},
		"gt-cost-b": {filepath.Join(cl, "spotter_v2.1.38_short_one-msgid-5-lines.jsonl")},
		"gt-cost-c": {filepath.Join(fixtures, "codex", "codemie_cli0.77.0_dup-token-count_rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl")},
	} {
		pico, n := expectedPico(t, paths...)
		r := rows[bead]
		if r.CostUSD == nil || !near(*r.CostUSD, float64(pico)/1e12) || r.Responses != int64(n) || r.Unpriced != 0 {
			t.Errorf("%s: %+v, want cost %v over %d responses", bead, r, float64(pico)/1e12, n)
		}
	}
	if a := rows["gt-cost-a"]; a.Input != 3119 || a.Output != 32270 || a.CacheRead != 8629528 || a.CacheWrite != 216690 ||
		a.Calls != 2 || a.Errors != 1 || a.Wall() <= 0 {
		t.Errorf("gt-cost-a: %+v", a)
	}
	// The unpriced model: no cost, never 0, named.
	if d := rows["gt-cost-d"]; d.CostUSD != nil || d.Unpriced != 1 || len(d.UnpricedModels) != 1 || d.UnpricedModels[0] != "mystery-model-1" {
		t.Errorf("gt-cost-d: %+v", d)
	}
	for _, width := range []string{"80", "200"} {
		txt := base.run("", "cost", "--by", "bead", "--run", costRun, "--width", width)
		if txt.code != 0 || !strings.Contains(txt.stdout, "TOTAL") || !strings.Contains(txt.stdout, `"mystery-model-1"`) ||
			strings.Contains(txt.stdout, "$0.00") || !strings.Contains(txt.stdout, "gt-cost-a") {
			t.Errorf("cost --width %s:\n%+v", width, txt)
		}
		t.Logf("gtrun cost --by bead --width %s:\n%s", width, txt.stdout)
	}
	for _, by := range []string{"run", "role", "rig", "agent", "model"} {
		if r := base.run("", "cost", "--by", by, "--run", costRun, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"total"`) {
			t.Errorf("cost --by %s: %+v", by, r)
		}
	}
	if r := base.run("", "cost", "--by", "planet"); r.code == 0 || !strings.Contains(r.stderr, "--by must be one of") {
		t.Errorf("%+v", r)
	}

	// --- the counter equals the sum of cost_usd on the records.
	vlSum := vl.Query(t, `_msg:"agent.usage" AND "run.id":="`+costRun+`" | stats sum(cost_usd) cost, count(cost_usd) priced, count(cost_unknown_model) unpriced`)
	recCost, _ := strconv.ParseFloat(vlSum[0]["cost"], 64)
	if !near(recCost, *tot.CostUSD) || vlSum[0]["unpriced"] != "1" {
		t.Fatalf("records: %v; total %v", vlSum, *tot.CostUSD)
	}
	deadline := time.Now().Add(30 * time.Second)
	var counter float64
	for {
		vm.Flush(t)
		if s, err := vm.TryQuery(`sum(increase(gastown.agent.cost_usd.total[100y]))`); err == nil && len(s) == 1 {
			counter = s[0].Value
			if near(counter, recCost) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gastown.agent.cost_usd.total = %v, records' cost_usd sum %v", counter, recCost)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("counter %v = records' sum(cost_usd) %v", counter, recCost)

	// --- turn spans: per agent session an "agent SESSION" span with one child
	// per API response and per tool call; the subagent's under the Task call.
	trace := runenv.TraceID(costRun)
	traceHex := hex.EncodeToString(trace[:])
	const (
		mainResp, mainTools   = 103, 108 // ccl main: (message.id, requestId) pairs; tool_use ids, all answered
		subResp, subTools     = 6, 15    // its subagent
		spotResp, spotTools   = 1, 2
		codexResp, codexTools = 3, 3
		mysResp               = 1
		anchors, bdSpans      = 4, 2
	)
	want := mainResp + mainTools + subResp + subTools + spotResp + spotTools + codexResp + codexTools + mysResp + anchors + bdSpans
	spans := jg.WaitSpans(t, traceHex, want, 60*time.Second)
	byID := map[string]backendtest.JSpan{}
	children := map[string][]backendtest.JSpan{}
	for _, s := range spans {
		byID[s.SpanID] = s
		children[s.Parent()] = append(children[s.Parent()], s)
	}
	kinds := func(ss []backendtest.JSpan) (resp, tools, errs int) {
		for _, s := range ss {
			switch {
			case strings.HasPrefix(s.OperationName, "chat"):
				resp++
				if s.Tag("cost_usd") == "" && s.Tag("cost_unknown_model") == "" {
					t.Errorf("response span without cost: %+v", s.Tags)
				}
			case strings.HasPrefix(s.OperationName, "execute_tool "):
				tools++
				if s.Tag("otel.status_code") == "ERROR" {
					errs++
				}
			}
		}
		return
	}
	anchor := func(session string) backendtest.JSpan {
		id := parse.SpanID(trace, "agent-log:"+session)
		s, ok := byID[hex.EncodeToString(id[:])]
		if !ok || s.OperationName != "agent "+session || s.Parent() != "" {
			t.Fatalf("no span \"agent %s\": %+v", session, s)
		}
		return s
	}
	for _, c := range []struct {
		session           string
		resp, tools, errs int
	}{{"gt-a", mainResp, mainTools, 4}, {"gt-b", spotResp, spotTools, 2}, {"gt-c", codexResp, codexTools, 0}, {"gt-d", mysResp, 0, 0}} {
		a := anchor(c.session)
		r, tl, e := kinds(children[a.SpanID])
		if r != c.resp || tl != c.tools || e != c.errs || len(children[a.SpanID]) != c.resp+c.tools {
			t.Errorf("agent %s: %d responses %d tools (%d failed) of %d children, want %d/%d/%d", c.session, r, tl, e,
				len(children[a.SpanID]), c.resp, c.tools, c.errs)
		}
	}
	taskID := parse.SpanID(trace, "agent:c8d9b115")
	task := byID[hex.EncodeToString(taskID[:])]
	if task.OperationName != "execute_tool Task" || task.Parent() != anchor("gt-a").SpanID {
		t.Fatalf("Task span %+v", task)
	}
	if r, tl, e := kinds(children[task.SpanID]); r != subResp || tl != subTools || e != 1 || len(children[task.SpanID]) != subResp+subTools {
		t.Errorf("under Task: %d responses %d tools (%d failed), want %d/%d/1", r, tl, e, subResp, subTools)
	}
	t.Logf("spans: %d in the trace; agent gt-a has %d children, Task has %d", len(spans), len(children[anchor("gt-a").SpanID]), len(children[task.SpanID]))
	// A usage record points at its response's span.
	recs := vl.Query(t, `_msg:"agent.usage" AND "run.id":="`+costRun+`" AND gt.work_bead:="gt-cost-b"`)
	if len(recs) != 1 || byID[recs[0]["span_id"]].OperationName != "chat claude-opus-4-6" || recs[0]["trace_id"] != traceHex {
		t.Errorf("usage record's span: %v", recs)
	}
	// gtrun runs and the trace footer show the cost.
	if r := base.run("", "runs", "--since", "87600h", "--width", "200"); !strings.Contains(r.stdout, costRun) || !strings.Contains(r.stdout, "+?") {
		t.Errorf("runs:\n%+v", r)
	}
	if r := base.run("", "trace", costRun, "--width", "200"); !strings.Contains(r.stdout, "cost ") || !strings.Contains(r.stdout, `"mystery-model-1"`) {
		t.Errorf("trace footer:\n%s", r.stdout[max(0, len(r.stdout)-1500):])
	}
}

// A transcript read in two halves (agent-log restarted in the middle of a
// response and of tool calls) gives exactly the spans of a one-pass read:
// same names, times and parents, none repeated; and with --parent-span the
// turns are children of the given span, with no span of agent-log's own.
func TestTurnSpansRestartAndParent(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	vl := backendtest.StartVL(t)
	roots, deep := claudeLayout(t, true)
	halves := "c0570000-1111-4222-8333-000000000002"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", halves, "CLAUDE_CONFIG_DIR", roots)
	agentLog(t, e, "/src/deep-manifest")
	writeRest(deep)
	agentLog(t, e, "/src/deep-manifest")
	agentLog(t, e, "/src/deep-manifest")
	whole := "c0570000-1111-4222-8333-000000000003"
	e2 := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", whole, "CLAUDE_CONFIG_DIR", roots)
	agentLog(t, e2, "/src/deep-manifest")
	for _, x := range []*env{e, e2} {
		if r := x.run("", "flush"); r.code != 0 {
			t.Fatalf("flush: %+v", r)
		}
	}
	n := 103 + 108 + 6 + 15 + 1
	shape := func(run string) map[string]int {
		tr := runenv.TraceID(run)
		spans := jg.WaitSpans(t, hex.EncodeToString(tr[:]), n, 60*time.Second)
		times := jaegerTimes(t, jg, hex.EncodeToString(tr[:]))
		names := map[string]string{}
		for _, s := range spans {
			names[s.SpanID] = s.OperationName
		}
		out := map[string]int{}
		for _, s := range spans {
			if s.OperationName == "agent gt-gastown-Toast" {
				continue // its end is the first pass's last turn
			}
			out[s.OperationName+" under "+names[s.Parent()]+" "+s.Tag("gen_ai.tool.call.id")+s.Tag("gen_ai.response.id")+" "+
				s.Tag("otel.status_code")+" "+s.Tag("cost_usd")+" "+times[s.SpanID]]++
		}
		return out
	}
	a, b := shape(halves), shape(whole)
	if len(a) != len(b) {
		t.Fatalf("two halves: %d distinct spans, one pass: %d", len(a), len(b))
	}
	for k, v := range b {
		if a[k] != v {
			t.Errorf("span %q: %d in two halves, %d in one pass", k, a[k], v)
		}
	}

	// --parent-span: the turns are children of a real span of the run.
	parentRun := "c0570000-1111-4222-8333-000000000004"
	tr := runenv.TraceID(parentRun)
	trHex := hex.EncodeToString(tr[:])
	roots3, _ := claudeLayout(t, false)
	e3 := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL, "GT_RUN", parentRun, "CLAUDE_CONFIG_DIR", roots3)
	if r := e3.run("", "run", "--name", "claude", "--", "true"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	e3.run("", "flush")
	agentSpan := jg.WaitSpans(t, trHex, 1, 30*time.Second)[0]
	r := e3.run("", "agent-log", "--session", "gt-p", "--work-dir", "/home/marco/projects/spotter", "--once",
		"--parent-span", "00-"+trHex+"-"+agentSpan.SpanID+"-01")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	e3.run("", "flush")
	spans := jg.WaitSpans(t, trHex, 1+3, 30*time.Second)
	for _, s := range spans {
		if s.SpanID != agentSpan.SpanID && s.Parent() != agentSpan.SpanID {
			t.Errorf("%s is not a child of the agent's span %s: parent %q", s.OperationName, agentSpan.SpanID, s.Parent())
		}
	}
	if r := e3.run("", "agent-log", "--session", "gt-p", "--work-dir", "/w", "--once", "--parent-span", "00-zz"); r.code != 2 ||
		!strings.Contains(r.stderr, "--parent-span") {
		t.Errorf("bad --parent-span: %+v", r)
	}
}

// jaegerTimes returns each span's "start+duration" (µs) from Jaeger's
// JSON (JSpan does not carry them).
func jaegerTimes(t *testing.T, jg *backendtest.Jaeger, traceID string) map[string]string {
	t.Helper()
	resp, err := http.Get(jg.QueryURL + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data []struct {
			Spans []struct {
				SpanID    string `json:"spanID"`
				StartTime int64  `json:"startTime"`
				Duration  int64  `json:"duration"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Data) != 1 {
		t.Fatalf("jaeger trace %s: %v", traceID, err)
	}
	out := map[string]string{}
	for _, s := range r.Data[0].Spans {
		out[s.SpanID] = strconv.FormatInt(s.StartTime, 10) + "+" + strconv.FormatInt(s.Duration, 10)
	}
	return out
}
