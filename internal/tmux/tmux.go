// Package tmux drives a tmux server by argv only, never through a shell
// string, so no session name, directory, command word or typed text is ever
// interpreted by a shell.
//
// Three tmux behaviours make "argv only" not quite enough, and the package
// handles each one:
//
//   - Targets are always exact: sessions as "=NAME" and panes as "=NAME:",
//     because a bare name prefix-matches another session ("foo" would hit
//     "foobar" once "foo" is gone).
//   - tmux splits its own command line at any argument ending in ';'
//     (command separator), so every such argument is escaped as "\;", which
//     tmux turns back into ';'.
//   - tmux expands "#{...}" and "#(shell command)" formats in session names
//     and in new-session -c. Names containing '#' are rejected and the
//     session directory is given as the tmux client's working directory
//     (which new-session uses when -c is absent) instead of -c.
//
// A private server (-L socket name, -S path, and TMUX_TMPDIR, which is
// honoured from the environment) keeps tests and users off the default
// server unless they ask for it.
package tmux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Server is one tmux server. The zero value is the default server (or the
// one named by $TMUX when run inside tmux), exactly as a plain "tmux" would
// pick it.
type Server struct {
	Socket     string   // -L NAME: socket NAME in $TMUX_TMPDIR/tmux-UID
	SocketPath string   // -S PATH; mutually exclusive with Socket
	Bin        string   // tmux binary; default "tmux" from PATH
	Env        []string // environment of the tmux client; nil inherits ours (so TMUX_TMPDIR is honoured)
}

// ValidateName rejects session names that tmux refuses, rewrites or
// expands, any of which would make later exact targets miss the session.
func ValidateName(name string) error {
	bad := func(why string) error { return fmt.Errorf("invalid session name %q: %s", name, why) }
	switch {
	case name == "":
		return errors.New("invalid session name: empty")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case strings.ContainsAny(name, ".:"):
		return bad("tmux does not allow '.' or ':'")
	case strings.HasPrefix(name, "-"):
		return bad("must not start with '-'")
	case strings.Contains(name, "#"):
		return bad("tmux expands '#' as a format")
	case strings.ContainsAny(name, `$\`):
		return bad(`tmux rewrites '$' and '\'`)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return bad("no whitespace or control/non-printing characters")
		}
	}
	return nil
}

// Error is a tmux command that failed, with tmux's own message.
type Error struct {
	Args []string // the tmux command and its arguments, after any -L/-S
	Msg  string   // tmux's stderr, trimmed
}

func (e *Error) Error() string { return "tmux " + e.Args[0] + ": " + e.Msg }

// IsNotFound reports whether err says the session, or the whole server,
// does not exist.
func IsNotFound(err error) bool {
	var te *Error
	if !errors.As(err, &te) {
		return false
	}
	m := te.Msg
	return strings.HasPrefix(m, "can't find session") ||
		// set-option's wording for a missing "=NAME:" target.
		strings.HasPrefix(m, "no such session") || strings.HasPrefix(m, "no such window") ||
		strings.HasPrefix(m, "no server running") ||
		// No socket file yet: the server was never started.
		strings.HasPrefix(m, "error connecting to") && strings.HasSuffix(m, "(No such file or directory)")
}

// escapeArg stops tmux from taking a trailing ';' as its command separator:
// tmux turns a trailing "\;" back into ';' (and only that), so "a;" → "a\;"
// and "a\;" → "a\\;" both arrive unchanged.
func escapeArg(a string) string {
	if strings.HasSuffix(a, ";") {
		return a[:len(a)-1] + `\;`
	}
	return a
}

// run executes one tmux command; dir, if set, is the client's working
// directory.
func (s *Server) run(ctx context.Context, dir string, args ...string) (string, error) {
	if s.Socket != "" && s.SocketPath != "" {
		return "", errors.New("tmux: set Socket (-L) or SocketPath (-S), not both")
	}
	bin := s.Bin
	if bin == "" {
		bin = "tmux"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("tmux not found on PATH: install tmux (%v)", err)
	}
	// A relative path would otherwise be resolved against dir.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	argv := make([]string, 0, len(args)+2)
	if s.SocketPath != "" {
		sock, err := filepath.Abs(s.SocketPath) // likewise
		if err != nil {
			return "", fmt.Errorf("tmux: socket path: %v", err)
		}
		argv = append(argv, "-S", sock)
	} else if s.Socket != "" {
		argv = append(argv, "-L", s.Socket)
	}
	for _, a := range args {
		argv = append(argv, escapeArg(a))
	}
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Env = s.Env
	cmd.Dir = dir
	// A server started by this client daemonizes with stdio on /dev/null;
	// should anything still hold our pipes, do not hang on them.
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("tmux %s: %w", args[0], ctx.Err())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "", fmt.Errorf("tmux %s: %w", args[0], err) // could not start (e.g. bad dir)
		}
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), &Error{Args: args, Msg: msg}
	}
	return out.String(), nil
}

