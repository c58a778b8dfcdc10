// Package transcripts finds the JSONL transcripts a coding agent writes for
// a work directory: Claude Code's projects/<dir>/<session>.jsonl with its
// subagent files, and Codex's sessions/YYYY/MM/DD/rollout-*.jsonl.
//
// "The session" is the newest session file (by modification time) whose
// modification time is at or after since; a zero since means the newest of
// all. An agent writes its transcript continuously, so the session started
// by the agent gtrun launched at time T is the newest one touched since T,
// and a resumed older session (appended to again) counts too. Subagent
// files that appear later, or that were still empty when first seen, are
// found because the follower re-runs discovery on every poll; the lookups
// that read file contents are cached so a poll costs little more than a
// directory listing.
package transcripts

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf16"
)

// File is one transcript to follow.
type File struct {
	Path      string
	Subagent  bool
	SessionID string // the agent's own session id
	Agent     string // "claudecode" | "codex"
}

// ClaudeRoots lists Claude Code's config directories that exist: every
// entry of $CLAUDE_CONFIG_DIR (comma-separated), ~/.config/claude,
// ~/.claude, in that order, without duplicates (also through symlinks).
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
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil || seen[real] {
			continue
		}
		if fi, err := os.Stat(real); err == nil && fi.IsDir() {
			seen[real] = true
			out = append(out, abs)
		}
	}
	return out
}

// claudeMaxDir is where Claude Code cuts a long project directory name and
// appends a hash of the work dir.
const claudeMaxDir = 200

