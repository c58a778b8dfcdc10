package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// NoticeEvery is how often one problem may be reported on a terminal.
const NoticeEvery = time.Hour

// notify prints, as one line, the problems not reported in the last hour by
// any gtrun process of this user. Each kind of problem has a marker file
// whose mtime is when it was last reported; the flock on it makes
// concurrent calls agree on who reports. The markers live in the state
// directory, else (full, read-only or unreadable: the very problems being
// reported) in a per-user directory under $XDG_RUNTIME_DIR or the temp
// directory, so a broken state directory costs one line an hour, not one
// per call.
func notify(w io.Writer, problems []string, now time.Time) {
	if w == nil || len(problems) == 0 {
		return
	}
	dirs := noticeDirs()
	var due []string
	for _, p := range problems {
		if claim(dirs, p, now) {
			due = append(due, p)
		}
	}
	if len(due) > 0 {
		fmt.Fprintf(w, "gtrun: warning: %s\n", strings.Join(due, "; "))
	}
}

// noticeDirs are where markers may be kept, best first.
func noticeDirs() []string {
	var dirs []string
	if d, err := state.Sub("notices"); err == nil {
		dirs = append(dirs, d)
	}
	if r := os.Getenv("XDG_RUNTIME_DIR"); r != "" && filepath.IsAbs(r) {
		dirs = append(dirs, filepath.Join(r, "gtrun-notices"))
	}
	return append(dirs, filepath.Join(os.TempDir(), "gtrun-notices-"+strconv.Itoa(os.Getuid())))
}

type claimResult int

const (
	claimFailed claimResult = iota // no marker could be kept there
	claimDue                       // not reported in the last hour: report it
	claimRecent                    // reported in the last hour
)

// claim reports whether problem is due, keeping its marker in the first
// directory that works; with none working it is due (said rather than
// hidden).
func claim(dirs []string, problem string, now time.Time) bool {
	sum := sha256.Sum256([]byte(problemKind(problem)))
	name := hex.EncodeToString(sum[:8])
	for _, d := range dirs {
		if state.MkdirAll(d) != nil {
			continue // refuses a directory another user planted
		}
		switch claimNotice(filepath.Join(d, name), problem, now) {
		case claimDue:
			return true
		case claimRecent:
			return false
		}
	}
	return true
}

func claimNotice(path, problem string, now time.Time) claimResult {
	lk, err := state.LockFile(path)
	if err != nil {
		return claimFailed
	}
	defer lk.Unlock()
	f := lk.File()
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && now.Sub(fi.ModTime()) < NoticeEvery && !fi.ModTime().After(now) {
		return claimRecent
	}
	f.Truncate(0)
	if _, err := f.WriteAt([]byte(problem+"\n"), 0); err != nil || os.Chtimes(path, now, now) != nil {
		os.Remove(path) // a full disk: leave no empty marker behind
		return claimFailed
	}
	return claimDue
}

// problemKind is what makes two problems the same for the hourly limit:
// the message without its paths and numbers, which change from call to
// call (a journal segment's name, a pid) while the problem does not.
func problemKind(p string) string {
	f := strings.Fields(p)
	for i, w := range f {
		if strings.ContainsRune(w, '/') {
			f[i] = "PATH"
		} else if strings.ContainsAny(w, "0123456789") {
			f[i] = "N"
		}
	}
	return strings.Join(f, " ")
}
