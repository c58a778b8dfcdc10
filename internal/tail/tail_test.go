package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type run struct {
	lines  []string
	warns  []string
	commit error
}

// follow runs a Once follower over files with a checkpoint file in dir.
func follow(t *testing.T, dir string, commitErr error, files ...string) run {
	t.Helper()
	cps, err := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r run
	f := &Follower{
		Once: true, Checkpoints: cps,
		Discover: func() ([]string, error) { return files, nil },
		Handle:   func(l Line) error { r.lines = append(r.lines, string(l.Data)); return nil },
		Commit:   func() error { return commitErr },
		Warn:     func(m string) { r.warns = append(r.warns, m) },
	}
	r.commit = f.Run(context.Background())
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
	f.WriteString(s)
	f.Close()
}

func TestResumeNoDuplicatesNoSkips(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n3", false) // "3" is a partial line
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "1,2" {
		t.Fatalf("first: %v", r.lines)
	}
	if r := follow(t, dir, nil, p); len(r.lines) != 0 {
		t.Fatalf("rerun re-emitted %v", r.lines)
	}
	write(t, p, "\n4\r\n5\n", true) // the partial line completes; CRLF is trimmed
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "3,4,5" {
		t.Fatalf("after append: %v", r.lines)
	}
}

func TestCommitFailureKeepsOffsets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "1\n2\n", false)
	if r := follow(t, dir, errors.New("backend down"), p); r.commit == nil || len(r.lines) != 2 {
		t.Fatalf("%+v", r)
	}
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "1,2" {
		t.Fatalf("lines whose export failed must be read again: %v", r.lines)
	}
}

func TestTruncationAndReplacement(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "one\ntwo\nthree\n", false)
	follow(t, dir, nil, p)
	write(t, p, "new\n", false) // truncated: shorter than the offset
	r := follow(t, dir, nil, p)
	if strings.Join(r.lines, ",") != "new" || len(r.warns) != 1 {
		t.Fatalf("truncate: %+v", r)
	}
	if r := follow(t, dir, nil, p); len(r.lines) != 0 {
		t.Fatalf("re-read twice: %v", r.lines)
	}
	write(t, p, "NEW\nlonger content than before\n", false) // replaced, same prefix length, different bytes
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "NEW,longer content than before" {
		t.Fatalf("replace: %+v", r)
	}
}

func TestGrowingPastFingerprint(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "short\n", false)
	follow(t, dir, nil, p)
	big := strings.Repeat("x", 3000) + "\n"
	write(t, p, big, true)
	if r := follow(t, dir, nil, p); len(r.lines) != 1 || len(r.lines[0]) != 3000 {
		t.Fatalf("%d lines", len(r.lines))
	}
	write(t, p, "tail\n", true)
	if r := follow(t, dir, nil, p); strings.Join(r.lines, ",") != "tail" {
		t.Fatalf("%v", r.lines)
	}
}

func TestFollowPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	write(t, a, "a1\n", false)
	cps, _ := OpenCheckpoints(filepath.Join(dir, "cp.json"))
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	polls := 0
	f := &Follower{
		Poll: 1, Checkpoints: cps,
		Discover: func() ([]string, error) {
			m, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
			return m, nil
		},
		Handle: func(l Line) error { got = append(got, string(l.Data)); return nil },
		Idle: func() {
			polls++
			if polls == 1 {
				write(t, b, "b1\n", false)
			}
			if len(got) == 2 {
				cancel()
			}
		},
	}
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a1,b1" {
		t.Fatalf("%v", got)
	}
}

func TestLongLineSkipped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	write(t, p, "ok1\n"+strings.Repeat("y", MaxLine+10)+"\nok2\n", false)
	r := follow(t, dir, nil, p)
	if strings.Join(r.lines, ",") != "ok1,ok2" || len(r.warns) != 1 {
		t.Fatalf("%d lines, warns %v", len(r.lines), r.warns)
	}
}

func BenchmarkFollow(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "big.jsonl")
	line := `{"type":"assistant","message":{"content":"` + strings.Repeat("z", 500) + `"}}` + "\n"
	data := strings.Repeat(line, 20000)
	os.WriteFile(p, []byte(data), 0o600)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		cps, _ := OpenCheckpoints(filepath.Join(dir, fmt.Sprintf("cp%d.json", i)))
		f := &Follower{Once: true, Checkpoints: cps, Discover: func() ([]string, error) { return []string{p}, nil },
			Handle: func(Line) error { return nil }}
		f.Run(context.Background())
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