// ClaudeProjectDir is the work dir with every non-alphanumeric character
// replaced by '-' (/src/deep-manifest → -src-deep-manifest), as Claude
// Code's JavaScript does it: per UTF-16 code unit, so "é" gives one '-' and
// a character outside the BMP two. Claude Code cuts a name longer than 200
// characters and appends a hash; Claude matches that by prefix.
func ClaudeProjectDir(workDir string) string {
	var b strings.Builder
	for _, r := range workDir {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case utf16.RuneLen(r) == 2:
			b.WriteString("--")
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

type cand struct {
	path string
	mod  time.Time
}

// Claude returns the session transcript for workDir (the newest
// <session>.jsonl in projects/<ClaudeProjectDir> of any root, modified at
// or after since) and its subagent files: agent-*.jsonl beside it whose
// first sessionId is the session's (older layout) and
// <session>/subagents/agent-*.jsonl (newer layout). No session: nil.
func Claude(roots []string, workDir string, since time.Time) ([]File, error) {
	var sessions []cand
	pdir := ClaudeProjectDir(workDir)
	for _, r := range roots {
		for _, dir := range claudeDirs(filepath.Join(r, "projects"), pdir) {
			m, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
			for _, p := range m {
				if strings.HasPrefix(filepath.Base(p), "agent-") {
					continue
				}
				fi, err := os.Stat(p)
				if err != nil || fi.ModTime().Before(since) {
					continue
				}
				if len(pdir) > claudeMaxDir && !sameCwd(p, workDir) {
					continue // another long work dir with the same first 200 characters
				}
				sessions = append(sessions, cand{p, fi.ModTime()})
			}
		}
	}
	if len(sessions) == 0 {
		return nil, nil
	}
	sort.SliceStable(sessions, func(i, j int) bool { return sessions[i].mod.After(sessions[j].mod) })
	main := sessions[0].path
	id := strings.TrimSuffix(filepath.Base(main), ".jsonl")
	out := []File{{Path: main, SessionID: id, Agent: "claudecode"}}
	dir := filepath.Dir(main)
	// Older layout: agent-*.jsonl beside the session, tied to it by the
	// sessionId inside (an empty new file joins on a later poll).
	old, _ := filepath.Glob(filepath.Join(dir, "agent-*.jsonl"))
	for _, p := range old {
		if firstString(p, "sessionId") == id {
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

// claudeDirs returns the project directories under projects for the
// sanitized name pdir: the name itself, or for a name past 200 characters
// every "<first 200>-<hash>" (the hash is Bun's, not reproducible here).
func claudeDirs(projects, pdir string) []string {
	if len(pdir) <= claudeMaxDir {
		return []string{filepath.Join(projects, pdir)}
	}
	m, _ := filepath.Glob(filepath.Join(projects, pdir[:claudeMaxDir]+"-*"))
	return m
}

// sameCwd says whether a Claude transcript was written in workDir (a file
// with no cwd yet is given the benefit of the doubt).
func sameCwd(path, workDir string) bool {
	cwd := firstString(path, "cwd")
	return cwd == "" || filepath.Clean(cwd) == filepath.Clean(workDir)
}

// CodexHome is $CODEX_HOME, else ~/.codex.
func CodexHome(getenv func(string) string, home string) string {
	if h := getenv("CODEX_HOME"); h != "" {
		return h
	}
	return filepath.Join(home, ".codex")
}

// Codex returns the newest rollout (by modification time) modified at or
// after since whose session_meta payload.cwd is workDir. No match: nil.
// Every day directory is looked at: a resumed session appends to its
// rollout under the day it started.
func Codex(home, workDir string, since time.Time) ([]File, error) {
	m, _ := filepath.Glob(filepath.Join(home, "sessions", "[0-9]*", "[0-9]*", "[0-9]*", "rollout-*.jsonl"))
	var cs []cand
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil || fi.ModTime().Before(since) {
			continue
		}
		cs = append(cs, cand{p, fi.ModTime()})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].mod.After(cs[j].mod) })
	want := filepath.Clean(workDir)
	for _, c := range cs {
		id, cwd := codexMeta(c.path)
		if cwd != "" && filepath.Clean(cwd) == want {
			return []File{{Path: c.path, SessionID: id, Agent: "codex"}}, nil
		}
	}
	return nil, nil
}

// headLines is how many leading lines are searched for a field: Claude
// files may open with summary and file-history-snapshot lines.
const headLines = 50

type metaKey struct {
	path  string
	field string
}

type metaVal struct {
	dev, ino uint64
	val      string
}

// meta caches fields found in a file's first lines: they never change
// while the file (device and inode) is the same.
var meta sync.Map // metaKey → metaVal

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// cached returns the cached value of field for path, or computes it with
// read from the open file and caches a non-empty result.
func cached(path, field string, read func(*os.File) string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	dev, ino := fileID(fi)
	k := metaKey{path, field}
	if v, ok := meta.Load(k); ok && v.(metaVal).dev == dev && v.(metaVal).ino == ino {
		return v.(metaVal).val
	}
	val := read(f)
	if val != "" && ino != 0 {
		meta.Store(k, metaVal{dev, ino, val})
	}
	return val
}

// eachHeadLine calls fn on the first complete lines of f until it says stop.
func eachHeadLine(f *os.File, fn func(line []byte) bool) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for i := 0; i < headLines && sc.Scan(); i++ {
		if fn(sc.Bytes()) {
			return
		}
	}
}

// firstString is the first non-empty top-level string field of that name
// in the file's first lines.
func firstString(path, field string) string {
	return cached(path, field, func(f *os.File) string {
		var out string
		eachHeadLine(f, func(line []byte) bool {
			var l map[string]json.RawMessage
			if json.Unmarshal(line, &l) != nil {
				return false
			}
			var s string
			if json.Unmarshal(l[field], &s) == nil && s != "" {
				out = s
				return true
			}
			return false
		})
		return out
	})
}

// codexMeta reads a rollout's session_meta: the session id and cwd.
func codexMeta(path string) (id, cwd string) {
	v := cached(path, "session_meta", func(f *os.File) string {
		var out string
		eachHeadLine(f, func(line []byte) bool {
			var l struct {
				Type    string `json:"type"`
				Payload struct {
					ID  string `json:"id"`
					Cwd string `json:"cwd"`
				} `json:"payload"`
			}
			if json.Unmarshal(line, &l) == nil && l.Type == "session_meta" {
				out = l.Payload.ID + "\x00" + l.Payload.Cwd
				return true
			}
			return false
		})
		return out
	})
	id, cwd, _ = strings.Cut(v, "\x00")
	return id, cwd
}
