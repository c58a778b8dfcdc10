package transcripts

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func touch(t *testing.T, p, content string, age time.Duration) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o700)
	os.WriteFile(p, []byte(content), 0o600)
	m := time.Now().Add(-age)
	os.Chtimes(p, m, m)
}

func TestProjectDir(t *testing.T) {
	for in, want := range map[string]string{"/src/deep-manifest": "-src-deep-manifest", "/home/a.b/c_d e": "-home-a-b-c-d-e"} {
		if got := ClaudeProjectDir(in); got != want {
			t.Errorf("%q → %q want %q", in, got, want)
		}
	}
}

func TestClaudeRootsAndSessions(t *testing.T) {
	home := t.TempDir()
	r1, r2 := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(home, ".claude"), 0o700)
	env := map[string]string{"CLAUDE_CONFIG_DIR": r1 + ", " + r2 + ",/does/not/exist," + r1}
	roots := ClaudeRoots(func(k string) string { return env[k] }, home)
	if len(roots) != 3 || roots[0] != r1 || roots[1] != r2 || roots[2] != filepath.Join(home, ".claude") {
		t.Fatalf("roots %v", roots)
	}
	p1 := filepath.Join(r1, "projects", "-w")
	p2 := filepath.Join(r2, "projects", "-w")
	touch(t, filepath.Join(p1, "old.jsonl"), `{"sessionId":"old"}`+"\n", 3*time.Hour)
	touch(t, filepath.Join(p2, "new.jsonl"), `{"sessionId":"new"}`+"\n", time.Minute)
	touch(t, filepath.Join(p2, "agent-aaaa.jsonl"), `{"sessionId":"new","isSidechain":true}`+"\n", time.Minute)
	touch(t, filepath.Join(p2, "agent-bbbb.jsonl"), `{"sessionId":"other"}`+"\n", time.Minute)
	touch(t, filepath.Join(p2, "new", "subagents", "agent-cccc.jsonl"), `{}`+"\n", time.Minute)
	files, err := Claude(roots, "/w", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range files {
		got[filepath.Base(f.Path)] = f.Subagent
		if f.SessionID != "new" {
			t.Errorf("%s: session %q", f.Path, f.SessionID)
		}
	}
	if len(got) != 3 || got["new.jsonl"] || !got["agent-aaaa.jsonl"] || !got["agent-cccc.jsonl"] {
		t.Fatalf("files %v", got)
	}
	// --since after both: nothing; before the old one only: the newest.
	if f, _ := Claude(roots, "/w", time.Now()); len(f) != 0 {
		t.Fatalf("since now: %v", f)
	}
	touch(t, filepath.Join(p1, "old.jsonl"), `{"sessionId":"old"}`+"\n", 0) // the old session is written again
	if f, _ := Claude(roots, "/w", time.Now().Add(-30*time.Second)); len(f) != 1 || filepath.Base(f[0].Path) != "old.jsonl" {
		t.Fatalf("since: %v", f)
	}
}

func TestCodexMatchesCwd(t *testing.T) {
	home := t.TempDir()
	meta := func(id, cwd string) string {
		return `{"type":"session_meta","payload":{"id":"` + id + `","cwd":"` + cwd + `"}}` + "\n"
	}
	touch(t, filepath.Join(home, "sessions", "2026", "01", "02", "rollout-a.jsonl"), meta("A", "/repo/a"), time.Minute)
	touch(t, filepath.Join(home, "sessions", "2026", "01", "03", "rollout-b.jsonl"), meta("B", "/repo/b"), 2*time.Minute)
	f, err := Codex(home, "/repo/b", time.Time{})
	if err != nil || len(f) != 1 || f[0].SessionID != "B" || f[0].Agent != "codex" {
		t.Fatalf("%v %v", f, err)
	}
	if CodexHome(func(string) string { return "" }, "/h") != "/h/.codex" || CodexHome(func(string) string { return "/x" }, "/h") != "/x" {
		t.Fatal("CodexHome")
	}
}
