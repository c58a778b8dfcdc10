package wrap

// Line splitting for Capture. The pass-through never waits for a line:
// bytes go to the user as they arrive; only the copy handed to Capture is
// cut into lines.

import (
	"bytes"
	"sync"
)

// maxCapturedLine bounds one captured line; the pass-through is unaffected.
const maxCapturedLine = 64 << 10

// capturer hands complete lines to Capture, serialised across streams.
type capturer struct {
	fn func(stream string, line []byte)
	mu sync.Mutex
}

func newCapturer(fn func(string, []byte)) *capturer { return &capturer{fn: fn} }

// lines appends chunk to the pending partial line, emitting each line it
// completes; it returns the new partial line.
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

// emit hands one line to Capture. A PTY line may end in "\r" (a child
// that writes CRLF itself); the line without it is what rules match.
func (c *capturer) emit(stream string, line []byte) {
	if stream == "combined" {
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	c.mu.Lock()
	c.fn(stream, line)
	c.mu.Unlock()
}
