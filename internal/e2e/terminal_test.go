package e2e

// The user's terminal under gtrun, driven through tmux: job control
// (Ctrl-Z, fg), pagers, full-screen programs, Ctrl-C in a loop, nohup.
// Each runs the same keystrokes in an interactive bash with $W set to
// "gtrun" (or "gtrun --pty") and to "" (bare), and compares what the pane
// shows. Every wait polls the pane (or a file) with a deadline.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pane is an interactive bash in a tmux session of its own (private
// socket), 100x30.
type pane struct {
	t      *testing.T
	sock   string
	name   string
	dir    string // the shell's working directory
	marker int
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9]+`)

func newPane(t *testing.T, w string) *pane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required for the terminal tests: install tmux")
	}
	e := newEnv(t)
	dir := t.TempDir()
	p := &pane{t: t, sock: fmt.Sprintf("gtrun-term-%d-%s-%s", os.Getpid(), unsafeName.ReplaceAllString(t.Name(), "-"), unsafeName.ReplaceAllString(w, "-")), name: "term", dir: dir}
	if len(p.sock) > 90 {
		p.sock = p.sock[:90]
	}
	env := append(e.list(),
		"PATH="+filepath.Dir(gtrunBin)+":"+e.vars["PATH"],
		"HISTFILE=/dev/null", "TERM=xterm-256color", "LC_ALL=C",
		"GORACE=atexit_sleep_ms=0", // the -race gtrun would sleep 1 s at exit
		"W="+w)
	c := exec.Command("tmux", "-L", p.sock, "-f", "/dev/null", "new-session", "-d", "-s", p.name,
		"-x", "100", "-y", "30", "-c", dir, "PS1='$ ' exec bash --norc --noprofile -i")
	c.Env = env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", p.sock, "kill-server").Run() })
	p.sync()
	return p
}

func (p *pane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.sock}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// typeLine types text and Enter.
func (p *pane) typeLine(text string) {
	p.t.Helper()
	p.tmux("send-keys", "-t", "="+p.name+":", "-l", text)
	p.tmux("send-keys", "-t", "="+p.name+":", "Enter")
}

// key sends a tmux key name (C-z, C-c, q, ...).
func (p *pane) key(k string) {
	p.t.Helper()
	p.tmux("send-keys", "-t", "="+p.name+":", k)
}

func (p *pane) screen() string {
	p.t.Helper()
	return p.tmux("capture-pane", "-p", "-t", "="+p.name+":")
}

// waitFor polls the pane until ok holds for what it shows.
func (p *pane) waitFor(what string, ok func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pane never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasLine: the pane shows line on a line of its own.
func hasLine(line string) func(string) bool {
	return func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if strings.TrimRight(l, " ") == line {
				return true
			}
		}
		return false
	}
}

// sync waits until the shell has run everything typed so far and is
// reading commands again.
func (p *pane) sync() {
	p.t.Helper()
	p.marker++
	m := fmt.Sprintf("sync-%d", p.marker)
	p.typeLine("echo " + m)
	p.waitFor("the shell answering "+m, hasLine(m))
}

// clear empties the pane and its history, so screens compare from a
// known start.
func (p *pane) clear() {
	p.t.Helper()
	p.typeLine("clear")
	p.waitFor("a cleared pane", func(s string) bool { return strings.TrimSpace(s) == "$" })
	p.tmux("clear-history", "-t", "="+p.name+":")
}

// waitFile polls until path has content.
func waitFileContent(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procState is the state letter of a process (R, S, T, Z...), "" if gone.
func procState(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
		if f := strings.Fields(string(b[i+1:])); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}

var wrappers = []struct{ name, w string }{{"bare", ""}, {"gtrun", "gtrun"}, {"gtrun --pty", "gtrun --pty"}}

// Ctrl-Z stops the wrapped command (the child itself, not only gtrun) and
// gives the shell back; fg resumes it and it ends with its own status.
func TestTerminalCtrlZThenFg(t *testing.T) {
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			p := newPane(t, w.w)
			p.typeLine(`$W sh -c 'echo $$ > pid; sleep 5; exit 7'`)
			pid := waitFileContent(t, filepath.Join(p.dir, "pid"))
			p.key("C-z")
			p.waitFor("the job stopped", func(s string) bool { return strings.Contains(s, "Stopped") })
			p.sync() // the shell works while the job is stopped
			if st := procState(pid); st != "T" {
				t.Fatalf("the command is in state %q while its job is stopped, want T", st)
			}
			p.typeLine("fg")
			p.typeLine("echo rc=$?")
			p.waitFor("rc=7 after fg", hasLine("rc=7"))
			p.sync()
		})
	}
}

// `seq 1 500 | less`, then q: less draws as bare (it is not stopped by
// SIGTTOU: gtrun does not take the terminal from its pipeline), and the
// shell is usable afterwards.
func TestTerminalPager(t *testing.T) {
	screens := map[string]string{}
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			p := newPane(t, w.w)
			p.clear()
			p.typeLine(`$W seq 1 500 | less`)
			s := p.waitFor("less showing the first page", func(s string) bool {
				return strings.HasPrefix(s, "1\n2\n3\n") && strings.Contains(s, "\n29\n:")
			})
			if strings.Contains(s, "Stopped") {
				t.Fatalf("the pager was stopped:\n%s", s)
			}
			screens[w.name] = s
			p.key("q")
			p.sync()
			if s := p.screen(); strings.Contains(s, "Stopped") {
				t.Fatalf("a job was stopped:\n%s", s)
			}
			if bare, ok := screens["bare"]; ok && w.name != "bare" && screens[w.name] != bare {
				t.Fatalf("less under %s shows\n%s\nbare shows\n%s", w.name, screens[w.name], bare)
			}
		})
	}
}

// Full-screen programs (vim, and less on a file) draw and quit exactly as
// bare: the pane is compared while they run and after they quit.
func TestTerminalFullScreen(t *testing.T) {
	progs := []struct {
		name, cmd, drawn, quit string
	}{
		{"vim", `$W vim -u NONE -i NONE -N f.txt`, `"f.txt" 3L`, ":q\r"},
		{"less", `$W less f.txt`, "f.txt (END)", "q"},
	}
	for _, prog := range progs {
		t.Run(prog.name, func(t *testing.T) {
			if _, err := exec.LookPath(prog.name); err != nil {
				t.Fatalf("%s is required for this test", prog.name)
			}
			during, after := map[string]string{}, map[string]string{}
			for _, w := range wrappers {
				p := newPane(t, w.w)
				os.WriteFile(filepath.Join(p.dir, "f.txt"), []byte("first line\nsecond line\nthird line\n"), 0o600)
				p.clear()
				p.typeLine(prog.cmd)
				during[w.name] = p.waitFor(prog.name+" drawn under "+w.name, func(s string) bool { return strings.Contains(s, prog.drawn) })
				for _, k := range strings.Split(prog.quit, "") {
					if k == "\r" {
						p.key("Enter")
					} else {
						p.tmux("send-keys", "-t", "="+p.name+":", "-l", k)
					}
				}
				// A program that restores the terminal with TCSAFLUSH drops
				// what was typed meanwhile: wait for the prompt first.
				after[w.name] = p.waitFor("the prompt after quitting "+prog.name+" under "+w.name, func(s string) bool {
					lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
					return len(lines) >= 2 && strings.TrimSpace(lines[len(lines)-1]) == "$" && strings.HasSuffix(lines[len(lines)-2], prog.cmd)
				})
				p.sync()
			}
			for _, w := range wrappers[1:] {
				if during[w.name] != during["bare"] {
					t.Errorf("%s under %s shows\n%s\nbare\n%s", prog.name, w.name, during[w.name], during["bare"])
				}
				if after[w.name] != after["bare"] {
					t.Errorf("after quitting %s under %s the pane shows\n%s\nbare\n%s", prog.name, w.name, after[w.name], after["bare"])
				}
			}
		})
	}
}

// Ctrl-C during `for i in 1 2 3; do CMD; echo next$i; done` stops the
// loop, as bare: gtrun must die of the child's SIGINT (wrap.ExitLike),
// not exit 130, or bash goes on with the loop.
func TestTerminalCtrlCStopsLoop(t *testing.T) {
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			p := newPane(t, w.w)
			p.typeLine(`for i in 1 2 3; do $W sh -c 'echo $$ > pid.'$i'; exec sleep 3'; echo next$i; done`)
			waitFileContent(t, filepath.Join(p.dir, "pid.1"))
			p.key("C-c")
			p.sync()
			if s := p.screen(); strings.Contains(s, "next1") {
				t.Fatalf("the loop went on after Ctrl-C (gtrun must re-raise the child's SIGINT: wrap.ExitLike):\n%s", s)
			}
		})
	}
}

// nohup: a SIGHUP the command sends itself stays ignored under gtrun.
func TestTerminalNohup(t *testing.T) {
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			p := newPane(t, w.w)
			p.typeLine(`nohup $W sh -c 'kill -HUP $$; echo alive' 2>/dev/null | cat`)
			p.waitFor("alive", hasLine("alive"))
			p.sync()
		})
	}
}
