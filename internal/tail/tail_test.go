package tail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

type run struct {
	lines   []string
	offsets []int64
	warns   []string
	err     error
}

// follow runs a Once follower over files with the checkpoint file in dir,
// as a new process would.
func follow(t *testing.T, dir string, commitErr error, files ...string) run {
	t.Helper()
	cps, err := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r run
	f := &Follower{
		Once: true, Checkpoints: cps, Poll: time.Hour,
		Discover: func() ([]string, error) { return files, nil },
		Handle: func(l Line) error {
			r.lines = append(r.lines, string(l.Data))
			r.offsets = append(r.offsets, l.Offset)
			return nil
		},
		Commit: func() error { return commitErr },
		Warn:   func(m string) { r.warns = append(r.warns, m) },
	}
	r.err = f.Run(context.Background())
	return r
}

func write(t *testing.T, p, s string, appendTo bool) {
	t.Helper()
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(p, flag, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// replace puts a new file (new inode) with content s in place of p.
func replace(t *testing.T, p, s string) {
	t.Helper()
	tmp := p + ".new"
	write(t, tmp, s, false)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// Each step changes the file, then a new Once follower runs over it with
// the checkpoints the previous steps left.
func TestRestartScenarios(t *testing.T) {
	type step struct {
		op    string // "write" (truncate+write), "append", "replace" (rename a new file over it), "" (no change)
		data  string
		want  []string
		warns int
	}
	big := strings.Repeat("x", 3000)
	long := strings.Repeat("L", 3<<20) // longer than the 1 MiB read buffer
	tests := []struct {
		name  string
		steps []step
	}{
		{"resume without duplicates or skips", []step{
			{"write", "1\n2\n", []string{"1", "2"}, 0},
			{"", "", nil, 0},
			{"append", "3\n4\n", []string{"3", "4"}, 0},
			{"", "", nil, 0},
		}},
		{"line written in two halves between runs", []step{
			{"write", `{"a":1}` + "\n" + `{"b"`, []string{`{"a":1}`}, 0},
			{"append", `:2`, nil, 0},
			{"append", "}\n{\"c\":3}\n", []string{`{"b":2}`, `{"c":3}`}, 0},
		}},
		{"CRLF is trimmed, blank lines are lines", []step{
			{"write", "a\r\n\nb\n", []string{"a", "", "b"}, 0},
		}},
		{"truncation re-reads the new start exactly once", []step{
			{"write", "one\ntwo\nthree\n", []string{"one", "two", "three"}, 0},
			{"write", "new\n", []string{"new"}, 1},
			{"", "", nil, 0},
			{"append", "more\n", []string{"more"}, 0},
		}},
		{"truncation to empty, then written again", []step{
			{"write", "one\ntwo\n", []string{"one", "two"}, 0},
			{"write", "", nil, 1},
			{"", "", nil, 0},
			{"append", "three\n", []string{"three"}, 0},
		}},
		{"rewritten in place with the same size", []step{
			{"write", "aaa\nbbb\n", []string{"aaa", "bbb"}, 0},
			{"write", "ccc\nddd\n", []string{"ccc", "ddd"}, 1},
			{"", "", nil, 0},
		}},
		{"replaced by a larger file with other content", []step{
			{"write", "aaa\nbbb\n", []string{"aaa", "bbb"}, 0},
			{"replace", "AAA\nBBB\nCCC\n", []string{"AAA", "BBB", "CCC"}, 1},
			{"", "", nil, 0},
		}},
		{"replaced by a larger file with the same prefix continues", []step{
			{"write", "aaa\nbbb\n", []string{"aaa", "bbb"}, 0},
			{"replace", "aaa\nbbb\nccc\n", []string{"ccc"}, 0},
		}},
		{"replaced: first bytes differ beyond the old fingerprint's end", []step{
			{"write", "abc\n", []string{"abc"}, 0},
			{"replace", "abc\n", nil, 0},
			{"write", "abX\nxyz\n", []string{"abX", "xyz"}, 1},
		}},
		{"short file grows past the fingerprint length", []step{
			{"write", "short\n", []string{"short"}, 0},
			{"append", big + "\n", []string{big}, 0},
			{"append", "tail\n", []string{"tail"}, 0},
			// A change inside the first 1 KiB is now noticed.
			{"write", "short\n" + strings.Repeat("y", 3000) + "\ntail\nnext\n",
				[]string{"short", strings.Repeat("y", 3000), "tail", "next"}, 1},
		}},
		{"change after the first 1 KiB of a grown file is not a replacement", []step{
			{"write", big + "\n", []string{big}, 0},
			{"replace", big + "\nnew\n", []string{"new"}, 0},
		}},
		{"empty file then content, no spurious warning", []step{
			{"write", "", nil, 0},
			{"", "", nil, 0},
			{"append", "x\n", []string{"x"}, 0},
		}},
		{"line longer than the read buffer", []step{
			{"write", "a\n" + long + "\nb\n", []string{"a", long, "b"}, 0},
			{"append", long[:100], nil, 0},
			{"append", long[100:] + "\n", []string{long}, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.jsonl")
			content := ""
			for i, s := range tt.steps {
				switch s.op {
				case "write":
					write(t, p, s.data, false)
					content = s.data
				case "append":
					write(t, p, s.data, true)
					content += s.data
				case "replace":
					replace(t, p, s.data)
					content = s.data
				}
				r := follow(t, dir, nil, p)
				if r.err != nil {
					t.Fatalf("step %d: %v", i, r.err)
				}
				if fmt.Sprint(short(r.lines)) != fmt.Sprint(short(s.want)) || len(r.warns) != s.warns {
					t.Fatalf("step %d: lines %q warns %q, want %q and %d warnings", i, short(r.lines), r.warns, short(s.want), s.warns)
				}
				// Each offset is just after that line's newline in the file.
				for j, off := range r.offsets {
					if off <= 0 || off > int64(len(content)) || content[off-1] != '\n' ||
						!strings.HasSuffix(strings.TrimSuffix(content[:off-1], "\r"), r.lines[j]) {
						t.Fatalf("step %d: line %d offset %d does not end that line", i, j, off)
					}
				}
			}
		})
	}
}

// short abbreviates long lines in failure messages.
func short(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		if len(l) > 40 {
			l = fmt.Sprintf("%s…(%d bytes)", l[:20], len(l))
		}
		out[i] = l
	}
	return out
}

func TestCommitFailureKeepsOffsets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n", false)
	if r := follow(t, dir, errors.New("backend down"), p); r.err == nil || len(r.lines) != 2 {
		t.Fatalf("%+v", r)
	}
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "1,2" {
		t.Fatalf("lines whose export failed must be read again: %v", r.lines)
	}
}

// Commit runs before the offsets it covers reach the disk.
func TestCheckpointSavedAfterCommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n", false)
	follow(t, dir, nil, p)
	write(t, p, "3\n", true)
	cpPath := filepath.Join(dir, "cp.json")
	cps, _ := OpenCheckpoints(cpPath)
	var atCommit []int64
	f := &Follower{Once: true, Checkpoints: cps,
		Discover: func() ([]string, error) { return []string{p}, nil },
		Handle:   func(Line) error { return nil },
		Commit: func() error {
			disk, err := OpenCheckpoints(cpPath)
			if err != nil {
				return err
			}
			cp, _ := disk.Get(p)
			atCommit = append(atCommit, cp.Offset)
			return nil
		},
	}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	disk, _ := OpenCheckpoints(cpPath)
	cp, _ := disk.Get(p)
	if fmt.Sprint(atCommit) != "[4]" || cp.Offset != 6 || cp.Size != 6 || cp.FPLen != 6 {
		t.Fatalf("on disk at Commit %v, after %+v", atCommit, cp)
	}
	if fi, err := os.Stat(cpPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint file mode: %v %v", fi.Mode(), err)
	}
}

// With background delivery, a batch whose delivery fails never gets its
// offsets saved: the next run reads it again.
func TestDrainFailureKeepsOffsets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n3\n", false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	commits := 0
	f := &Follower{Once: true, Checkpoints: cps, CommitEvery: 2,
		Discover: func() ([]string, error) { return []string{p}, nil },
		Handle:   func(Line) error { return nil },
		Commit:   func() error { commits++; return nil },
		Drain:    func() error { return errors.New("backend down") },
	}
	if err := f.Run(context.Background()); err == nil || commits != 2 {
		t.Fatalf("err %v commits %d", err, commits)
	}
	// The first batch (lines 1-2) was confirmed by the second Commit; the
	// last one was not.
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "3" {
		t.Fatalf("re-read %v, want the undelivered line 3", r.lines)
	}
}

