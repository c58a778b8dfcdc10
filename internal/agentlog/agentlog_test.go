package agentlog

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
	"github.com/gastown/gtrun/internal/price"
	"github.com/gastown/gtrun/internal/sink"
	"github.com/gastown/gtrun/internal/tail"
	"github.com/gastown/gtrun/internal/transcripts"
)

// memSink keeps what the pipeline hands on; only committed records count
// (a crash loses what was emitted but not committed, as the journal does).
type memSink struct {
	mu                 sync.Mutex
	pending, committed []event.Record
	spans, doneSpans   []sink.Span
}

func (m *memSink) Emit(r event.Record)       { m.mu.Lock(); m.pending = append(m.pending, r); m.mu.Unlock() }
func (m *memSink) AddSpan(s sink.Span)       { m.mu.Lock(); m.spans = append(m.spans, s); m.mu.Unlock() }
func (m *memSink) SetSpan([16]byte, [8]byte) {}
func (m *memSink) Commit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.committed, m.pending = append(m.committed, m.pending...), nil
	m.doneSpans, m.spans = append(m.doneSpans, m.spans...), nil
	return nil
}

func (m *memSink) usage() (n int, out int64) {
	for _, r := range m.committed {
		if r.Name == "agent.usage" {
			n++
			v, _ := r.Get("output_tokens").(int64)
			out += v
		}
	}
	return
}

const fixture = "../parse/testdata/transcripts/claude/ccl_v2.0.55_a7da6a22_main.jsonl"

// want is the transcript's deduplicated usage, parsed directly.
func want(t *testing.T, data []byte) (n int, out int64) {
	p := parse.NewClaude(parse.TranscriptOptions{Session: "s"})
	var recs []event.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		r, _ := p.Line(sc.Bytes())
		recs = append(recs, r...)
	}
	recs = append(recs, p.Flush()...)
	m := &memSink{committed: recs}
	return m.usage()
}

type rig struct {
	t     *testing.T
	dir   string
	file  string
	now   time.Time
	warn  bytes.Buffer
	sink  *memSink
	extra []transcripts.File
}

func newRig(t *testing.T) *rig {
	dir := t.TempDir()
	return &rig{t: t, dir: dir, file: filepath.Join(dir, "session.jsonl"), sink: &memSink{}}
}

