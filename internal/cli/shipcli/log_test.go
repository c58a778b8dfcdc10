package shipcli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The agent's log stays bounded whatever its lifetime: past logMax it is
// rotated while running, not only at the next start.
func TestLogBoundedBySize(t *testing.T) {
	dir := t.TempDir()
	w := openLog(dir)
	line := fmt.Sprintf("%0100d\n", 0)
	for i := 0; i < 3*logMax/len(line); i++ {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"log", "log.1"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > logMax {
			t.Errorf("%s is %d bytes, bound %d", p, fi.Size(), logMax)
		}
	}
}
