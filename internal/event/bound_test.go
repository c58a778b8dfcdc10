package event

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBounded(t *testing.T) {
	big := strings.Repeat("é", MaxValue) // 2 bytes a rune: the cut falls mid-rune
	r := Record{Name: "cmd.call", Attrs: []Attr{String("args", big), Int("n", 1), String("k", "v")}, Err: big}
	b := r.Bounded()
	s := b.GetString("args")
	if len(s) > MaxValue+len("…") || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
		t.Fatalf("args: %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
	if len(b.Err) > MaxValue+len("…") || b.Get("n") != int64(1) || b.GetString("k") != "v" {
		t.Fatalf("%+v", b.Attrs[1:])
	}
	if r.GetString("args") != big {
		t.Fatal("the caller's record changed")
	}
	small := []Attr{String("a", "b")}
	if n := testing.AllocsPerRun(100, func() { BoundAttrs(small) }); n != 0 {
		t.Fatalf("%v allocations when nothing is cut", n)
	}
}
