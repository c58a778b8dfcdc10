package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Window is the wall-clock span of one segment.
const Window = time.Minute

// Suffix ends every segment's file name.
const Suffix = ".gtj"

// Journal is a journal directory.
type Journal struct {
	Dir string
	// Now is the wall clock that picks the segment (time.Now; tests may
	// inject one). Record timestamps are not taken from it.
	Now func() time.Time
}

// Open returns the journal in dir, which must exist (0700).
func Open(dir string) *Journal { return &Journal{Dir: dir, Now: time.Now} }

// SegmentName is the name of the segment for wall-clock time t.
func SegmentName(t time.Time) string {
	return fmt.Sprintf("%011d%s", t.Unix()/int64(Window/time.Second)*int64(Window/time.Second), Suffix)
}

// SegmentStart returns the start of a segment's window (from its name).
func SegmentStart(name string) (time.Time, bool) {
	base := strings.TrimSuffix(filepath.Base(name), Suffix)
	if i := strings.IndexByte(base, '-'); i >= 0 {
		base = base[:i]
	}
	n, err := strconv.ParseInt(base, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// Append writes one entry payload as a frame. Concurrent writers in any
// number of processes are safe; it never blocks on another process.
func (j *Journal) Append(payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("journal: entry of %d bytes is over the %d limit", len(payload), MaxPayload)
	}
	frame := encodeFrame(TypeEntry, payload)
	name := SegmentName(j.Now())
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			name = fallbackName(name)
		}
		ok, err := j.appendTo(filepath.Join(j.Dir, name), frame)
		if ok {
			return nil
		}
		last = err
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
			break // another segment fails alike: no empty files for nothing
		}
	}
	return fmt.Errorf("journal: %v", last)
}

// appendTo appends frame to path unless the segment is sealed, removed or
// being sealed (ok=false: try another segment).
func (j *Journal) appendTo(path string, frame []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close() // also drops the shared lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false, errors.New("segment busy (being sealed)")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	if st.Nlink == 0 {
		return false, errors.New("segment removed")
	}
	if sealed, _ := sealedAt(f, st.Size); sealed {
		return false, errors.New("segment sealed")
	}
	if _, err := f.Write(frame); err != nil {
		if fi, serr := f.Stat(); serr == nil && fi.Size() == 0 {
			os.Remove(path) // created for this frame (full disk): no empty segment left
		}
		return false, err
	}
	return true, nil
}

// fallbackName is a fresh segment of the same window as name.
func fallbackName(name string) string {
	start, _ := SegmentStart(name)
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%011d-%d-%s%s", start.Unix(), os.Getpid(), hex.EncodeToString(r[:]), Suffix)
}
