// Package termsafe makes text from records and backends harmless on a
// terminal. Records hold what agents and commands said: a title, a model
// name or a backend's error body may carry ESC, OSC or CR sequences that
// would set the pane title, write the clipboard (OSC 52) or wipe lines.
// Every renderer passes such strings through String before writing them;
// the --json forms keep the original value (JSON escapes it).
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// String returns s with every control character shown visibly: C0 controls
// but tab (ESC → \x1b, CR → \r, LF → \n), DEL, the C1 controls
// U+0080–U+009F (\u009b), and bytes that are not UTF-8 (\xff), since some
// terminals take a lone 0x9b byte for CSI. Tab is kept: it moves the
// cursor forward only. Text without any returns s itself (no allocation:
// renderers call this on every cell).
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			writeHex(&b, "\\x", uint32(s[i]), 2)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 && r != '\t', r == 0x7f:
			writeHex(&b, "\\x", uint32(r), 2)
		case r >= 0x80 && r <= 0x9f:
			writeHex(&b, "\\u", uint32(r), 4)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Safe reports whether s reaches a terminal unchanged by String.
func Safe(s string) bool { return firstUnsafe(s) < 0 }

// firstUnsafe is the index of the first byte String changes, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r <= 0x9f {
			return i
		}
		i += n
	}
	return -1
}

func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	const hex = "0123456789abcdef"
	b.WriteString(prefix)
	for d := digits - 1; d >= 0; d-- {
		b.WriteByte(hex[v>>(4*uint(d))&0xf])
	}
}
