package runview

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// agentSet is a session with an agent over two turns, priced and
// unpriced usage, and failures inside and outside the session.
var agentSet = []map[string]string{
	rec("00.000", "session.start", "session_id", "Toast", "role", "polecat", "gt.session", "Toast"),
	rec("00.200", "agent.instantiate", "agent_type", "claudecode", "role", "polecat", "gt.session", "Toast", "gt.work_bead", "gt-demo"),
	rec("00.500", "agent.event", "session", "Toast", "agent_type", "claudecode", "event_type", "user", "content", "Fix the login bug"),
	rec("01.000", "agent.event", "session", "Toast", "agent_type", "claudecode", "event_type", "tool_use", "tool_name", "Bash", "content", `Bash {"command":"bd show gt-demo"}`),
	rec("01.400", "bd.call", "subcommand", "show", "args", "show gt-demo", "duration_ms", "300", "exit_code", "0", "gt.session", "Toast",
		"trace_id", "5b8efff7980341039269b633813fc60c", "span_id", "00f067aa0ba902b7"),
	rec("01.600", "agent.usage", "session", "Toast", "agent_type", "claudecode", "model", "claude-sonnet-4-5", "input_tokens", "1200", "output_tokens", "450",
		"cache_read_tokens", "23806", "cache_creation_tokens", "3000", "cost_usd", "0.0421", "gt.work_bead", "gt-demo"),
	rec("02.000", "agent.event", "session", "Toast", "agent_type", "claudecode", "event_type", "user", "content", "Now run <the> tests & close it"),
	rec("03.000", "cmd.call", "command", "make", "args", "test", "duration_ms", "800", "exit_code", "2", "status", "error", "error", "exit status 2", "gt.session", "Toast"),
	rec("03.200", "agent.usage", "session", "Toast", "agent_type", "claudecode", "model", "mystery-1", "input_tokens", "10", "output_tokens", "20",
		"cache_read_tokens", "0", "cache_creation_tokens", "0", "cost_unknown_model", "true"),
	rec("04.000", "session.stop", "session_id", "Toast", "duration_ms", "4000", "exit_code", "0"),
	rec("04.500", "bd.call", "subcommand", "close", "args", "close gt-nope", "duration_ms", "100", "exit_code", "1", "status", "error",
		"error", `Error: resolving ID gt-nope: no issue found matching "gt-nope"`),
	rec("04.600", "sling", "bead", "gt-demo", "target", "gastown/polecats/Toast"),
}

func htmlSets() map[string][]map[string]string {
	m := map[string][]map[string]string{"agent": agentSet, "empty": nil}
	for k, v := range sets {
		m[k] = v
	}
	return m
}

