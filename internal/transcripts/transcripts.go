// Package transcripts finds the JSONL transcripts a coding agent writes for
// a work directory: Claude Code's projects/<dir>/<session>.jsonl with its
// subagent files, and Codex's sessions/YYYY/MM/DD/rollout-*.jsonl.
//
// "The session" is the newest session file whose modification time is at
// or after --since (zero: the newest of all). Subagent files that appear
// later are found because agent-log re-runs discovery on every poll.
package transcripts

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one transcript to follow.
type File struct {
	Path      string
	Subagent  bool
	SessionID string
	Agent     string // "claudecode" | "codex"
}

// ClaudeRoots lists Claude Code's config directories that exist: every
// entry of $CLAUDE_CONFIG_DIR (comma-separated), ~/.config/claude, ~/.claude.
func ClaudeRoots(getenv func(string) string, home string) []string {
	var cands []string
	for _, d := range strings.Split(getenv("CLAUDE_CONFIG_DIR"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			cands = append(cands, d)
		}
	}
	if home != "" {
		cands = append(cands, filepath.Join(home, ".config", "claude"), filepath.Join(home, ".claude"))
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range cands {
		abs, err := filepath.Abs(d)
		if err != nil || seen[abs] {
			continue
		}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	return out
}

// ClaudeProjectDir is the work dir with every non-alphanumeric character
// replaced by '-' (/src/deep-manifest → -src-deep-manifest).
func ClaudeProjectDir(workDir string) string {
	b := []byte(workDir)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

type cand struct {
	path string
	mod  time.Time
}

// Claude returns the session transcript for workDir and its subagent files.
func Claude(roots []string, workDir string, since time.Time) ([]File, error) {
	var sessions []cand
	pdir := ClaudeProjectDir(workDir)
	for _, r := range roots {
		m, _ := filepath.Glob(filepath.Join(r, "projects", pdir, "*.jsonl"))
		for _, p := range m {
			if strings.HasPrefix(filepath.Base(p), "agent-") {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || (!since.IsZero() && fi.ModTime().Before(since)) {
				continue
			}
			sessions = append(sessions, cand{p, fi.ModTime()})
		}
	}
	if len(sessions) == 0 {
		return nil, nil
	}
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].mod.After(sessions[j].mod) })
	main := sessions[0].path
	id := strings.TrimSuffix(filepath.Base(main), ".jsonl")
	out := []File{{Path: main, SessionID: id, Agent: "claudecode"}}
	dir := filepath.Dir(main)
	// Older layout: agent-*.jsonl beside the session, tied to it by sessionId.
	old, _ := filepath.Glob(filepath.Join(dir, "agent-*.jsonl"))
	for _, p := range old {
		if firstSessionID(p) == id {
			out = append(out, File{Path: p, Subagent: true, SessionID: id, Agent: "claudecode"})
		}
	}
	// Newer layout: <session>/subagents/agent-*.jsonl.
	nw, _ := filepath.Glob(filepath.Join(dir, id, "subagents", "agent-*.jsonl"))
	for _, p := range nw {
		out = append(out, File{Path: p, Subagent: true, SessionID: id, Agent: "claudecode"})
	}
	return out, nil
}

// firstSessionID reads the sessionId of a file's first line that has one.
func firstSessionID(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 0; sc.Scan() && i < 5; i++ {
		var l struct {
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.SessionID != "" {
			return l.SessionID
		}
	}
	return ""
}

// CodexHome is $CODEX_HOME, else ~/.codex.
func CodexHome(getenv func(string) string, home string) string {
	if h := getenv("CODEX_HOME"); h != "" {
		return h
	}
	return filepath.Join(home, ".codex")
}

// Codex returns the newest rollout at or after since whose session_meta
// cwd is workDir.
func Codex(home, workDir string, since time.Time) ([]File, error) {
	m, _ := filepath.Glob(filepath.Join(home, "sessions", "*", "*", "*", "rollout-*.jsonl"))
	var cs []cand
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil || (!since.IsZero() && fi.ModTime().Before(since)) {
			continue
		}
		cs = append(cs, cand{p, fi.ModTime()})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mod.After(cs[j].mod) })
	want := filepath.Clean(workDir)
	for _, c := range cs {
		id, cwd := codexMeta(c.path)
		if cwd != "" && filepath.Clean(cwd) == want {
			return []File{{Path: c.path, SessionID: id, Agent: "codex"}}, nil
		}
	}
	return nil, nil
}

func codexMeta(path string) (id, cwd string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 0; sc.Scan() && i < 5; i++ {
		var l struct {
			Type    string `json:"type"`
			Payload struct {
				ID  string `json:"id"`
				Cwd string `json:"cwd"`
			} `json:"payload"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Type == "session_meta" {
			return l.Payload.ID, l.Payload.Cwd
		}
	}
	return "", ""
}
