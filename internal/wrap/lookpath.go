package wrap

// Command lookup and start failures, classified the way a POSIX shell
// (bash) classifies them, so `gtrun CMD` fails with the status and message
// the user would get without gtrun.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Error is a failure to start the child, with gtrun's exit status for it.
type Error struct {
	Code int // 127 not found, 126 not executable, 125 other
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// LookPath resolves file like bash does: a name with a slash is used as
// is; otherwise the first executable regular file on PATH wins (an empty
// PATH entry is the current directory). When PATH only has a
// non-executable file of that name, bash reports it as "Permission
// denied" (126), not "command not found" (127); so does LookPath.
func LookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		if e := classify(file); e != nil {
			return "", e
		}
		return file, nil
	}
	var notExec string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if !strings.Contains(p, "/") {
			p = "./" + p // "." on PATH: keep it a path, as the shell does
		}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
		if notExec == "" {
			notExec = p
		}
	}
	if notExec != "" {
		return "", &Error{126, fmt.Sprintf("gtrun: %s: Permission denied", notExec)}
	}
	return "", &Error{127, fmt.Sprintf("gtrun: %s: command not found", file)}
}

// classify reports why path cannot be run, or nil if it looks runnable.
func classify(path string) *Error {
	fi, err := os.Stat(path)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		return &Error{127, fmt.Sprintf("gtrun: %s: No such file or directory", path)}
	case err == nil && fi.IsDir():
		return &Error{126, fmt.Sprintf("gtrun: %s: Is a directory", path)}
	case err == nil && unix.Access(path, unix.X_OK) != nil:
		return &Error{126, fmt.Sprintf("gtrun: %s: Permission denied", path)}
	}
	return nil
}

// startError maps an execve failure to the shell's status and message.
func startError(path string, err error) *Error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return &Error{127, fmt.Sprintf("gtrun: %s: No such file or directory", path)}
	case errors.Is(err, syscall.ENOEXEC):
		return &Error{126, fmt.Sprintf("gtrun: %s: cannot execute binary file: Exec format error", path)}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &Error{126, fmt.Sprintf("gtrun: %s: Permission denied", path)}
	case errors.Is(err, syscall.EISDIR):
		return &Error{126, fmt.Sprintf("gtrun: %s: Is a directory", path)}
	}
	return &Error{125, fmt.Sprintf("gtrun: %s: %v", path, err)}
}

// shellScript reports whether path, which execve refused with ENOEXEC, is
// a script without "#!" that execvp(3) and the shell would hand to sh.
// Like bash, it calls a file binary when a NUL byte comes before the first
// newline in its first 80 bytes.
func shellScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 80)
	n, _ := f.Read(buf)
	for _, c := range buf[:n] {
		switch c {
		case '\n':
			return true
		case 0:
			return false
		}
	}
	return true
}
