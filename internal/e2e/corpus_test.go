package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// form is one line of testdata/redaction/corpus.txt.
type form struct {
	kind, secret, text, comment string
}

// loadCorpus reads the corpus; every form must follow a comment saying
// what it is.
func loadCorpus(t *testing.T) []form {
	t.Helper()
	f, err := os.Open(filepath.Join(repo(t), "testdata", "redaction", "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []form
	comment := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case l == "" || l == "#":
			comment = ""
		case strings.HasPrefix(l, "# "):
			comment = l[2:]
		default:
			p := strings.SplitN(l, "\t", 3)
			if len(p) != 3 || comment == "" {
				t.Fatalf("corpus.txt:%d: want a comment, then KIND<TAB>SECRET<TAB>TEXT: %q", n, l)
			}
			fm := form{kind: p[0], secret: p[1], text: strings.ReplaceAll(p[2], "{S}", p[1]), comment: comment}
			fm.text = strings.ReplaceAll(fm.text, `\n`, "\n")
			out = append(out, fm)
			comment = ""
		}
	}
	return out
}

// standIns writes a stand-in that exits 0 for each command the corpus
// runs (no real curl, git or sudo: nothing leaves loopback), and a bd
// that prints $CORPUS_OUT.
func standIns(t *testing.T, forms []form) string {
	bin := t.TempDir()
	for _, f := range forms {
		if f.kind != "argv" && f.kind != "keep-argv" {
			continue
		}
		w := strings.Fields(f.text)
		if f.kind == "argv" && w[0] == f.secret {
			continue // argv[0] forms: no such command
		}
		os.WriteFile(filepath.Join(bin, w[0]), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	}
	os.WriteFile(filepath.Join(bin, "bd"), []byte("#!/bin/sh\ncat \"$CORPUS_OUT\"\n"), 0o755)
	return bin
}

// transcript lays the transcript forms out as a Claude Code session in
// workDir's project of a config root, and returns the root.
func transcript(t *testing.T, forms []form, workDir string) string {
	root := t.TempDir()
	dir := filepath.Join(root, "projects", strings.ReplaceAll(workDir, "/", "-"))
	os.MkdirAll(dir, 0o700)
	var b bytes.Buffer
	ts := time.Now().Add(-time.Hour)
	for i, f := range forms {
		var content any
		role := "assistant"
		switch strings.TrimPrefix(f.kind, "keep-") {
		case "tool_use":
			content = []any{map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_%02d", i), "name": "Bash", "input": map[string]any{"command": f.text}}}
		case "tool_input":
			var in any
			if err := json.Unmarshal([]byte(f.text), &in); err != nil {
				t.Fatalf("%s: %v", f.comment, err)
			}
			content = []any{map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_%02d", i), "name": "Bash", "input": in}}
		case "tool_result":
			role = "user"
			content = []any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_00", "content": f.text}}
		case "text":
			content = []any{map[string]any{"type": "text", "text": f.text}}
		default:
			continue
		}
		msg := map[string]any{"role": role, "content": content}
		if role == "assistant" {
			msg["model"], msg["id"], msg["type"] = "claude-opus-4-6", fmt.Sprintf("msg_corpus%02d", i), "message"
			msg["usage"] = map[string]any{"input_tokens": 1, "output_tokens": 1}
		}
		line, _ := json.Marshal(map[string]any{"type": map[string]string{"assistant": "assistant", "user": "user"}[role],
			"sessionId": "11111111-2222-4333-8444-555555555555", "cwd": workDir, "uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"timestamp": ts.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339Nano), "message": msg})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(dir, "11111111-2222-4333-8444-555555555555.jsonl")
	os.WriteFile(p, b.Bytes(), 0o600)
	settle(p)
	return root
}

// Issue 21, item 2: every planted credential of the corpus (argv, bd
// output, resource attributes, transcripts) → none in VictoriaLogs,
// Jaeger, VictoriaMetrics' labels or the journal files; every look-alike
// readable in VictoriaLogs.
func TestCredentialCorpus(t *testing.T) {
	forms := loadCorpus(t)
	planted, keeps := 0, 0
	for _, f := range forms {
		if strings.HasPrefix(f.kind, "keep-") {
			keeps++
		} else {
			planted++
		}
	}
	if planted < 60 || keeps < 30 {
		t.Fatalf("corpus: %d planted forms (want ≥ 60), %d look-alikes (want ≥ 30)", planted, keeps)
	}
	jg := backendtest.StartJaeger(t)
	vm, vl := backendtest.StartBoth(t)
	run := "7e1d2c3b-4a59-4687-9c0b-a1b2c3d4e5f6"
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL,
		"GT_RUN", run, "GT_LOG_BD_OUTPUT", "true", "GT_LOG_BD_CONTENT_LIMIT", "65536")
	e.set("PATH", standIns(t, forms)+":"+e.vars["PATH"])
	calls, events, bdCalls := 0, 0, 0
	for _, f := range forms {
		switch f.kind {
		case "argv", "keep-argv":
			args := splitCorpusArgs(f.text)
			e.run("", args...)
			if args[0] == "bd" {
				bdCalls++
			}
		case "output", "keep-output":
			out := filepath.Join(t.TempDir(), "out")
			os.WriteFile(out, []byte("○ gt-ehp · Fix login\n"+f.text+"\n"), 0o644)
			e.set("CORPUS_OUT", out)
			e.run("", "bd", "show", "gt-ehp")
			bdCalls++
		case "resource", "keep-resource":
			e.set("OTEL_RESOURCE_ATTRIBUTES", f.text)
			e.run("", "true")
			delete(e.vars, "OTEL_RESOURCE_ATTRIBUTES")
		default:
			events++ // a transcript's
			continue
		}
		calls++
	}
	work := "/src/corpus"
	e.set("CLAUDE_CONFIG_DIR", transcript(t, forms, work))
	agentLog(t, e, work)
	flushed(t, e)
	vl.WaitCount(t, `"run.id":="`+run+`" AND (_msg:"bd.call" OR _msg:"cmd.call")`, calls, 60*time.Second)
	vl.WaitCount(t, `"run.id":="`+run+`" AND _msg:"agent.event"`, events, 30*time.Second)
	trace := strings.ReplaceAll(run, "-", "")
	// The calls' spans, and agent-log's: at least one per call.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		b, _ := tryFetch(jg.QueryURL + "/api/traces/" + trace)
		if n := bytes.Count(b, []byte(`"spanID"`)); n >= calls {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Jaeger holds %d spans of the run, want ≥ %d", n, calls)
		}
	}

	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, float64(bdCalls), 60*time.Second)
	vm.Flush(t)
	logs := fetch(t, "POST", vl.URL+"/select/logsql/query", url.Values{"query": {"*"}})
	where := map[string][]byte{
		"VictoriaLogs":    logs,
		"Jaeger":          fetch(t, "GET", jg.QueryURL+"/api/traces/"+trace, nil),
		"VictoriaMetrics": fetch(t, "GET", vm.URL+"/api/v1/export?match[]="+url.QueryEscape(`{__name__!=""}`), nil),
	}
	for _, l := range []string{"command", "subcommand"} {
		where["VictoriaMetrics"] = append(where["VictoriaMetrics"], fetch(t, "GET", vm.URL+"/api/v1/label/"+l+"/values", nil)...)
	}
	addStateFiles(where, e.state)
	for _, f := range forms {
		if strings.HasPrefix(f.kind, "keep-") {
			continue
		}
		for name, b := range where {
			if leaked(b, f.secret) {
				t.Errorf("%s: %s (%s) leaked: %q", name, f.comment, f.kind, leakContext(b, f.secret))
			}
		}
	}
	readable := unescape(logs)
	for _, f := range forms {
		if !strings.HasPrefix(f.kind, "keep-") {
			continue
		}
		want := f.text
		if f.kind == "keep-argv" {
			want = strings.Join(splitCorpusArgs(f.text)[1:], " ")
		}
		if f.kind == "keep-resource" {
			want = strings.SplitN(f.text, "=", 2)[1]
		}
		if !bytes.Contains(readable, []byte(want)) {
			t.Errorf("look-alike %s (%s) is not readable in VictoriaLogs: %q", f.comment, f.kind, want)
		}
	}
}

// splitCorpusArgs splits at spaces; "|" joins words into one argument.
func splitCorpusArgs(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		out = append(out, strings.ReplaceAll(w, "|", " "))
	}
	return out
}

// tryFetch GETs u: its body, or nil while the server has nothing there.
func tryFetch(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
