package termsafe

import (
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain bd create x — ✓ 日本", "plain bd create x — ✓ 日本"},
		{"tab\tkept", "tab\tkept"},
		{"a\x1b]0;PWNED\x07b", `a\x1b]0;PWNED\x07b`},
		{"\x1b[2J", `\x1b[2J`},
		{"\x1b]52;c;cHduZWQ=\x07", `\x1b]52;c;cHduZWQ=\x07`},
		{"visible\rHIDDEN", `visible\rHIDDEN`},
		{"two\nlines", `two\nlines`},
		{"del\x7f nul\x00 bs\x08", `del\x7f nul\x00 bs\x08`},
		{"c1 csi \u009b2J", `c1 csi \u009b2J`},
		{"raw byte \x9b2J \xff", `raw byte \x9b2J \xff`},
		{"\x1bP tmux passthrough \x1b\\", `\x1bP tmux passthrough \x1b\`},
	} {
		got := String(c.in)
		if got != c.want {
			t.Errorf("String(%q) = %q want %q", c.in, got, c.want)
		}
		if !Safe(got) {
			t.Errorf("String(%q) = %q still unsafe", c.in, got)
		}
	}
}

func TestStringNoAllocWhenSafe(t *testing.T) {
	s := "bd create Fix login --parent gt-ehp — ✓"
	if n := testing.AllocsPerRun(100, func() { String(s) }); n != 0 {
		t.Errorf("%v allocations for safe text", n)
	}
}

func FuzzString(f *testing.F) {
	f.Add("a\x1b]0;x\x07\r\n\u009b\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !Safe(out) || !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q", s, out)
		}
		if Safe(s) && out != s {
			t.Fatalf("safe text changed: %q → %q", s, out)
		}
	})
}
