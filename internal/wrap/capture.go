package wrap

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
)

// maxCapturedLine bounds one captured line; the pass-through is unaffected.
const maxCapturedLine = 64 << 10

// capturer copies output to the user and hands complete lines to Capture.
type capturer struct {
	fn func(stream string, line []byte)
	mu sync.Mutex // serialises fn across streams
}

func newCapturer(fn func(string, []byte)) *capturer { return &capturer{fn: fn} }

// copy writes everything read from r to dst as soon as it arrives and,
// when capturing, splits a copy into lines. When dst refuses writes
// (EPIPE: the reader went away) it stops reading, so the child gets
// SIGPIPE on its next write, as it would bare.
func (c *capturer) copy(dst *os.File, r *os.File, stream string) {
	defer r.Close()
	buf := make([]byte, 64<<10)
	var line []byte
	writable := dst != nil
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if writable {
				if _, werr := dst.Write(chunk); werr != nil {
					writable = false
					if errors.Is(werr, syscall.EPIPE) {
						return
					}
				}
			}
			if c.fn != nil {
				line = c.lines(line, chunk, stream)
			}
		}
		if err != nil {
			break // EOF, EIO (PTY closed), deadline, or nothing more to read
		}
	}
	if c.fn != nil && len(line) > 0 {
		c.emit(stream, line)
	}
}

func (c *capturer) lines(pending, chunk []byte, stream string) []byte {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			if room := maxCapturedLine - len(pending); room > 0 {
				pending = append(pending, chunk[:min(room, len(chunk))]...)
			}
			return pending
		}
		if room := maxCapturedLine - len(pending); room > 0 {
			pending = append(pending, chunk[:min(room, i)]...)
		}
		c.emit(stream, pending)
		pending = pending[:0]
		chunk = chunk[i+1:]
	}
	return pending
}

func (c *capturer) emit(stream string, line []byte) {
	if stream == "combined" {
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	c.mu.Lock()
	c.fn(stream, line)
	c.mu.Unlock()
}