// run is one agent-log process: fresh pipeline, checkpoints reloaded.
func (r *rig) run(ctx context.Context, once bool) {
	cps, err := tail.OpenCheckpoints(filepath.Join(r.dir, "cp.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	p := New(Options{Session: "s", Once: once, Quiet: 2 * time.Second, Traces: true, RunID: "run-1"}, Deps{
		Now: func() time.Time { return r.now },
		Find: func() ([]transcripts.File, error) {
			return append([]transcripts.File{{Path: r.file, Agent: "claudecode"}}, r.extra...), nil
		},
		Sink: r.sink, Prices: price.Default(), Checkpoints: cps, StateDir: r.dir, Warn: &r.warn,
	})
	if err := p.Run(ctx); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) write(b []byte, mtime time.Time) {
	f, err := os.OpenFile(r.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	os.Chtimes(r.file, mtime, mtime)
}

// Restarts read on from the checkpoint: neither repeat nor skip.
func TestRestartNeitherRepeatsNorSkips(t *testing.T) {
	data, _ := os.ReadFile(fixture)
	wn, wout := want(t, data)
	r := newRig(t)
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	old := time.Now().Add(-time.Hour)
	r.now = time.Now()
	r.write(data[:cut], old)
	r.run(context.Background(), true)
	r.run(context.Background(), true) // nothing new
	r.write(data[cut:], old)
	r.run(context.Background(), true)
	if n, out := r.sink.usage(); n != wn || out != wout {
		t.Fatalf("usage %d responses %d output tokens, want %d %d", n, out, wn, wout)
	}
	if n := len(r.sink.doneSpans); n == 0 {
		t.Fatal("no turn spans")
	}
}

// A response still being written at the end of a --once read is held, and
// said so; the next run (the agent quiet since) reports it, once.
func TestHeldResponseSaidAndReportedLater(t *testing.T) {
	data, _ := os.ReadFile(fixture)
	wn, _ := want(t, data)
	r := newRig(t)
	written := time.Now()
	r.write(data, written)
	r.now = written.Add(300 * time.Millisecond)
	r.run(context.Background(), true)
	if n, _ := r.sink.usage(); n != wn-1 || !strings.Contains(r.warn.String(), "held back") {
		t.Fatalf("first read: %d of %d responses, stderr %q", n, wn, r.warn.String())
	}
	r.now = written.Add(3 * time.Second)
	r.run(context.Background(), true)
	if n, _ := r.sink.usage(); n != wn {
		t.Fatalf("after the quiet period: %d of %d responses", n, wn)
	}
}

// A malformed line is counted and skipped; the rest is read.
func TestMalformedLineSkipped(t *testing.T) {
	data, _ := os.ReadFile(fixture)
	wn, _ := want(t, data)
	r := newRig(t)
	i := bytes.IndexByte(data, '\n') + 1
	r.write(append(append(append([]byte{}, data[:i]...), "{not json\n"...), data[i:]...), time.Now().Add(-time.Hour))
	r.now = time.Now()
	r.run(context.Background(), true)
	if n, _ := r.sink.usage(); n != wn || !strings.Contains(r.warn.String(), "1 malformed lines skipped") {
		t.Fatalf("%d of %d responses; stderr %q", n, wn, r.warn.String())
	}
}

// A subagent's transcript beside the session's: its turns nest under the
// Task call that ran it, its usage counted once.
func TestSubagentTranscript(t *testing.T) {
	main, _ := os.ReadFile(fixture)
	sidePath := "../parse/testdata/transcripts/claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl"
	side, _ := os.ReadFile(sidePath)
	mn, _ := want(t, main)
	sn, _ := want(t, side)
	r := newRig(t)
	old := time.Now().Add(-time.Hour)
	r.write(main, old)
	sub := filepath.Join(r.dir, "agent-c8d9b115.jsonl")
	os.WriteFile(sub, side, 0o600)
	os.Chtimes(sub, old, old)
	r.extra = []transcripts.File{{Path: sub, Agent: "claudecode", Subagent: true}}
	r.now = time.Now()
	r.run(context.Background(), true)
	if n, _ := r.sink.usage(); n != mn+sn || sn == 0 {
		t.Fatalf("%d responses, want %d + %d", n, mn, sn)
	}
	nested := 0
	for _, s := range r.sink.doneSpans {
		if s.Parent != [8]byte{} && !s.Remote {
			nested++
		}
	}
	if nested == 0 {
		t.Fatal("no span nested under another")
	}
}

// SIGTERM mid-file (follow mode, the context ends): what was read is
// flushed and committed; the next run goes on from there.
func TestStopMidFileThenResume(t *testing.T) {
	data, _ := os.ReadFile(fixture)
	wn, wout := want(t, data)
	r := newRig(t)
	cut := bytes.IndexByte(data[len(data)/3:], '\n') + len(data)/3 + 1
	r.now = time.Now()
	r.write(data[:cut], r.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx, false); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.sink.mu.Lock()
		got := len(r.sink.committed) + len(r.sink.pending)
		r.sink.mu.Unlock()
		if got > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // SIGTERM
	<-done
	first, _ := r.sink.usage()
	r.write(data[cut:], r.now.Add(-time.Hour))
	r.run(context.Background(), true)
	if n, out := r.sink.usage(); first == 0 || n != wn || out != wout {
		t.Fatalf("after stop (%d) and resume: %d responses %d output tokens, want %d %d", first, n, out, wn, wout)
	}
}