// NewSession describes a detached session.
type NewSession struct {
	Name string
	// Dir is the pane's working directory (default: ours). It becomes the
	// tmux client's directory rather than -c, which tmux would
	// format-expand; it must exist.
	Dir string
	Env []string // KEY=VALUE set in the session (new-session -e, tmux ≥ 3.2)
	// Argv is the pane's command, one tmux argument per word. tmux execs
	// two or more words directly (execvp). A single word it would hand to
	// "$SHELL -c" as a command line, so that case runs
	// `sh -c 'exec "$0"' WORD` instead: the word is only ever the value of
	// $0, never parsed. Empty Argv runs tmux's default-command (normally
	// the user's shell).
	Argv          []string
	Width, Height int // initial size (-x/-y) when > 0
}

// NewSession creates a detached session. A failure carries tmux's message,
// e.g. "tmux new-session: duplicate session: NAME".
func (s *Server) NewSession(ctx context.Context, n NewSession) error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	args := []string{"new-session", "-d", "-s", n.Name}
	if n.Width > 0 {
		args = append(args, "-x", strconv.Itoa(n.Width))
	}
	if n.Height > 0 {
		args = append(args, "-y", strconv.Itoa(n.Height))
	}
	for _, kv := range n.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("tmux: session environment %q is not KEY=VALUE", kv)
		}
		args = append(args, "-e", kv)
	}
	argv := n.Argv
	if len(argv) == 1 {
		argv = []string{"sh", "-c", `exec "$0"`, argv[0]}
	}
	if len(argv) > 0 {
		args = append(append(args, "--"), argv...)
	}
	_, err := s.run(ctx, n.Dir, args...)
	return err
}

// HasSession reports whether the session exists (exact name). A server
// that is not running has no sessions; any other failure is an error.
func (s *Server) HasSession(ctx context.Context, name string) (bool, error) {
	if err := ValidateName(name); err != nil {
		return false, err
	}
	_, err := s.run(ctx, "", "has-session", "-t", "="+name)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// KillSession ends the session (exact name); its absence is an error
// (see IsNotFound).
func (s *Server) KillSession(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	_, err := s.run(ctx, "", "kill-session", "-t", "="+name)
	return err
}

// KillServer ends the server and every session on it, and returns once
// the server no longer answers (kill-server itself returns while it is
// still exiting, and a client arriving then gets "server exited
// unexpectedly"). A server that is not running is not an error.
func (s *Server) KillServer(ctx context.Context) error {
	_, err := s.run(ctx, "", "kill-server")
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(killWait)
	for {
		_, err := s.run(ctx, "", "list-sessions")
		switch {
		case IsNotFound(err):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("tmux kill-server: server still answering after %v", killWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const killWait = 5 * time.Second

// SendLiteral types text into the session's active pane as literal keys:
// -l skips key-name lookup (so "Enter" or "C-c" are just characters), "--"
// protects a leading '-', and a trailing ';' is escaped (see escapeArg).
// A newline in text reaches the pane as C-j. Keys sent right after
// NewSession can arrive before tmux has set up the pane's tty and be cooked
// under its initial settings (Enter as a bare CR, so a line-reading program
// never sees the line); wait for the program's first output first.
func (s *Server) SendLiteral(ctx context.Context, name, text string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if text == "" {
		return nil // tmux would reject an empty key argument
	}
	_, err := s.run(ctx, "", "send-keys", "-t", "="+name+":", "-l", "--", text)
	return err
}

// SendEnter presses Enter in the session's active pane.
func (s *Server) SendEnter(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	_, err := s.run(ctx, "", "send-keys", "-t", "="+name+":", "Enter")
	return err
}

// CapturePane returns the visible text of the session's active pane, one
// line per screen row (long lines are wrapped as displayed).
func (s *Server) CapturePane(ctx context.Context, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return s.run(ctx, "", "capture-pane", "-p", "-t", "="+name+":")
}

// PanePID returns the pid of the process running in the active pane of the
// session's current window (the first word of Argv, as tmux execs it).
func (s *Server) PanePID(ctx context.Context, name string) (int, error) {
	if err := ValidateName(name); err != nil {
		return 0, err
	}
	// Not display-message: its target may fail silently (empty output, exit 0).
	out, err := s.run(ctx, "", "list-panes", "-t", "="+name+":", "-F", "#{pane_active} #{pane_pid}")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "1 "); ok {
			pid, err := strconv.Atoi(p)
			if err != nil {
				return 0, fmt.Errorf("tmux list-panes: pane pid %q: %v", p, err)
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("tmux list-panes: no active pane in %q", out)
}

// SetOption sets a session option (set-option -t =NAME OPTION VALUE), for
// example "remain-on-exit" "on". The value is taken literally (no -F).
func (s *Server) SetOption(ctx context.Context, name, option, value string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	// "=NAME:" (not "=NAME") so window and pane options such as
	// remain-on-exit find the session's current window too.
	_, err := s.run(ctx, "", "set-option", "-t", "="+name+":", "--", option, value)
	return err
}
