package parse

import (
	"strings"
	"unicode/utf8"

	"github.com/gastown/gtrun/internal/event"
)

// ErrorLine returns the first line of texts, in order, that starts with
// "Error" (bd and cobra report failures so), trimmed and redacted; "" if none.
func ErrorLine(texts ...string) string {
	for _, t := range texts {
		for len(t) > 0 {
			l := t
			if i := strings.IndexByte(t, '\n'); i >= 0 {
				l, t = t[:i], t[i+1:]
			} else {
				t = ""
			}
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "Error") {
				return RedactText(l)
			}
		}
	}
	return ""
}

// TruncateBytes cuts s to at most n bytes on a UTF-8 boundary and appends
// "…" when it cut anything.
func TruncateBytes(s string, n int) string { return event.Cut(s, n) }

// TruncateRunes keeps at most n runes of s, appending "…" when cut.
func TruncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// StripANSI removes terminal escape sequences (colour, OSC queries) and
// carriage returns, so PTY output matches like piped output.
func StripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		var b strings.Builder
		b.Grow(len(s))
		last := 0
		for i := 0; i < len(s); i++ {
			if s[i] != 0x1b {
				continue
			}
			if n := ansiLen(s, i); n > 0 {
				b.WriteString(s[last:i])
				i += n - 1
				last = i + 1
			}
		}
		b.WriteString(s[last:])
		s = b.String()
	}
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\r", "")
}

// ansiLen returns the length of the escape sequence at s[i] (an ESC), 0
// when none is complete there:
//
//	CSI  ESC [ params [0-9;?<>=]* intermediates [ -/]* final [@-~]
//	OSC  ESC ] … (BEL | ESC \)
//	DCS, SOS, PM, APC  ESC [PX^_] … ESC \
//	Fe   ESC [@-Z\\-_]
func ansiLen(s string, i int) int {
	if i+1 >= len(s) {
		return 0
	}
	j := i + 2
	switch c := s[i+1]; {
	case c == '[':
		for j < len(s) && (isDigit(s[j]) || s[j] == ';' || s[j] == '?' || s[j] == '<' || s[j] == '>' || s[j] == '=') {
			j++
		}
		for j < len(s) && s[j] >= ' ' && s[j] <= '/' {
			j++
		}
		if j < len(s) && s[j] >= '@' && s[j] <= '~' {
			return j + 1 - i
		}
		return 0
	case c == ']':
		for ; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1 - i
			}
			if s[j] == 0x1b {
				if j+1 < len(s) && s[j+1] == '\\' {
					return j + 2 - i
				}
				return fe(s, i)
			}
		}
		return fe(s, i)
	case c == 'P' || c == 'X' || c == '^' || c == '_':
		if k := strings.IndexByte(s[j:], 0x1b); k >= 0 && j+k+1 < len(s) && s[j+k+1] == '\\' {
			return j + k + 2 - i
		}
		return fe(s, i)
	}
	return fe(s, i)
}

// fe: a two-byte escape ESC [@-Z\\-_], the regexp's last alternative.
func fe(s string, i int) int {
	if c := s[i+1]; c >= '@' && c <= 'Z' || c >= '\\' && c <= '_' {
		return 2
	}
	return 0
}
