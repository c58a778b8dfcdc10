package transcripts

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// touch writes p with content and an mtime age ago.
func touch(t *testing.T, p, content string, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	m := time.Now().Add(-age)
	if err := os.Chtimes(p, m, m); err != nil {
		t.Fatal(err)
	}
}

func TestClaudeProjectDir(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/src/deep-manifest", "-src-deep-manifest"},
		{"/home/a.b/c_d e", "-home-a-b-c-d-e"},
		{"/Users/me/.agents", "-Users-me--agents"},
		{"/tmp/café", "-tmp-caf-"},   // one UTF-16 unit, two UTF-8 bytes: one '-'
		{"/tmp/x😀", "-tmp-x--"},      // a surrogate pair: two '-'
		{`C:\Users\x`, "C--Users-x"}, // no run collapsing
	} {
		if got := ClaudeProjectDir(tt.in); got != tt.want {
			t.Errorf("%q → %q want %q", tt.in, got, tt.want)
		}
	}
}

func TestClaudeRoots(t *testing.T) {
	home := t.TempDir()
	r1, r2 := t.TempDir(), t.TempDir()
	dotClaude := filepath.Join(home, ".claude")
	dotConfig := filepath.Join(home, ".config", "claude")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(r1, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  string
		mk   []string // dirs under home to create
		want []string
		home string
	}{
		{"defaults only", "", []string{".claude"}, []string{dotClaude}, home},
		{"both defaults, in order", "", []string{".claude", ".config/claude"}, []string{dotConfig, dotClaude}, home},
		{"env list first, missing and repeated entries dropped", r1 + ", " + r2 + ",/does/not/exist,," + r1,
			[]string{".claude"}, []string{r1, r2, dotClaude}, home},
		{"a symlink to a root already listed", r1 + "," + link, nil, []string{r1}, home},
		{"no home", r2, nil, []string{r2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(dotClaude)
			os.RemoveAll(filepath.Join(home, ".config"))
			for _, d := range tt.mk {
				if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			got := ClaudeRoots(func(k string) string {
				if k == "CLAUDE_CONFIG_DIR" {
					return tt.env
				}
				return ""
			}, tt.home)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("roots %v want %v", got, tt.want)
			}
		})
	}
}

