package journal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Segment is one segment file as listed.
type Segment struct {
	Name string
	Size int64
}

// Segments lists the segments, oldest window first.
func (j *Journal) Segments() ([]Segment, error) {
	des, err := os.ReadDir(j.Dir)
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), Suffix) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Segment{Name: de.Name(), Size: fi.Size()})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// Frame is one entry frame read from a segment.
type Frame struct {
	Seg     string
	Off     int64 // where the frame starts
	End     int64 // where the next one starts
	Payload []byte
	Sum     uint32 // the payload's checksum (as the header has it)
}

// Chunk is what one read of a segment returned.
type Chunk struct {
	Frames []Frame
	Next   int64 // where the next read starts
	// Torn counts the damaged frames skipped: a header was there (a torn
	// write, a flipped byte). Garbled counts the regions with no header
	// (a zeroed or overwritten block: how many frames one held cannot be
	// known). Damaged is the bytes of both.
	Torn    int
	Garbled int
	Damaged int64
	// DamageAt is where the first damage skipped starts.
	DamageAt int64
	Sealed   bool // the seal frame was reached: the segment is complete at Next
}

// ReadSegment reads complete frames of segment name from off, at most about
// max bytes of them. An incomplete frame at the end is left for a later read.
func (j *Journal) ReadSegment(name string, off int64, max int) (Chunk, error) {
	c := Chunk{Next: off}
	f, err := os.Open(filepath.Join(j.Dir, name))
	if err != nil {
		return c, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c, err
	}
	size := fi.Size() - off
	if size <= 0 {
		return c, nil
	}
	n := min(size, int64(max)+headerLen)
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return c, err
	}
	buf = buf[:got]
	// A frame longer than the first read: read it whole.
	if _, _, _, derr := decodeFrame(buf); errors.Is(derr, errShort) && len(buf) >= headerLen && int64(got) < size {
		want := min(size, headerLen+int64(le32(buf[5:])))
		buf = make([]byte, want)
		got, err = f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return c, err
		}
		buf = buf[:got]
	}
	sealed, _ := endsSealed(f)
	c.parse(name, off, buf, max, sealed && int64(got) == size)
	return c, nil
}

// parse splits buf (the segment from off) into frames. final says buf runs
// to the end of a sealed segment: nothing more will arrive, so a frame cut
// short is torn, not in progress.
func (c *Chunk) parse(name string, off int64, buf []byte, max int, final bool) {
	pos := 0
	garbled := false // the last bytes skipped had no frame header
	for pos < len(buf) && pos <= max {
		typ, payload, n, err := decodeFrame(buf[pos:])
		if err == nil {
			garbled = false
		}
		switch {
		case err == nil && typ == TypeSeal:
			c.Sealed = true
			c.Next = off + int64(pos+n)
			return
		case err == nil:
			c.Frames = append(c.Frames, Frame{Seg: name, Off: off + int64(pos), End: off + int64(pos+n), Payload: payload, Sum: le32(buf[pos+9:])})
			pos += n
			c.Next = off + int64(pos)
		case errors.Is(err, errShort) && !final && !validFrameAfter(buf[pos:]):
			return // the rest is still being written
		default:
			skip := resync(buf[pos:])
			if skip < 0 {
				// Nothing that could be a frame follows: the whole rest is damage.
				skip = len(buf) - pos
			}
			switch {
			case bytes.HasPrefix(buf[pos:], []byte(magic)):
				c.Torn++
			case !garbled:
				// One region however long: resynchronising through a
				// zeroed block is one damage, not one per byte.
				c.Garbled++
			}
			garbled = !bytes.HasPrefix(buf[pos:], []byte(magic))
			if c.Damaged == 0 {
				c.DamageAt = off + int64(pos)
			}
			c.Damaged += int64(skip)
			pos += skip
			c.Next = off + int64(pos)
		}
	}
}

// validFrameAfter reports whether a complete, valid frame starts somewhere
// after the first byte of b. Appends never interleave, so a frame cut short
// with a whole frame after it is a torn write, not one still in progress.
func validFrameAfter(b []byte) bool {
	for i := 1; i < len(b); i++ {
		k := bytes.Index(b[i:], []byte(magic))
		if k < 0 {
			return false
		}
		i += k
		if _, _, _, err := decodeFrame(b[i:]); err == nil {
			return true
		}
	}
	return false
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Sealable reports whether a segment's window is over (plus grace), so no
// writer should pick it any more.
func Sealable(name string, now time.Time, grace time.Duration) bool {
	start, ok := SegmentStart(name)
	return ok && now.After(start.Add(Window+grace))
}

// Seal appends the seal frame to segment name, after which no writer
// appends to it. It never waits for a writer: ok=false while one holds the
// segment. Whatever is in the segment stays readable after the seal.
func (j *Journal) Seal(name string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(j.Dir, name), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, nil
	}
	if sealed, err := endsSealed(f); err != nil || sealed {
		return sealed, err
	}
	_, err = f.Write(sealFrame)
	return err == nil, err
}

// endsSealed reports whether the file's last bytes are a seal frame.
func endsSealed(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	return sealedAt(f, fi.Size())
}

// sealedAt is endsSealed for a file of the given size.
func sealedAt(f *os.File, size int64) (bool, error) {
	if size < int64(len(sealFrame)) {
		return false, nil
	}
	var tail [headerLen]byte
	if _, err := f.ReadAt(tail[:], size-int64(len(tail))); err != nil {
		return false, err
	}
	return string(tail[:]) == string(sealFrame), nil
}

// Remove deletes a segment.
func (j *Journal) Remove(name string) error {
	err := os.Remove(filepath.Join(j.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// LastRunID returns the run id of the newest entry of the newest segment
// ("" when the journal is empty). Only commands a user runs by hand call it.
func (j *Journal) LastRunID() string {
	segs, err := j.Segments()
	if err != nil {
		return ""
	}
	for i := len(segs) - 1; i >= 0; i-- {
		var last []byte
		for off := int64(0); ; {
			c, err := j.ReadSegment(segs[i].Name, off, readMax)
			if err != nil || c.Next == off {
				break
			}
			if n := len(c.Frames); n > 0 {
				last = c.Frames[n-1].Payload
			}
			off = c.Next
		}
		if last != nil {
			if e, err := Decode(last); err == nil && e.RunID != "" {
				return e.RunID
			}
		}
	}
	return ""
}

const readMax = 4 << 20
