// Package tmux drives a tmux server by argv only, never through a shell
// string, so no session name or typed text is ever interpreted by a shell.
// Targets are always exact: sessions as "=NAME" and panes as "=NAME:",
// because a bare name prefix-matches another session ("foo" → "foobar").
// A private server (-L socket name, or -S path, and TMUX_TMPDIR) keeps
// tests and users off the default server unless they ask for it.
package tmux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"unicode"
)

// Server is one tmux server.
type Server struct {
	Socket     string   // -L NAME
	SocketPath string   // -S PATH
	Bin        string   // default "tmux"
	Env        []string // environment for the tmux client (nil: inherit)
}

// ValidateName rejects names tmux refuses or mangles.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("invalid session name: empty")
	case strings.ContainsAny(name, ".:"):
		return fmt.Errorf("invalid session name %q: tmux does not allow '.' or ':'", name)
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("invalid session name %q: must not start with '-'", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("invalid session name %q: no spaces or control characters", name)
		}
	}
	return nil
}

func (s *Server) run(ctx context.Context, args ...string) (string, error) {
	bin := s.Bin
	if bin == "" {
		bin = "tmux"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("tmux not found on PATH: install tmux (%v)", err)
	}
	var pre []string
	if s.SocketPath != "" {
		pre = append(pre, "-S", s.SocketPath)
	} else if s.Socket != "" {
		pre = append(pre, "-L", s.Socket)
	}
	cmd := exec.CommandContext(ctx, path, append(pre, args...)...)
	cmd.Env = s.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), &Error{Args: args, Msg: msg}
	}
	return out.String(), nil
}

// Error is a failed tmux command with tmux's own message.
type Error struct {
	Args []string
	Msg  string
}

func (e *Error) Error() string { return "tmux " + e.Args[0] + ": " + e.Msg }

// NewSession describes a detached session.
type NewSession struct {
	Name string
	Dir  string
	Env  []string // KEY=VALUE set in the session (new-session -e)
	// Argv is the pane's command. tmux execs it directly when it has more
	// than one word; a single word would go through "sh -c", so NewSession
	// refuses fewer than two words (gtrun always passes
	// "gtrun session-run NAME -- CMD…").
	Argv          []string
	Width, Height int
}

// NewSession creates a detached session.
func (s *Server) NewSession(ctx context.Context, n NewSession) error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	if len(n.Argv) < 2 {
		return errors.New("tmux: the pane command needs at least two words to be exec'd without a shell")
	}
	args := []string{"new-session", "-d", "-s", n.Name}
	if n.Dir != "" {
		args = append(args, "-c", n.Dir)
	}
	if n.Width > 0 && n.Height > 0 {
		args = append(args, "-x", strconv.Itoa(n.Width), "-y", strconv.Itoa(n.Height))
	}
	for _, kv := range n.Env {
		args = append(args, "-e", kv)
	}
	args = append(args, "--")
	args = append(args, n.Argv...)
	_, err := s.run(ctx, args...)
	return err
}

// HasSession reports whether the session exists (exact name).
func (s *Server) HasSession(ctx context.Context, name string) (bool, error) {
	_, err := s.run(ctx, "has-session", "-t", "="+name)
	if err == nil {
		return true, nil
	}
	var te *Error
	if errors.As(err, &te) {
		return false, nil // "can't find session" or "no server running"
	}
	return false, err
}

// KillSession ends the session.
func (s *Server) KillSession(ctx context.Context, name string) error {
	_, err := s.run(ctx, "kill-session", "-t", "="+name)
	return err
}

// KillServer ends the server and every session on it.
func (s *Server) KillServer(ctx context.Context) error {
	_, err := s.run(ctx, "kill-server")
	return err
}

// SendLiteral types text into the session's active pane as literal keys
// (no key-name lookup, so "Enter" or a leading '-' are just characters).
func (s *Server) SendLiteral(ctx context.Context, name, text string) error {
	if text == "" {
		return nil
	}
	_, err := s.run(ctx, "send-keys", "-t", "="+name+":", "-l", "--", text)
	return err
}

// SendEnter presses Enter in the session's active pane.
func (s *Server) SendEnter(ctx context.Context, name string) error {
	_, err := s.run(ctx, "send-keys", "-t", "="+name+":", "Enter")
	return err
}

// CapturePane returns the visible text of the session's active pane.
func (s *Server) CapturePane(ctx context.Context, name string) (string, error) {
	return s.run(ctx, "capture-pane", "-p", "-t", "="+name+":")
}

// PanePID returns the pid of the pane's process.
func (s *Server) PanePID(ctx context.Context, name string) (int, error) {
	out, err := s.run(ctx, "display-message", "-p", "-t", "="+name+":", "#{pane_pid}")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}
