package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func readAll(t *testing.T, j *Journal) (payloads []string, torn int, sealed map[string]bool) {
	t.Helper()
	segs, err := j.Segments()
	if err != nil {
		t.Fatal(err)
	}
	sealed = map[string]bool{}
	for _, s := range segs {
		off := int64(0)
		for {
			c, err := j.ReadSegment(s.Name, off, 1<<10)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.Frames {
				payloads = append(payloads, string(f.Payload))
			}
			torn += c.Torn
			if c.Sealed {
				sealed[s.Name] = true
			}
			if c.Next == off {
				break
			}
			off = c.Next
		}
	}
	return payloads, torn, sealed
}

func TestConcurrentAppendsNeverInterleave(t *testing.T) {
	j := Open(t.TempDir())
	var wg sync.WaitGroup
	const writers, each = 20, 50
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Large enough to need more than one page per write.
				p := fmt.Sprintf("w%02d-%03d-%s", w, i, make([]byte, 5000))
				if err := j.Append([]byte(p)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, torn, _ := readAll(t, j)
	if torn != 0 || len(got) != writers*each {
		t.Fatalf("%d frames, %d torn; want %d, 0", len(got), torn, writers*each)
	}
	seen := map[string]bool{}
	for _, p := range got {
		seen[p[:7]] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each)
	}
}

func TestTornFrameSkippedWithCount(t *testing.T) {
	dir := t.TempDir()
	j := Open(dir)
	now := time.Unix(1_800_000_000, 0)
	j.Now = func() time.Time { return now }
	j.Append([]byte("one"))
	// A writer killed in the middle of its write left half a frame.
	seg := filepath.Join(dir, SegmentName(now))
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	half := encodeFrame(TypeEntry, []byte("the torn one, cut short"))
	f.Write(half[:len(half)/2])
	f.Close()
	// While the segment can still grow, a cut frame at the end is pending.
	got, torn, _ := readAll(t, j)
	if len(got) != 1 || torn != 0 {
		t.Fatalf("before more data: %q torn %d", got, torn)
	}
	j.Append([]byte("two"))
	got, torn, _ = readAll(t, j)
	if fmt.Sprint(got) != "[one two]" || torn != 1 {
		t.Fatalf("after: %q torn %d", got, torn)
	}
	// A flipped byte in a complete frame is damage too.
	b, _ := os.ReadFile(seg)
	b[len(b)-1] ^= 0xff
	os.WriteFile(seg, b, 0o600)
	j.Append([]byte("three"))
	got, torn, _ = readAll(t, j)
	if fmt.Sprint(got) != "[one three]" || torn != 2 {
		t.Fatalf("corrupt: %q torn %d", got, torn)
	}
}

func TestSealFreezesSegment(t *testing.T) {
	dir := t.TempDir()
	j := Open(dir)
	now := time.Unix(1_800_000_000, 0)
	j.Now = func() time.Time { return now }
	j.Append([]byte("a"))
	name := SegmentName(now)
	// Torn tail: once sealed, the cut frame is damage, not a frame in progress.
	f, _ := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
	half := encodeFrame(TypeEntry, []byte("cut"))
	f.Write(half[:8])
	f.Close()
	if ok, err := j.Seal(name); !ok || err != nil {
		t.Fatalf("seal: %v %v", ok, err)
	}
	// A writer whose clock says the window is still current goes elsewhere.
	if err := j.Append([]byte("late")); err != nil {
		t.Fatal(err)
	}
	segs, _ := j.Segments()
	if len(segs) != 2 {
		t.Fatalf("segments %v", segs)
	}
	got, torn, sealed := readAll(t, j)
	if fmt.Sprint(got) != "[a late]" && fmt.Sprint(got) != "[late a]" || torn != 1 || !sealed[name] {
		t.Fatalf("got %q torn %d sealed %v", got, torn, sealed)
	}
}

func TestSegmentNamesSortByWindow(t *testing.T) {
	a := SegmentName(time.Unix(999_999_960, 0))
	b := SegmentName(time.Unix(1_000_000_020, 0))
	if !(a < b) {
		t.Fatalf("%s !< %s", a, b)
	}
	if s, ok := SegmentStart(fallbackName(b)); !ok || s.Unix() != 1_000_000_020 {
		t.Fatalf("fallback start %v %v", s, ok)
	}
}

// A zeroed block (twenty frames' worth) is one unreadable region of that
// many bytes, not "one torn frame"; the frames after it are read.
func TestZeroedRegionCountedInBytes(t *testing.T) {
	dir := t.TempDir()
	j := Open(dir)
	now := time.Unix(1_800_000_000, 0)
	j.Now = func() time.Time { return now }
	j.Append([]byte("first"))
	seg := filepath.Join(dir, SegmentName(now))
	fi, _ := os.Stat(seg)
	start := fi.Size()
	for i := 0; i < 20; i++ {
		j.Append([]byte(fmt.Sprintf("lost %d", i)))
	}
	fi, _ = os.Stat(seg)
	b, _ := os.ReadFile(seg)
	for i := start; i < fi.Size(); i++ {
		b[i] = 0
	}
	os.WriteFile(seg, b, 0o600)
	j.Append([]byte("after"))
	c, err := j.ReadSegment(SegmentName(now), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range c.Frames {
		got = append(got, string(f.Payload))
	}
	if fmt.Sprint(got) != "[first after]" || c.Torn != 0 || c.Garbled != 1 || c.Damaged != fi.Size()-start || c.DamageAt != start {
		t.Fatalf("frames %q torn %d garbled %d damaged %d at %d; want the zeroed %d bytes at %d", got, c.Torn, c.Garbled, c.Damaged, c.DamageAt, fi.Size()-start, start)
	}
}
