// Package tail follows append-only JSONL files with checkpoints, after the
// OpenTelemetry Collector's fileconsumer: per-file offsets committed only
// after the caller handed the records on, a fingerprint of each file's
// first bytes to notice truncation and replacement, partial last lines that
// wait for their newline, and memory that stays flat in file size.
package tail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// FingerprintLen is how many leading bytes identify a file.
const FingerprintLen = 1024

// MaxLine bounds one line; longer ones are skipped with a warning.
const MaxLine = 16 << 20

// Line is one complete line of a file.
type Line struct {
	File   string
	Data   []byte // without "\n" (and "\r"); valid until Handle returns
	Offset int64  // just after this line's newline
}

// Checkpoint is the committed position in one file, plus opaque state of
// the caller's parser at that position.
type Checkpoint struct {
	Offset      int64           `json:"offset"`
	Fingerprint string          `json:"fp"`
	FPLen       int             `json:"fp_len"`
	State       json.RawMessage `json:"state,omitempty"`
}

// Checkpoints is the persisted set of per-file checkpoints.
type Checkpoints struct {
	path  string
	Files map[string]Checkpoint `json:"files"`
}

// OpenCheckpoints loads path (a missing file is an empty set).
func OpenCheckpoints(path string) (*Checkpoints, error) {
	c := &Checkpoints{path: path, Files: map[string]Checkpoint{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("checkpoints %s: %v", path, err)
	}
	if c.Files == nil {
		c.Files = map[string]Checkpoint{}
	}
	return c, nil
}

func (c *Checkpoints) Get(f string) (Checkpoint, bool) { cp, ok := c.Files[f]; return cp, ok }
func (c *Checkpoints) Set(f string, cp Checkpoint)     { c.Files[f] = cp }

// Save writes the checkpoints atomically.
func (c *Checkpoints) Save() error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(c.path, b)
}

// Follower reads a changing set of files.
type Follower struct {
	Discover    func() ([]string, error)
	Poll        time.Duration
	Once        bool
	Checkpoints *Checkpoints
	// Open is called once per file before its first line (and again after a
	// truncation), with the saved parser state (nil when starting afresh).
	Open func(file string, st json.RawMessage)
	// Handle gets each complete line, serially.
	Handle func(l Line) error
	// Commit hands everything handled so far on (flushes the export);
	// offsets are saved only after it returns nil. With Drain set, Commit
	// may deliver in the background: the offsets of a batch are then saved
	// at the next Commit or Drain, which must first wait for that batch.
	Commit func() error
	// Drain waits until everything committed so far is delivered.
	Drain func() error
	// Snapshot returns the parser state of file to save with its offset.
	Snapshot func(file string) json.RawMessage
	// Idle is called after a poll that found nothing new.
	Idle func()
	Warn func(msg string)
	// AtEnd is called in Once mode after the last pass, before the final
	// commit (every file is at its end).
	AtEnd func()
	// CommitEvery commits after this many lines within a pass, so a huge
	// file never piles up in memory before its records are handed on
	// (default 5000).
	CommitEvery int

	pos    map[string]*fileState
	buf    *bufio.Reader
	skipLn bool
	staged map[string]Checkpoint // handed to Commit, not yet known delivered
}

type fileState struct {
	offset int64
	fp     string
	fpLen  int
	opened bool
}

