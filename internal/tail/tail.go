// Package tail follows append-only JSONL files with checkpoints, after the
// OpenTelemetry Collector's fileconsumer: per-file offsets committed only
// after the caller handed the records on, a fingerprint of each file's
// first bytes to notice truncation and replacement, partial last lines that
// wait for their newline, and memory that stays flat in file size.
//
// The read path is one shared 1 MiB bufio.Reader: lines are delivered as
// slices of its buffer (no per-line allocation or syscall); only a line
// longer than the buffer is copied, and one longer than MaxLine is skipped.
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
	"sync"
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
	Data   []byte // without "\n" (and "\r"); valid only until Handle returns
	Offset int64  // just after this line's newline: what to checkpoint
}

// Checkpoint is the committed position in one file, plus opaque state of
// the caller's parser at that position.
type Checkpoint struct {
	Offset      int64  `json:"offset"`
	Fingerprint string `json:"fp"`     // sha256 of the first FPLen bytes
	FPLen       int    `json:"fp_len"` // ≤ FingerprintLen; grows with a short file
	// Size is the file's size when it was last read (Size-Offset is the
	// partial line still waiting for its newline).
	Size  int64           `json:"size"`
	State json.RawMessage `json:"state,omitempty"`
}

// Checkpoints is the persisted set of per-file checkpoints, keyed by path.
type Checkpoints struct {
	path  string
	mu    sync.Mutex
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

// Get returns the checkpoint of file.
func (c *Checkpoints) Get(file string) (Checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.Files[file]
	return cp, ok
}

// Set records the checkpoint of file in memory; Save persists it.
func (c *Checkpoints) Set(file string, cp Checkpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Files[file] = cp
}

// Save writes the checkpoints atomically (mode 0600), so a crash leaves
// the previous or the new set, never a torn one.
func (c *Checkpoints) Save() error {
	c.mu.Lock()
	b, err := json.Marshal(c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(c.path, b)
}

// Follower reads a changing set of files and hands each complete line to
// Handle, serially.
//
// A partial last line (no newline yet) is not delivered until its newline
// arrives, in Once mode too: a final unterminated line at EOF is probably
// still being written, so it is left for the next run, whose checkpoint
// starts at that line.
//
// Offsets are saved only after Commit returned nil, so a crash re-delivers
// at most the uncommitted tail and never skips a line. A Commit error ends
// Run without saving the offsets it covered.
type Follower struct {
	// Discover returns the current file set; it is re-run on every poll, so
	// files that appear later (new subagent transcripts) are picked up.
	Discover func() ([]string, error)
	// Poll is the interval between passes in follow mode (default 250ms).
	Poll time.Duration
	// Once reads every file to its end, commits and returns.
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
	// Idle is called after a poll that found nothing new (follow mode).
	Idle func()
	Warn func(msg string)
	// AtEnd is called in Once mode after the last pass, before the final
	// commit (every file is at its end).
	AtEnd func()
	// CommitEvery commits after this many lines within a pass, so a huge
	// file never piles up in memory before its records are handed on
	// (default 5000).
	CommitEvery int

	// LongLines counts lines skipped for being longer than MaxLine.
	LongLines int

	pos    map[string]*fileState
	buf    *bufio.Reader
	staged map[string]Checkpoint // handed to Commit, not yet known delivered
}

type fileState struct {
	offset int64
	size   int64
	fp     string
	fpLen  int
}

// Run follows until ctx is done (then reads, commits and drains once more)
// or, with Once, until every file was read to its end.
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
	timer := time.NewTimer(f.Poll)
	defer timer.Stop()
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
		timer.Reset(f.Poll)
		select {
		case <-ctx.Done():
			if _, err := f.pass(); err != nil {
				return err
			}
			if err := f.commit(); err != nil {
				return err
			}
			return f.drain()
		case <-timer.C:
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
	cur := make(map[string]Checkpoint, len(f.pos))
	for name, p := range f.pos {
		cp := Checkpoint{Offset: p.offset, Fingerprint: p.fp, FPLen: p.fpLen, Size: p.size}
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
		if f.Once {
			return 0, err
		}
		// A transient discovery error must not end a long-running follower:
		// the files already known are still read.
		f.warn("discovering files: %v", err)
	}
	sort.Strings(files)
	total := 0
	for _, name := range files {
		n, err := f.readFile(name)
		total += n
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // gone between discovery and open
			}
			return total, err
		}
	}
	return total, nil
}

