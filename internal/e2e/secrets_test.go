package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// Planted credentials, one per form the redaction covers. Each is unique,
// of a real credential's shape, and made of [A-Za-z0-9._-] only so that it
// reads the same in every JSON encoding.
var planted = map[string]string{
	"argv --api-key (before the subcommand)": "sk-ant-api03-PLaNT1xQ9vZ2mN7pL4kR8tY1wE6uI3oA5sD0fGhJ2kL9zX4cV",
	"argv --token=":                          "ghp_PLaNT2aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2",
	"argv --password (space)":                "Hunt3r-PLaNT3-pw",
	"argv --db URL password":                 "dbpw-PLaNT4-x9",
	"argv GITHUB_TOKEN=":                     "ghp_PLaNT5zY9xW8vU7tS6rQ5pO4nM3lK2jI1hG0",
	"argv --secret (after the subcommand)":   "PLaNT6-s3cret-after",
	"out Authorization: Bearer JWT":          "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQTGFOVDcifQ.PLaNT7sig-dozjgNryP4J3jVmNHl0w5N",
	"out ANTHROPIC_API_KEY=":                 "sk-ant-api03-PLaNT8qW2eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6",
	"out token: ghp_":                        "ghp_PLaNT9bC4dE5fG6hI7jK8lM9nO0pQ1rS2tU3",
	"out AWS_SECRET_ACCESS_KEY=":             "wJalrXUtnFEMI-K7MDENG-PLaNT10-bPxRfiCY",
	"out bare sk-ant-":                       "sk-ant-api03-PLaNT11mN3bV5cX7zL9kJ1hG3fD5sA7pO9iU1yT3rE5",
	"out bare Bearer":                        "PLaNT12-opaque.Bearer-Value_99",
	"out coloured Authorization:":            "PLaNT13-coloured-AuthValue",
	"out JSON password":                      "PLaNT14-json-pw",
	"out JSON api_key":                       "PLaNT15-json-apikey",
	"out URL userinfo password":              "PLaNT16-url-pw",
	"out PEM private key body":               "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-PLaNT17-BKcwggSjAgEAAoIBAQC7",
	"out AWS access key id":                  "AKIAPLANT18EXAMPLE01",
	"out Slack token":                        "xoxb-123456789012-PLaNT19-AbCdEfGhIjKl",
	"out GitHub fine-grained PAT":            "github_pat_11PLaNT20_0123456789abcdefghijklmnopqrstuvwxyz",
	"out OpenAI project key":                 "sk-proj-PLaNT21Gh7Jk2Lm9Nq3Rs6Tv8Wx1Yz5Ab0Cd",
	"err Error: line token=":                 "PLaNT22-error-line-token",
	"mail body password=":                    "PLaNT23-mail-pw",
	"mail body Bearer":                       "PLaNT24-mail-bearer-9Z",
	"mail body token: ghp_":                  "ghp_PLaNT25mail0aB1cD2eF3gH4iJ5kL6mN7oP",
	"mail subject API_KEY=":                  "PLaNT26-subject-key",
	"gt argv --auth-token":                   "PLaNT27-gt-auth-token",
}