// Run follows until ctx is done (then drains once more) or, with Once,
// until every file was read to its end.
func (f *Follower) Run(ctx context.Context) error {
	if f.pos == nil {
		f.pos = map[string]*fileState{}
	}
	if f.Poll <= 0 {
		f.Poll = 250 * time.Millisecond
	}
	if f.CommitEvery == 0 {
		f.CommitEvery = 5000
	}
	for {
		n, err := f.pass()
		if err != nil {
			return err
		}
		if f.Once && f.AtEnd != nil {
			f.AtEnd()
		}
		if n > 0 || f.Once {
			if err := f.commit(); err != nil {
				return err
			}
		}
		if f.Once {
			return f.drain()
		}
		if n == 0 {
			if f.Idle != nil {
				f.Idle()
			}
			if err := f.drain(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			if _, err := f.pass(); err != nil {
				return err
			}
			if err := f.commit(); err != nil {
				return err
			}
			return f.drain()
		case <-time.After(f.Poll):
		}
	}
}

func (f *Follower) warn(format string, args ...any) {
	if f.Warn != nil {
		f.Warn(fmt.Sprintf(format, args...))
	}
}

// commit hands records on, then saves offsets and parser state: at once,
// or (with Drain) those of the previous batch, which Commit waited for.
func (f *Follower) commit() error {
	cur := map[string]Checkpoint{}
	for name, p := range f.pos {
		cp := Checkpoint{Offset: p.offset, Fingerprint: p.fp, FPLen: p.fpLen}
		if f.Snapshot != nil {
			cp.State = f.Snapshot(name)
		}
		cur[name] = cp
	}
	if f.Commit != nil {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	if f.Drain == nil {
		return f.save(cur)
	}
	prev := f.staged
	f.staged = cur
	if prev != nil {
		return f.save(prev)
	}
	return nil
}

// drain waits for the batch in flight and saves its checkpoints.
func (f *Follower) drain() error {
	if f.Drain == nil || f.staged == nil {
		return nil
	}
	if err := f.Drain(); err != nil {
		return err
	}
	cur := f.staged
	f.staged = nil
	return f.save(cur)
}

func (f *Follower) save(cps map[string]Checkpoint) error {
	for name, cp := range cps {
		f.Checkpoints.Set(name, cp)
	}
	return f.Checkpoints.Save()
}

// pass reads every file once; it returns the number of lines handled.
func (f *Follower) pass() (int, error) {
	files, err := f.Discover()
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	total := 0
	for _, name := range files {
		n, err := f.readFile(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // gone between discovery and open
			}
			return total, err
		}
		total += n
	}
	return total, nil
}

func fingerprint(r io.ReaderAt, n int) (string, int) {
	b := make([]byte, n)
	m, _ := r.ReadAt(b, 0)
	s := sha256.Sum256(b[:m])
	return hex.EncodeToString(s[:]), m
}

func (f *Follower) readFile(name string) (int, error) {
	fh, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	p := f.pos[name]
	if p == nil {
		p = &fileState{}
		var saved json.RawMessage
		if cp, ok := f.Checkpoints.Get(name); ok {
			fp, _ := fingerprint(fh, cp.FPLen)
			if size >= cp.Offset && fp == cp.Fingerprint {
				p.offset, p.fp, p.fpLen, saved = cp.Offset, cp.Fingerprint, cp.FPLen, cp.State
			} else {
				f.warn("%s was truncated or replaced; reading it again from the start", name)
			}
		}
		f.pos[name] = p
		if f.Open != nil {
			f.Open(name, saved)
		}
	} else if size < p.offset || !f.samePrefix(fh, p) {
		f.warn("%s was truncated or replaced; reading it again from the start", name)
		*p = fileState{}
		if f.Open != nil {
			f.Open(name, nil)
		}
	}
	// The fingerprint is known before any line is handled: a commit in the
	// middle of this pass must not save an offset without it.
	f.refreshFP(fh, p, size)
	if size == p.offset {
		return 0, nil
	}
	if _, err := fh.Seek(p.offset, io.SeekStart); err != nil {
		return 0, err
	}
	if f.buf == nil {
		f.buf = bufio.NewReaderSize(fh, 1<<20)
	} else {
		f.buf.Reset(fh)
	}
	n := 0
	var long []byte
	var longLen int64
	off := p.offset
	for {
		chunk, err := f.buf.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			longLen += int64(len(chunk))
			if longLen <= MaxLine {
				long = append(long, chunk...)
			} else {
				long = nil
			}
			continue
		}
		if err != nil {
			break // EOF: a partial last line waits for its newline
		}
		lineLen := longLen + int64(len(chunk))
		longLen = 0
		if lineLen > MaxLine {
			f.skipLn = true
			f.warn("%s: a line of %d bytes at offset %d is longer than %d and skipped", name, lineLen, off, MaxLine)
		}
		data := chunk
		if long != nil {
			data = append(long, chunk...)
		}
		off += lineLen
		if !f.skipLn {
			data = bytes.TrimSuffix(data[:len(data)-1], []byte("\r"))
			if err := f.Handle(Line{File: name, Data: data, Offset: off}); err != nil {
				return n, err
			}
			n++
		}
		f.skipLn = false
		long = nil
		p.offset = off
		if f.CommitEvery > 0 && n > 0 && n%f.CommitEvery == 0 {
			if err := f.commit(); err != nil {
				return n, err
			}
		}
	}
	f.refreshFP(fh, p, size)
	return n, nil
}

// samePrefix checks the stored fingerprint against the file's first bytes.
func (f *Follower) samePrefix(r io.ReaderAt, p *fileState) bool {
	if p.fpLen == 0 {
		return true
	}
	fp, _ := fingerprint(r, p.fpLen)
	return fp == p.fp
}

// refreshFP extends the fingerprint while the file is shorter than
// FingerprintLen.
func (f *Follower) refreshFP(r io.ReaderAt, p *fileState, size int64) {
	if p.fpLen < FingerprintLen && int64(p.fpLen) < size {
		p.fp, p.fpLen = fingerprint(r, int(min(size, FingerprintLen)))
	}
}