// The caller's parser state travels with the offset; a truncated file
// starts with none.
func TestParserStateRestored(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	runOnce := func() (opened []string) {
		cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
		n := 0
		f := &Follower{Once: true, Checkpoints: cps,
			Discover: func() ([]string, error) { return []string{p}, nil },
			Open: func(_ string, st json.RawMessage) {
				opened = append(opened, string(st))
				if st != nil {
					json.Unmarshal(st, &n)
				}
			},
			Handle:   func(Line) error { n++; return nil },
			Snapshot: func(string) json.RawMessage { return json.RawMessage(fmt.Sprint(n)) },
		}
		if err := f.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return opened
	}
	write(t, p, "a\nb\n", false)
	if o := runOnce(); fmt.Sprint(o) != "[]" {
		t.Fatalf("first open got state %q", o)
	}
	write(t, p, "c\n", true)
	if o := runOnce(); fmt.Sprint(o) != "[2]" {
		t.Fatalf("second open got state %q, want 2", o)
	}
	write(t, p, "x\n", false)
	if o := runOnce(); fmt.Sprint(o) != "[]" {
		t.Fatalf("after truncation got state %q, want none", o)
	}
}

// Once returns at EOF without waiting for a poll, leaving a partial last
// line for the next run.
func TestOnceStopsAtEOF(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	write(t, a, "a1\na2\n", false)
	write(t, b, "b1\nb2-partial", false)
	done := make(chan run, 1)
	go func() { done <- follow(t, dir, nil, a, b, filepath.Join(dir, "missing.jsonl")) }()
	select {
	case r := <-done:
		if r.err != nil || strings.Join(r.lines, ",") != "a1,a2,b1" {
			t.Fatalf("%+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Once did not return at EOF")
	}
}

// A follower script driven by Idle (called after each empty poll, on the
// Run goroutine), so the test needs no sleeps.
func TestFollowMode(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	write(t, a, "a1\n", false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	commits, idle := 0, 0
	var fail string
	script := []func(){
		func() { write(t, b, "b1\n", false) },  // a file appears: Discover finds it
		func() { write(t, a, "a2-par", true) }, // partial line: not delivered
		func() { write(t, a, "tial\n", true) }, // completed
		func() { cancel() },
	}
	f := &Follower{
		Poll: time.Millisecond, Checkpoints: cps,
		Discover: func() ([]string, error) {
			return filepath.Glob(filepath.Join(dir, "*.jsonl"))
		},
		Handle: func(l Line) error { got = append(got, string(l.Data)); return nil },
		Commit: func() error { commits++; return nil },
		Idle: func() {
			if idle == 2 && strings.Join(got, ",") != "a1,b1" {
				fail = fmt.Sprintf("after the partial line: %v", got)
			}
			if idle < len(script) {
				script[idle]()
			}
			idle++
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("follower did not stop; got %v", got)
	}
	if fail != "" {
		t.Fatal(fail)
	}
	if strings.Join(got, ",") != "a1,b1,a2-partial" {
		t.Fatalf("got %v", got)
	}
	// One commit per poll that handled lines, plus the final one.
	if commits != 4 {
		t.Fatalf("%d commits, want 4", commits)
	}
	disk, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	if cp, _ := disk.Get(a); cp.Offset != int64(len("a1\na2-partial\n")) {
		t.Fatalf("checkpoint of a: %+v", cp)
	}
}

func TestDiscoverErrors(t *testing.T) {
	dir := t.TempDir()
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	boom := errors.New("boom")
	f := &Follower{Once: true, Checkpoints: cps,
		Discover: func() ([]string, error) { return nil, boom },
		Handle:   func(Line) error { return nil }}
	if err := f.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("once: %v", err)
	}
	// Following, a discovery error is a warning and the next poll retries.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var warns []string
	calls := 0
	f = &Follower{Poll: time.Millisecond, Checkpoints: cps,
		Discover: func() ([]string, error) {
			if calls++; calls == 3 {
				cancel()
			}
			return nil, boom
		},
		Handle: func(Line) error { return nil },
		Warn:   func(m string) { warns = append(warns, m) }}
	if err := f.Run(ctx); err != nil || len(warns) < 2 {
		t.Fatalf("follow: %v, warnings %q", err, warns)
	}
}

func TestHandleErrorStops(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n", false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	bad := errors.New("bad")
	f := &Follower{Once: true, Checkpoints: cps,
		Discover: func() ([]string, error) { return []string{p}, nil },
		Handle:   func(Line) error { return bad }}
	if err := f.Run(context.Background()); !errors.Is(err, bad) {
		t.Fatalf("%v", err)
	}
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "1,2" {
		t.Fatalf("%v", r.lines)
	}
}

func TestLongLineSkipped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "ok1\n"+strings.Repeat("y", MaxLine+10)+"\nok2\n", false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	var got, warns []string
	f := &Follower{Once: true, Checkpoints: cps,
		Discover: func() ([]string, error) { return []string{p}, nil },
		Handle:   func(l Line) error { got = append(got, string(l.Data)); return nil },
		Warn:     func(m string) { warns = append(warns, m) }}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "ok1,ok2" || len(warns) != 1 || f.LongLines != 1 {
		t.Fatalf("lines %v, warns %v, LongLines %d", short(got), warns, f.LongLines)
	}
	if r := follow(t, dir, nil, p); len(r.lines) != 0 || len(r.warns) != 0 {
		t.Fatalf("the skipped line was read again: %+v", r)
	}
}

// Memory stays flat in file size: reading a 32 MiB file allocates about
// the read buffer, not the file.
func TestMemoryFlat(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.jsonl")
	line := `{"type":"assistant","message":{"content":"` + strings.Repeat("z", 1000) + `"}}` + "\n"
	data := strings.Repeat(line, (32<<20)/len(line))
	write(t, p, data, false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	n := 0
	f := &Follower{Once: true, Checkpoints: cps, CommitEvery: -1,
		Discover: func() ([]string, error) { return []string{p}, nil },
		Handle:   func(Line) error { n++; return nil }}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n != strings.Count(data, "\n") {
		t.Fatalf("%d lines", n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("reading %d MiB allocated %d bytes", len(data)>>20, alloc)
	}
}

func BenchmarkFollow(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "big.jsonl")
	line := `{"type":"assistant","message":{"content":"` + strings.Repeat("z", 500) + `"}}` + "\n"
	data := strings.Repeat(line, 20000)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cps, _ := OpenCheckpoints(filepath.Join(dir, fmt.Sprintf("cp%d.json", i)))
		f := &Follower{Once: true, Checkpoints: cps, Discover: func() ([]string, error) { return []string{p}, nil },
			Handle: func(Line) error { return nil }}
		if err := f.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