// beadStandIn prints bd-like output holding every planted output secret,
// next to ordinary bd vocabulary that must come through unchanged.
func beadStandIn(p map[string]string) string {
	return "#!/bin/sh\ncat <<'EOF'\n" +
		"○ gt-ehp · Fix login   [● P2 · OPEN]\n" +
		"Owner: Test User · Type: task\n" +
		"tokens: 5\n" +
		"Authorization: Bearer " + p["out Authorization: Bearer JWT"] + "\n" +
		"export ANTHROPIC_API_KEY=" + p["out ANTHROPIC_API_KEY="] + "\n" +
		"token: " + p["out token: ghp_"] + "\n" +
		"AWS_SECRET_ACCESS_KEY=" + p["out AWS_SECRET_ACCESS_KEY="] + "\n" +
		"using key " + p["out bare sk-ant-"] + " for the agent\n" +
		"sent Bearer " + p["out bare Bearer"] + " upstream\n" +
		"{\"password\": \"" + p["out JSON password"] + "\", \"api_key\":\"" + p["out JSON api_key"] + "\", \"id\": \"gt-9cc\"}\n" +
		"remote https://bob:" + p["out URL userinfo password"] + "@git.example.com/r.git\n" +
		"-----BEGIN RSA PRIVATE KEY-----\n" + p["out PEM private key body"] + "\n-----END RSA PRIVATE KEY-----\n" +
		"aws id " + p["out AWS access key id"] + " slack " + p["out Slack token"] + "\n" +
		"pat " + p["out GitHub fine-grained PAT"] + " openai " + p["out OpenAI project key"] + "\n" +
		"EOF\n" +
		"printf '\\033[1mAuthorization:\\033[0m Bearer " + p["out coloured Authorization:"] + "\\n'\n" +
		"echo 'Error: auth failed for token=" + p["err Error: line token="] + "' >&2\n" +
		"exit 1\n"
}

