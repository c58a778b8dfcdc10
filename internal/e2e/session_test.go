package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

func tmuxEnv(t *testing.T, vm *backendtest.VM, vl *backendtest.VL) *env {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required: apt-get install -y tmux")
	}
	sock := fmt.Sprintf("gtrun-e2e-%d", time.Now().UnixNano())
	tmp := t.TempDir()
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "TMUX_TMPDIR", tmp, "GTRUN_TMUX_SOCKET", sock, "GT_OTEL_FLUSH_TIMEOUT", "5s")
	if vm != nil {
		e.set("GT_OTEL_METRICS_URL", vm.OTLPURL)
	}
	t.Cleanup(func() {
		c := exec.Command("tmux", "-L", sock, "kill-server")
		c.Env = append(os.Environ(), "TMUX_TMPDIR="+tmp)
		c.Run()
		// The pane wrappers report session.stop after tmux is gone; let
		// them finish before their state directory is removed.
		waitNoProcessWithEnv(t, "GTRUN_STATE_DIR="+e.state, 15*time.Second)
	})
	return e
}

// waitNoProcessWithEnv waits until no process but the delivery agent (the
// test's env stops it) has kv in its environment.
func waitNoProcessWithEnv(t *testing.T, kv string, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		found := false
		envs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range envs {
			b, err := os.ReadFile(p)
			exe, _ := os.Readlink(filepath.Join(filepath.Dir(p), "exe"))
			if err == nil && filepath.Base(exe) != "gtrun-shipper" && strings.Contains("\x00"+string(b), "\x00"+kv+"\x00") {
				found = true
				break
			}
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("processes with %s still running after %v", kv, within)
}

// waitFileExists polls for path, failing at the deadline.
func waitFileExists(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) tmux(args ...string) error {
	c := exec.Command("tmux", append([]string{"-L", e.vars["GTRUN_TMUX_SOCKET"]}, args...)...)
	c.Env = append(os.Environ(), "TMUX_TMPDIR="+e.vars["TMUX_TMPDIR"])
	return c.Run()
}

// Issue 6: exactly one session.start and one session.stop per session,
// whichever way it ends, same run id, sensible duration and exit code.
func TestSessionStopExactlyOnce(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	e := tmuxEnv(t, vm, vl)
	cases := []struct {
		name, cmd string
		end       func(name string)
		code      string
	}{
		{"selfexit", "sleep 0.3; exit 3", nil, "3"},
		{"gtrunstop", "sleep 60", func(n string) { e.run("", "session", "stop", n) }, "129"},
		{"killsession", "sleep 60", func(n string) { e.tmux("kill-session", "-t", "="+n) }, "129"},
		{"killserver", "sleep 60", func(n string) { e.tmux("kill-server") }, "129"},
	}
	runs := map[string]string{}
	readyDir := t.TempDir()
	for _, c := range cases {
		ready := filepath.Join(readyDir, c.name)
		r := e.run("", "session", "start", c.name, "--role", "witness", "--", "sh", "-c", ": > "+ready+"; "+c.cmd)
		if r.code != 0 {
			t.Fatalf("%s: %+v", c.name, r)
		}
		runs[c.name] = strings.TrimSpace(r.stdout)
		if c.end != nil {
			waitFileExists(t, ready, 10*time.Second) // the command runs inside the pane
			if c.name == "killserver" {
				// Killing the server ends every session: let selfexit end on its own first.
				vl.WaitCount(t, `_msg:"session.stop" AND session_id:=selfexit`, 1, 20*time.Second)
			}
			c.end(c.name)
		}
	}
	for _, c := range cases {
		starts := vl.WaitCount(t, `_msg:"session.start" AND session_id:=`+c.name, 1, 20*time.Second)
		stops := vl.WaitCount(t, `_msg:"session.stop" AND session_id:=`+c.name, 1, 20*time.Second)
		if starts[0]["run.id"] != runs[c.name] || stops[0]["run.id"] != runs[c.name] || starts[0]["role"] != "witness" {
			t.Errorf("%s: run ids %q %q want %q", c.name, starts[0]["run.id"], stops[0]["run.id"], runs[c.name])
		}
		if stops[0]["exit_code"] != c.code {
			t.Errorf("%s: exit_code %q want %q", c.name, stops[0]["exit_code"], c.code)
		}
		d, _ := strconv.Atoi(stops[0]["duration_ms"])
		least := 1
		if c.name == "selfexit" {
			least = 250 // it sleeps 0.3 s
		}
		if d < least || d > 20000 {
			t.Errorf("%s: duration %dms", c.name, d)
		}
		wantStatus := "ok"
		if c.name == "selfexit" {
			wantStatus = "error"
		}
		if stops[0]["status"] != wantStatus {
			t.Errorf("%s: status %q", c.name, stops[0]["status"])
		}
	}
	// `session stop` after the end must not add a second stop.
	e.run("", "session", "stop", "selfexit")
	vl.WaitCount(t, `_msg:"session.stop" AND session_id:=selfexit`, 1, 3*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.session.starts.total[1h]))`, 4, 20*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.session.stops.total[1h]))`, 4, 20*time.Second)

	// A duplicate name fails with tmux's message and a session.start error.
	e.run("", "session", "start", "dup", "--", "sleep", "60")
	r := e.run("", "session", "start", "dup", "--", "sleep", "60")
	if r.code == 0 || !strings.Contains(r.stderr, "duplicate session: dup") {
		t.Fatalf("duplicate: %+v", r)
	}
	errs := vl.WaitCount(t, `_msg:"session.start" AND session_id:=dup AND status:=error`, 1, 20*time.Second)
	if !strings.Contains(errs[0]["error"], "duplicate session") {
		t.Fatalf("%v", errs[0])
	}
}