// fingerprint hashes the first n bytes of r; it returns how many it got.
func fingerprint(r io.ReaderAt, n int) (string, int) {
	b := make([]byte, n)
	m, _ := r.ReadAt(b, 0)
	s := sha256.Sum256(b[:m])
	return hex.EncodeToString(s[:]), m
}

// matches says whether r still starts with the bytes fingerprinted in fp.
func matches(r io.ReaderAt, fp string, fpLen int) bool {
	if fpLen == 0 {
		return true // nothing was read yet: any content is new
	}
	got, n := fingerprint(r, fpLen)
	return n == fpLen && got == fp
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
	p := f.position(name, fh, size)
	p.size = size
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
	return f.readLines(name, p)
}

// position is where reading name goes on: its saved checkpoint, the
// offset of this process's last pass, or the start of a file truncated or
// replaced since (the parser reopened without state).
func (f *Follower) position(name string, fh *os.File, size int64) *fileState {
	p := f.pos[name]
	if p == nil {
		p = &fileState{}
		var saved json.RawMessage
		if cp, ok := f.Checkpoints.Get(name); ok {
			if size >= cp.Offset && matches(fh, cp.Fingerprint, cp.FPLen) {
				p.offset, p.fp, p.fpLen, saved = cp.Offset, cp.Fingerprint, cp.FPLen, cp.State
			} else {
				f.warn("%s was truncated or replaced; reading it again from the start", name)
			}
		}
		f.pos[name] = p
		if f.Open != nil {
			f.Open(name, saved)
		}
	} else if size < p.offset || !matches(fh, p.fp, p.fpLen) {
		f.warn("%s was truncated or replaced; reading it again from the start", name)
		*p = fileState{}
		if f.Open != nil {
			f.Open(name, nil)
		}
	}
	return p
}

// readLines hands every complete line from p.offset on to Handle; a
// partial last line waits for its newline, a line past MaxLine is skipped
// and counted.
func (f *Follower) readLines(name string, p *fileState) (int, error) {
	n := 0
	var long []byte   // a line longer than the buffer, up to MaxLine
	var longLen int64 // its length so far, also past MaxLine
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
		if errors.Is(err, io.EOF) {
			break // a partial last line waits for its newline
		}
		if err != nil {
			return n, fmt.Errorf("reading %s: %w", name, err)
		}
		lineLen := longLen + int64(len(chunk))
		off += lineLen
		if lineLen > MaxLine {
			f.LongLines++
			f.warn("%s: a line of %d bytes at offset %d is longer than %d and skipped", name, lineLen, off-lineLen, MaxLine)
		} else {
			data := chunk
			if long != nil {
				data = append(long, chunk...)
			}
			data = bytes.TrimSuffix(data[:len(data)-1], []byte("\r"))
			if err := f.Handle(Line{File: name, Data: data, Offset: off}); err != nil {
				return n, err
			}
			n++
		}
		long, longLen = nil, 0
		p.offset = off
		if f.CommitEvery > 0 && n > 0 && n%f.CommitEvery == 0 {
			if err := f.commit(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// refreshFP extends the fingerprint while it covers less than
// FingerprintLen bytes and the file has more.
func (f *Follower) refreshFP(r io.ReaderAt, p *fileState, size int64) {
	if p.fpLen < FingerprintLen && int64(p.fpLen) < size {
		p.fp, p.fpLen = fingerprint(r, int(min(size, FingerprintLen)))
	}
}