func TestHTMLGolden(t *testing.T) {
	for name, recs := range htmlSets() {
		var b bytes.Buffer
		if err := RenderHTML(&b, Build(run1, recs), HTMLOptions{}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".html")
		if *update {
			os.WriteFile(path, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the golden file (go test ./internal/runview -update, then review the diff)", path)
		}
		var again bytes.Buffer
		RenderHTML(&again, Build(run1, recs), HTMLOptions{})
		if !bytes.Equal(b.Bytes(), again.Bytes()) {
			t.Errorf("%s: two renders differ", name)
		}
	}
}

var recordAttr = regexp.MustCompile(`data-record="(\d+)"`)

func TestHTMLStructure(t *testing.T) {
	r := Build(run1, agentSet)
	var b bytes.Buffer
	RenderHTML(&b, r, HTMLOptions{})
	page := b.String()
	// Self-contained: nothing is loaded from anywhere.
	for _, bad := range []string{"http://", "https://", "<link", " src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Every record once, in order of the run.
	ms := recordAttr.FindAllStringSubmatch(page, -1)
	if len(ms) != len(r.Events) {
		t.Fatalf("%d records in the page, want %d", len(ms), len(r.Events))
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m[1]] {
			t.Fatalf("record %s twice", m[1])
		}
		seen[m[1]] = true
	}
	if n := strings.Count(page, `data-status="error"`); n != 2 || strings.Count(page, " error\" data-record") != 2 {
		t.Errorf("%d failed records marked, want 2", n)
	}
	// Nesting: the session holds its records, the agent its two turns.
	tree := buildView(r).Roots
	names := func(ns []*node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Name)
		}
		return out
	}
	if got := strings.Join(names(tree), ","); got != "session.start,bd.call,sling" {
		t.Fatalf("roots %s", got)
	}
	sess := tree[0]
	if got := strings.Join(names(sess.Children), ","); got != "agent.instantiate,bd.call,cmd.call,session.stop" {
		t.Fatalf("session children %s", got)
	}
	agent := sess.Children[0]
	if got := strings.Join(names(agent.Children), ","); got != "turn 1,turn 2" {
		t.Fatalf("agent children %s", got)
	}
	if got := strings.Join(names(agent.Children[0].Children), ","); got != "agent.event,agent.event,agent.usage" {
		t.Fatalf("turn 1 %s", got)
	}
	if !sess.HasError || agent.HasError || agent.Children[1].Children[0].ev.Attrs["content"] != "Now run <the> tests & close it" {
		t.Fatalf("session error flag / turn 2 start")
	}
	// Attributes, HTML-escaped; the footer's cost and the unpriced model.
	for _, want := range []string{"<th>span_id</th><td>00f067aa0ba902b7</td>", "Now run &lt;the&gt; tests &amp; close it",
		"cost <b>$0.0421</b> for 1 of 2 responses", "no price for: <code>mystery-1</code>", "<th>claudecode</th><td>1210</td><td>470</td><td>23806</td><td>3000</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "$0.00<") {
		t.Error("an unknown price shown as $0.00")
	}
}

func TestHTMLCostNeverZeroForUnknown(t *testing.T) {
	c := costOf(Build(run1, []map[string]string{
		rec("00.000", "agent.usage", "model", "x", "input_tokens", "1", "cost_unknown_model", "true"),
		rec("00.100", "agent.usage", "model", "y", "input_tokens", "1"),
	}))
	if c.Amount != "" || strings.Join(c.Unknown, ",") != "x" {
		t.Fatalf("%+v", c)
	}
	c = costOf(Build(run1, []map[string]string{rec("00.000", "agent.usage", "input_tokens", "1")}))
	if c.Amount != "" || c.Note != "(1 responses, none priced)" {
		t.Fatalf("%+v", c)
	}
	c = costOf(Build(run1, []map[string]string{rec("00.000", "agent.usage", "cost_usd", "1.5"), rec("00.000", "agent.usage", "cost_usd", "0.25")}))
	if c.Amount != "$1.75" || c.Note != "" {
		t.Fatalf("%+v", c)
	}
}

// The live server (with an in-process record source; the real one is
// VictoriaLogs in internal/e2e): the page, its JSON, refreshes, loopback.
func TestHTMLLiveHandler(t *testing.T) {
	recs := sets["normal"][:2]
	l := &Live{ID: run1, Fetch: func(context.Context) ([]map[string]string, error) { return recs, nil }}
	if err := l.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/")
	if code != 200 || !strings.Contains(page, `data-live="run.json"`) || len(recordAttr.FindAllString(page, -1)) != 2 {
		t.Fatalf("page %d:\n%s", code, page)
	}
	recs = sets["normal"]
	l.Refresh(context.Background())
	code, body := get("/run.json")
	var d LiveData
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != 200 || d.Events != 5 || len(recordAttr.FindAllString(d.HTML, -1)) != 5 || d.Run.ID != run1 {
		t.Fatalf("json %d %v: %s", code, err, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Host = "evil.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Host answered: %v %v", resp, err)
	}
	resp.Body.Close()
	if CheckLoopback("0.0.0.0:8080") == nil || CheckLoopback("127.0.0.1:0") != nil || CheckLoopback("[::1]:0") != nil {
		t.Fatal("CheckLoopback")
	}
}
