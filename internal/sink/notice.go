package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// NoticeEvery is how often one problem may be reported on a terminal.
const NoticeEvery = time.Hour

// notify prints, as one line, the problems not reported in the last hour by
// any gtrun process of this user. Each problem has a marker file whose
// mtime is when it was last reported; the flock on it makes concurrent
// calls agree on who reports.
func notify(w io.Writer, problems []string, now time.Time) {
	if w == nil || len(problems) == 0 {
		return
	}
	var due []string
	dir, err := state.Sub("notices")
	for _, p := range problems {
		if err != nil || claimNotice(dir, p, now) {
			due = append(due, p)
		}
	}
	if len(due) > 0 {
		fmt.Fprintf(w, "gtrun: warning: %s\n", strings.Join(due, "; "))
	}
}

func claimNotice(dir, problem string, now time.Time) bool {
	sum := sha256.Sum256([]byte(problem))
	path := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	lk, err := state.LockFile(path)
	if err != nil {
		return true // cannot rate-limit: say it rather than hide it
	}
	defer lk.Unlock()
	if fi, err := lk.File().Stat(); err == nil && fi.Size() > 0 && now.Sub(fi.ModTime()) < NoticeEvery && !fi.ModTime().After(now) {
		return false
	}
	f := lk.File()
	f.Truncate(0)
	f.WriteAt([]byte(problem+"\n"), 0)
	os.Chtimes(path, now, now)
	return true
}
