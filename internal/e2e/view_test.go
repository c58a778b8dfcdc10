package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/dashboard"
	"github.com/gastown/gtrun/internal/runview"
)

// scenario runs a small Gas Town scenario into run id; a second run adds
// noise that trace must not show.
func scenario(t *testing.T, e *env, run string) {
	t.Helper()
	e.set("GT_RUN", run, "GT_WORK_BEAD", "gt-demo", "GT_ROLE", "polecat")
	e.run("", "bd", "create", "Fix login")
	e.run("", "bd", "close", "gt-nope")
	e.run("", "emit", "sling", "bead=gt-demo", "target=Toast")
	e.run("", "sh", "-c", "exit 3")
}

func TestTraceAndRuns(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL)
	scenario(t, e, "run-view-1")
	other := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL)
	scenario(t, other, "run-view-2")
	vl.WaitCount(t, `"run.id":="run-view-1"`, 4, 20*time.Second) // 2 bd.call, sling, cmd.call
	r := e.run("", "trace", "run-view-1", "--width", "120")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	order := []string{"bd.call", "bd.call", "sling", "cmd.call"}
	pos := 0
	for _, want := range order {
		i := strings.Index(r.stdout[pos:], want)
		if i < 0 {
			t.Fatalf("trace lacks %s in order:\n%s", want, r.stdout)
		}
		pos += i + len(want)
	}
	if strings.Contains(r.stdout, "run-view-2") || !strings.Contains(r.stdout, "errors") || !strings.Contains(r.stdout, "gt-nope") {
		t.Fatalf("trace:\n%s", r.stdout)
	}
	// The default run is the last one started on this machine.
	if d := e.run("", "trace", "--width", "120"); d.stdout != r.stdout {
		t.Fatalf("default run differs:\n%s", d.stdout)
	}
	j := e.run("", "trace", "run-view-1", "--json")
	var run runview.Run
	if err := json.Unmarshal([]byte(j.stdout), &run); err != nil || run.ID != "run-view-1" || run.Calls != 3 || run.Errors < 2 {
		t.Fatalf("json: %v %+v", err, run)
	}
	for _, ev := range run.Events {
		if ev.Attrs["gt.work_bead"] != "gt-demo" {
			t.Errorf("event %s lacks the work context", ev.Name)
		}
	}
	runs := e.run("", "runs", "--since", "1h", "--width", "160")
	if !strings.Contains(runs.stdout, "run-view-1") || !strings.Contains(runs.stdout, "run-view-2") {
		t.Fatalf("runs:\n%+v", runs)
	}
	// Clear messages when there is nothing to show or nobody to ask.
	if m := e.run("", "trace", "no-such-run"); m.code == 0 || !strings.Contains(m.stderr, "run no-such-run has no records") {
		t.Fatalf("%+v", m)
	}
	down := newEnv(t).set("GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/insert/opentelemetry/v1/logs"))
	if m := down.run("", "trace", "x"); m.code == 0 || !strings.Contains(m.stderr, "cannot reach VictoriaLogs at http://127.0.0.1:") {
		t.Fatalf("%+v", m)
	}

	// Every dashboard query returns data after the scenario.
	panels, err := dashboard.Load(filepath.Join(repo(t), "deploy", "grafana", "gastown.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Sessions, agents and tokens need their events too.
	e.set("GTRUN_TMUX_SOCKET", "")
	e.run("", "emit", "session.start", "session_id=s1", "role=polecat")
	e.run("", "emit", "session.stop", "session_id=s1", "duration_ms=5", "exit_code=0")
	e.run("", "emit", "agent.instantiate", "agent_type=claudecode", "role=polecat")
	e.run("", "emit", "agent.usage", "agent_type=claudecode", "input_tokens=5", "output_tokens=7")
	vm.WaitValue(t, `sum(increase(gastown.agent.tokens.total[1h]))`, 12, 20*time.Second)
	for _, p := range panels {
		q := dashboard.Resolve(p.Expr, "1h")
		if s := vm.Query(t, q); len(s) == 0 {
			t.Errorf("panel %q: no data for %s", p.Title, q)
		}
	}
}

// gtrun trace shows the agents' own native events (Claude Code's
// api_request, tool_result) within the run: they carry the run in their
// resource (gt.run_id), as `gtrun agent` sets it.
func TestTraceShowsNativeAgentEvents(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-native-view")
	e.run("", "sh", "-c", "true")
	now := time.Now().UTC()
	// What VictoriaLogs keeps of Claude Code's OTLP events: the resource's
	// gt.run_id as a field beside the event's own attributes.
	lines := ""
	for i, name := range []string{"claude_code.api_request", "claude_code.tool_result"} {
		lines += `{"_msg":"` + name + `","_time":"` + now.Add(time.Duration(i+1)*time.Millisecond).Format(time.RFC3339Nano) +
			`","gt.run_id":"run-native-view","service.name":"claude-code","model":"claude-sonnet-4-5","tool_name":"Bash"}` + "\n"
	}
	resp, err := http.Post(vl.URL+"/insert/jsonline?_stream_fields=service.name", "application/stream+json", strings.NewReader(lines))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("insert: %v %v", err, resp)
	}
	resp.Body.Close()
	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	vl.WaitCount(t, `"run.id":="run-native-view" OR "gt.run_id":="run-native-view"`, 3, 20*time.Second)
	var run runview.Run
	r := e.run("", "trace", "run-native-view", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &run); err != nil {
		t.Fatalf("%v: %+v", err, r)
	}
	var names []string
	for _, ev := range run.Events {
		names = append(names, ev.Name)
	}
	if strings.Join(names, " ") != "cmd.call claude_code.api_request claude_code.tool_result" {
		t.Fatalf("trace events: %v", names)
	}
}
