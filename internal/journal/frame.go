package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Frame types.
const (
	TypeEntry byte = 'E'
	TypeSeal  byte = 'S'
)

const (
	magic     = "GTJ1"
	headerLen = 4 + 1 + 4 + 4
	// MaxPayload bounds one frame; a length beyond it is damage, not data.
	MaxPayload = 64 << 20
)

// The checksum is CRC-32 (IEEE), which the CPU computes with no tables to
// build first: CRC-32C's tables cost a wrapped call ~0.2 ms to set up.

// sealFrame is the fixed bytes of a seal frame (empty payload).
var sealFrame = encodeFrame(TypeSeal, nil)

// encodeFrame returns the bytes of one frame.
func encodeFrame(typ byte, payload []byte) []byte {
	b := make([]byte, headerLen+len(payload))
	copy(b, magic)
	b[4] = typ
	binary.LittleEndian.PutUint32(b[5:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[9:], crc32.ChecksumIEEE(payload))
	copy(b[headerLen:], payload)
	return b
}

var (
	errShort = errors.New("incomplete frame")
	errTorn  = errors.New("torn frame")
)

// decodeFrame reads the frame at the start of b: its type, payload and
// total length. errShort means b ends inside a frame that looks valid so
// far; errTorn means the bytes at b are not a valid frame.
func decodeFrame(b []byte) (typ byte, payload []byte, n int, err error) {
	if len(b) < headerLen {
		if !bytes.HasPrefix([]byte(magic), b[:min(len(b), len(magic))]) {
			return 0, nil, 0, errTorn
		}
		return 0, nil, 0, errShort
	}
	if string(b[:4]) != magic {
		return 0, nil, 0, errTorn
	}
	typ = b[4]
	size := binary.LittleEndian.Uint32(b[5:])
	if size > MaxPayload || (typ != TypeEntry && typ != TypeSeal) || (typ == TypeSeal && size != 0) {
		return 0, nil, 0, errTorn
	}
	end := headerLen + int(size)
	if len(b) < end {
		return 0, nil, 0, errShort
	}
	payload = b[headerLen:end]
	if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(b[9:]) {
		return 0, nil, 0, errTorn
	}
	return typ, payload, end, nil
}

// resync returns the index of the next possible frame start after the
// first byte of b, or -1.
func resync(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	i := bytes.Index(b[1:], []byte(magic))
	if i < 0 {
		// A magic cut at the end of b may still complete.
		for k := len(magic) - 1; k > 0; k-- {
			if len(b) > k && bytes.HasSuffix(b, []byte(magic[:k])) {
				return len(b) - k
			}
		}
		return -1
	}
	return i + 1
}