func TestSessionSend(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := tmuxEnv(t, nil, vl)
	if r := e.run("", "session", "start", "catty", "--", "cat", "-"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	text := "fix the login bug; then run `bd ready`"
	if r := e.run("", "session", "send", "catty", "--debounce-ms", "50", text); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := exec.Command("tmux", "-L", e.vars["GTRUN_TMUX_SOCKET"], "capture-pane", "-p", "-t", "=catty:")
		c.Env = append(os.Environ(), "TMUX_TMPDIR="+e.vars["TMUX_TMPDIR"])
		out, _ := c.Output()
		if strings.Count(string(out), text) == 2 { // typed, then echoed by cat after Enter
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pane: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs := vl.WaitCount(t, `_msg:"prompt.send"`, 1, 20*time.Second)
	if recs[0]["keys_len"] != strconv.Itoa(len(text)) || recs[0]["debounce_ms"] != "50" || recs[0]["session"] != "catty" {
		t.Fatalf("%v", recs[0])
	}
	if _, ok := recs[0]["keys"]; ok {
		t.Fatal("keys exported without GT_LOG_PROMPT_KEYS")
	}
}

// Issue 6: an agent writing a Claude transcript while it runs gives
// agent.instantiate (git branch/commit right) and the transcript's events
// and usage under one run id; no agent-log process is left behind.
func TestAgentWithAgentLog(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_LOG_AGENT_OUTPUT", "true", "GT_ROLE", "polecat",
		"GT_POLECAT", "Toast", "GT_ROOT", "/town/gt", "GT_WORK_BEAD", "gt-w9")
	claudeDir := t.TempDir()
	e.set("CLAUDE_CONFIG_DIR", claudeDir)
	repoDir := t.TempDir()
	git := func(args ...string) string {
		c := exec.Command("git", args...)
		c.Dir = repoDir
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "feature-x")
	git("commit", "-q", "--allow-empty", "-m", "init")
	head := git("rev-parse", "HEAD")
	// The fake agent writes the spotter transcript line by line into the
	// project dir Claude Code would use for this working directory.
	proj := filepath.Join(claudeDir, "projects", strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, repoDir))
	src, _ := filepath.Abs(filepath.Join(fixtures, "claude", "spotter_v2.1.38_short_one-msgid-5-lines.jsonl"))
	agent := filepath.Join(t.TempDir(), "claude")
	os.WriteFile(agent, []byte(fmt.Sprintf(`#!/bin/sh
mkdir -p %q
f=%q/55604662-cf2a-4331-851a-ec234028f8ca.jsonl
while IFS= read -r line; do printf '%%s\n' "$line" >> "$f"; sleep 0.05; done < %q
echo agent done
`, proj, proj, src)), 0o755)
	cmd := exec.Command(gtrunBin, "agent", "--session", "gt-gastown-Toast", "--", agent)
	cmd.Dir = repoDir
	cmd.Env = append(e.list(), "GT_RUN=run-agent-1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "agent done") {
		t.Fatalf("agent: %v %s", err, out)
	}
	inst := vl.WaitCount(t, `_msg:"agent.instantiate" AND "run.id":="run-agent-1"`, 1, 20*time.Second)[0]
	for k, want := range map[string]string{"git_branch": "feature-x", "git_commit": head, "agent_type": "claudecode",
		"agent_name": "Toast", "role": "polecat", "session_id": "gt-gastown-Toast", "issue_id": "gt-w9", "town_root": "/town/gt"} {
		if inst[k] != want {
			t.Errorf("agent.instantiate %s=%q want %q", k, inst[k], want)
		}
	}
	if !strings.HasSuffix(inst["instance"], ":gt") {
		t.Errorf("instance %q", inst["instance"])
	}
	usage := vl.WaitCount(t, `_msg:"agent.usage" AND "run.id":="run-agent-1"`, 1, 20*time.Second)
	if usage[0]["session"] != "gt-gastown-Toast" || usage[0]["native_session_id"] != "55604662-cf2a-4331-851a-ec234028f8ca" {
		t.Errorf("usage: %v", usage[0])
	}
	vl.WaitCount(t, `_msg:"agent.event" AND "run.id":="run-agent-1"`, 9, 20*time.Second)
	// No agent-log left: its single-instance lock is free again.
	lock := filepath.Join(e.state, "agent-log", "gt-gastown-Toast.lock")
	if out, _ := exec.Command("sh", "-c", "pgrep -f '[a]gent-log --session gt-gastown-Toast' || true").Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("agent-log still running: %s", out)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("agent-log never ran: %v", err)
	}
}