// Issue: no credential leaves the machine. Every planted secret goes in
// through argv, bd's output, stderr's Error line, a mail body and subject;
// then every byte VictoriaLogs, VictoriaMetrics and Jaeger hold for the run,
// and every file of the state directory, is searched for them.
func TestSecretsNeverExported(t *testing.T) {
	jg := backendtest.StartJaeger(t)
	vm, vl := backendtest.StartBoth(t)
	run := "3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
	trace := strings.ReplaceAll(run, "-", "")
	p := planted
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_OTEL_TRACES_URL", jg.OTLPURL,
		"GT_RUN", run, "GT_LOG_BD_OUTPUT", "true")
	realPath := e.vars["PATH"]

	// 1. argv, through the ordinary bd stand-in.
	r := e.run("", "bd", "create", "Fix login", "--author", "bob-the-author",
		"--token="+p["argv --token="], "--password", p["argv --password (space)"],
		"--db", "postgres://u:"+p["argv --db URL password"]+"@db.example.com/beads",
		"GITHUB_TOKEN="+p["argv GITHUB_TOKEN="], "--secret", p["argv --secret (after the subcommand)"])
	bead := regexp.MustCompile(`Created issue: (gt-[a-z0-9]+)`).FindStringSubmatch(r.stdout)
	if r.code != 0 || bead == nil {
		t.Fatalf("bd create: %+v", r)
	}
	// A credential flag before the subcommand: bd takes create for the
	// command (the stand-in does not, and fails: that is fine).
	e.run("", "bd", "--api-key", p["argv --api-key (before the subcommand)"], "create", "y")

	// 2. bd's output and Error line, through a stand-in that prints them.
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "bd"), []byte(beadStandIn(p)), 0o755)
	os.WriteFile(filepath.Join(bin, "gt"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	e.set("PATH", bin+":"+realPath)
	if r := e.run("", "bd", "show", "gt-ehp"); !strings.Contains(r.stdout, p["out token: ghp_"]) {
		t.Fatalf("the stand-in's output must reach the terminal unchanged: %+v", r)
	}
	// gt mail send: cmd.call args and gt's catalog's subject; a flag gt does
	// not have (cobra rejects the line: no catalog event) in cmd.call args.
	e.run("", "gt", "mail", "send", "--to", "mayor", "-s", "API_KEY="+p["mail subject API_KEY="])
	e.run("", "gt", "nudge", "mayor", "--auth-token", p["gt argv --auth-token"])
	e.set("PATH", realPath)

	// 3. a mail body and subject through emit.
	if r := e.run("", "emit", "mail", "operation=send", "msg.to=mayor",
		"msg.subject=rotate API_KEY="+p["mail subject API_KEY="],
		"msg.body=new password="+p["mail body password="]+"; header Authorization: Bearer "+p["mail body Bearer"]+
			"; token: "+p["mail body token: ghp_"]+"; see gt-ehp, tokens: 5"); r.code != 0 {
		t.Fatalf("emit: %+v", r)
	}

	if r := e.run("", "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="`+run+`"`, 3, 30*time.Second)
	vl.WaitCount(t, `_msg:"mail" AND "run.id":="`+run+`"`, 2, 30*time.Second) // the gt rule's and emit's
	spans := jg.WaitSpans(t, trace, 5, 30*time.Second)                        // 3 bd calls, 2 gt calls
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[1h]))`, 3, 30*time.Second)

	logs := fetch(t, "POST", vl.URL+"/select/logsql/query", url.Values{"query": {"*"}})
	traces := fetch(t, "GET", jg.QueryURL+"/api/traces/"+trace, nil)
	series := fetch(t, "GET", vm.URL+"/api/v1/export?match[]="+url.QueryEscape(`{__name__!=""}`), nil)
	labels := fetch(t, "GET", vm.URL+"/api/v1/label/subcommand/values", nil)
	where := map[string][]byte{"VictoriaLogs": logs, "Jaeger": traces, "VictoriaMetrics": append(series, labels...)}
	addStateFiles(where, e.state)
	for form, secret := range p {
		for name, b := range where {
			if leaked(b, secret) {
				t.Errorf("%s: the planted secret (%s) leaked: %s", name, form, leakContext(b, secret))
			}
		}
	}

	// What is no secret comes through unchanged.
	for _, want := range []string{"--author bob-the-author", "tokens: 5", bead[1], "gt-ehp", "gt-9cc", "postgres://u:[REDACTED]@db.example.com/beads",
		"Authorization: Bearer [REDACTED]", "token: [REDACTED]", "-----BEGIN RSA PRIVATE KEY-----"} {
		if !bytes.Contains(unescape(logs), []byte(want)) {
			t.Errorf("VictoriaLogs lacks %q", want)
		}
	}
	subs := map[string]int{}
	for _, r := range recs {
		subs[r["subcommand"]]++
	}
	if subs["create"] != 2 || subs["show"] != 1 {
		t.Errorf("subcommands %v, want create ×2 and show", subs)
	}
	names := map[string]bool{}
	for _, s := range spans {
		names[s.OperationName] = true
	}
	if !names["bd create"] || !names["bd show"] {
		t.Errorf("span names %v", names)
	}
	if !bytes.Contains(labels, []byte(`"create"`)) {
		t.Errorf("subcommand label values: %s", labels)
	}
}

func fetch(t *testing.T, method, u string, form url.Values) []byte {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "POST" {
		resp, err = http.PostForm(u, form)
	} else {
		resp, err = http.Get(u)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("%s %s: HTTP %d: %s", method, u, resp.StatusCode, b)
	}
	return b
}

// leaked finds the secret, or its last 12 bytes (a secret cut in half
// still leaks), in the raw bytes and in their JSON-unescaped form.
// addStateFiles adds every file of the state directory to where, the
// places a planted secret must not reach.
func addStateFiles(where map[string][]byte, state string) {
	filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(path)
			where["state dir "+strings.TrimPrefix(path, state)] = b
		}
		return nil
	})
}

func leaked(b []byte, secret string) bool {
	u := unescape(b)
	for _, s := range []string{secret, secret[len(secret)-12:]} {
		if bytes.Contains(b, []byte(s)) || bytes.Contains(u, []byte(s)) {
			return true
		}
	}
	return false
}

// unescape decodes every JSON string in b (lines of JSON, or one
// document), so escaped text is searched as it reads.
func unescape(b []byte) []byte {
	var out bytes.Buffer
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out.WriteString(v)
			out.WriteByte('\n')
		case map[string]any:
			for k, x := range v {
				out.WriteString(k)
				out.WriteByte('\n')
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		walk(v)
	}
	return out.Bytes()
}

func leakContext(b []byte, secret string) string {
	for _, x := range [][]byte{b, unescape(b)} {
		for _, s := range []string{secret, secret[len(secret)-12:]} {
			if i := bytes.Index(x, []byte(s)); i >= 0 {
				lo, hi := max(0, i-80), min(len(x), i+len(s)+40)
				return string(x[lo:hi])
			}
		}
	}
	return ""
}