// names is a sorted "base:subagent:session" list of files.
func names(fs []File) string {
	var s []string
	for _, f := range fs {
		sub := "main"
		if f.Subagent {
			sub = "sub"
		}
		s = append(s, filepath.Base(f.Path)+":"+sub+":"+f.SessionID+":"+f.Agent)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func TestClaude(t *testing.T) {
	r1, r2 := t.TempDir(), t.TempDir()
	roots := []string{r1, r2}
	p1 := filepath.Join(r1, "projects", "-w")
	p2 := filepath.Join(r2, "projects", "-w")
	sid := func(id string) string { return `{"sessionId":"` + id + `"}` + "\n" }
	touch(t, filepath.Join(p1, "old.jsonl"), sid("old"), 3*time.Hour)
	touch(t, filepath.Join(p1, "agent-0ld0.jsonl"), sid("old"), 3*time.Hour)
	touch(t, filepath.Join(p2, "new.jsonl"), sid("new"), time.Hour)
	// Older layout: a sessionId may follow a summary line; files of other
	// sessions and files with no line yet are not this session's.
	touch(t, filepath.Join(p2, "agent-aaaa.jsonl"), `{"type":"summary","summary":"x"}`+"\n"+sid("new"), time.Hour)
	touch(t, filepath.Join(p2, "agent-bbbb.jsonl"), sid("other"), time.Hour)
	touch(t, filepath.Join(p2, "agent-cccc.jsonl"), "", time.Hour)
	// Newer layout.
	touch(t, filepath.Join(p2, "new", "subagents", "agent-dddd.jsonl"), "{}\n", time.Hour)
	// Another project's session is never chosen.
	touch(t, filepath.Join(r1, "projects", "-other", "zzz.jsonl"), sid("zzz"), 0)

	now := time.Now()
	tests := []struct {
		name  string
		since time.Time
		want  string
	}{
		{"zero since: the newest of every root", time.Time{},
			"agent-aaaa.jsonl:sub:new:claudecode agent-dddd.jsonl:sub:new:claudecode new.jsonl:main:new:claudecode"},
		{"since between the two sessions", now.Add(-2 * time.Hour),
			"agent-aaaa.jsonl:sub:new:claudecode agent-dddd.jsonl:sub:new:claudecode new.jsonl:main:new:claudecode"},
		{"since after every session", now.Add(-time.Minute), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Claude(roots, "/w", tt.since)
			if err != nil || names(fs) != tt.want {
				t.Fatalf("got %q %v\nwant %q", names(fs), err, tt.want)
			}
		})
	}

	// A resumed old session is written again: it is now the one after since.
	touch(t, filepath.Join(p1, "old.jsonl"), sid("old")+sid("old"), 0)
	fs, _ := Claude(roots, "/w", now.Add(-time.Minute))
	if names(fs) != "agent-0ld0.jsonl:sub:old:claudecode old.jsonl:main:old:claudecode" {
		t.Fatalf("resumed: %q", names(fs))
	}
	// Subagent files that appear (or get their first line) later are found
	// by the next discovery.
	touch(t, filepath.Join(p1, "agent-cccc.jsonl"), sid("old"), 0)
	touch(t, filepath.Join(p1, "old", "subagents", "agent-eeee.jsonl"), "", 0)
	fs, _ = Claude(roots, "/w", now.Add(-time.Minute))
	if names(fs) != "agent-0ld0.jsonl:sub:old:claudecode agent-cccc.jsonl:sub:old:claudecode agent-eeee.jsonl:sub:old:claudecode old.jsonl:main:old:claudecode" {
		t.Fatalf("later subagents: %q", names(fs))
	}
}

// The real claude-code-log fixture: a main transcript whose first lines
// carry no sessionId and its older-layout sidechain file.
func TestClaudeRealFixtures(t *testing.T) {
	const fx = "/work/shared/fixtures/claude/"
	root := t.TempDir()
	dir := filepath.Join(root, "projects", "-src-deep-manifest")
	for src, dst := range map[string]string{
		"ccl_v2.0.55_a7da6a22_main.jsonl":                     "a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl",
		"ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl": "agent-c8d9b115.jsonl",
	} {
		b, err := os.ReadFile(fx + src)
		if err != nil {
			t.Fatalf("fixture missing: %v", err)
		}
		touch(t, filepath.Join(dir, dst), string(b), 0)
	}
	fs, err := Claude([]string{root}, "/src/deep-manifest", time.Time{})
	want := "a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl:main:a7da6a22-facc-4fcd-8bab-f83c87862004:claudecode " +
		"agent-c8d9b115.jsonl:sub:a7da6a22-facc-4fcd-8bab-f83c87862004:claudecode"
	if err != nil || names(fs) != want {
		t.Fatalf("got %q %v", names(fs), err)
	}
}

// A work dir whose name passes 200 characters lives in "<first 200>-<hash>";
// another work dir with the same first 200 characters is told apart by cwd.
func TestClaudeLongWorkDir(t *testing.T) {
	root := t.TempDir()
	base := "/" + strings.Repeat("d", 220)
	mine, other := base+"/mine", base+"/other"
	pre := ClaudeProjectDir(mine)[:200]
	line := func(cwd string) string {
		return `{"type":"summary"}` + "\n" + `{"cwd":"` + cwd + `","sessionId":"s"}` + "\n"
	}
	touch(t, filepath.Join(root, "projects", pre+"-abc123", "s1.jsonl"), line(mine), time.Hour)
	touch(t, filepath.Join(root, "projects", pre+"-zzz999", "s2.jsonl"), line(other), 0)
	fs, err := Claude([]string{root}, mine, time.Time{})
	if err != nil || names(fs) != "s1.jsonl:main:s1:claudecode" {
		t.Fatalf("got %q %v", names(fs), err)
	}
}

func TestCodex(t *testing.T) {
	home := t.TempDir()
	meta := func(id, cwd string) string {
		return `{"type":"session_meta","payload":{"id":"` + id + `","cwd":"` + cwd + `"}}` + "\n" + `{"type":"turn_context"}` + "\n"
	}
	day := func(d string) string { return filepath.Join(home, "sessions", "2026", "01", d) }
	touch(t, filepath.Join(day("02"), "rollout-a.jsonl"), meta("A", "/repo/a"), time.Minute)
	touch(t, filepath.Join(day("03"), "rollout-b1.jsonl"), meta("B1", "/repo/b"), 3*time.Hour)
	touch(t, filepath.Join(day("03"), "rollout-b2.jsonl"), meta("B2", "/repo/b"), time.Hour)
	touch(t, filepath.Join(day("04"), "rollout-nometa.jsonl"), `{"type":"turn_context"}`+"\n", 0)
	// A session resumed today appends to its rollout under its first day.
	touch(t, filepath.Join(home, "sessions", "2025", "12", "01", "rollout-c.jsonl"), meta("C", "/repo/c"), 0)
	b, err := os.ReadFile("/work/shared/fixtures/codex/codemie_cli0.77.0_dup-token-count_rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl")
	if err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	touch(t, filepath.Join(day("02"), "rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"), string(b), 2*time.Hour)

	now := time.Now()
	tests := []struct {
		name, dir string
		since     time.Time
		want      string // session id, "" for none
	}{
		{"matches cwd", "/repo/a", time.Time{}, "A"},
		{"newest of two for a cwd", "/repo/b", time.Time{}, "B2"},
		{"trailing slash", "/repo/b/", time.Time{}, "B2"},
		{"since leaves only the older one out", "/repo/b", now.Add(-2 * time.Hour), "B2"},
		{"since after every session of the cwd", "/repo/b", now.Add(-30 * time.Minute), ""},
		{"resumed session in an old day directory", "/repo/c", now.Add(-time.Minute), "C"},
		{"no session for the cwd", "/repo/none", time.Time{}, ""},
		{"real rollout", "/Users/Nikita_Levyankov/repos/EPMCDME/codemie-ai/codemie-code", time.Time{}, "019b7f94-51b4-7593-922e-ba12b5b73b52"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Codex(home, tt.dir, tt.since)
			got := ""
			if len(fs) == 1 {
				got = fs[0].SessionID
				if fs[0].Agent != "codex" || fs[0].Subagent {
					t.Fatalf("%+v", fs[0])
				}
			}
			if err != nil || len(fs) > 1 || got != tt.want {
				t.Fatalf("got %+v %v, want session %q", fs, err, tt.want)
			}
		})
	}
}

func TestCodexHome(t *testing.T) {
	for _, tt := range []struct{ env, want string }{{"", "/h/.codex"}, {"/x", "/x"}} {
		if got := CodexHome(func(string) string { return tt.env }, "/h"); got != tt.want {
			t.Errorf("CODEX_HOME=%q: %q want %q", tt.env, got, tt.want)
		}
	}
}
