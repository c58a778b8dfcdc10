package price

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/parse"
)

// No row is priced 0 by accident: every row has input and output prices,
// every Claude row all four cache prices, every OpenAI row a cached rate.
func TestEveryRowHasPrices(t *testing.T) {
	if len(rows) == 0 {
		t.Fatal("empty table")
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.id] {
			t.Errorf("%s: twice", r.id)
		}
		seen[r.id] = true
		if r.in <= 0 || r.out <= 0 || r.read <= 0 {
			t.Errorf("%s: input %d output %d cache read %d", r.id, r.in, r.out, r.read)
		}
		if strings.HasPrefix(r.id, "claude-") && (r.write5m <= 0 || r.write1h <= r.write5m) {
			t.Errorf("%s: cache writes 5m %d 1h %d", r.id, r.write5m, r.write1h)
		}
		if Canonical(r.id) != r.id {
			t.Errorf("%s: not canonical (%s)", r.id, Canonical(r.id))
		}
		if p, ok := Default().Lookup(r.id); !ok || p.InputPerMTok <= 0 || p.OutputPerMTok <= 0 {
			t.Errorf("%s: lookup %+v %v", r.id, p, ok)
		}
	}
	if TableDate == "" || TableSource == "" {
		t.Error("the table must carry its date and source")
	}
}

func TestResolve(t *testing.T) {
	for in, want := range map[string]string{
		"claude-sonnet-4-5-20250929":                      "claude-sonnet-4-5",
		"claude-sonnet-4-5":                               "claude-sonnet-4-5",
		"us.anthropic.claude-sonnet-4-5-20250929-v1:0":    "claude-sonnet-4-5",
		"anthropic.claude-3-5-sonnet-20241022-v2:0":       "claude-sonnet-3-5",
		"eu.anthropic.claude-opus-4-1-20250805-v1:0":      "claude-opus-4-1",
		"global.anthropic.claude-haiku-4-5-20251001-v1:0": "claude-haiku-4-5",
		"apac.anthropic.claude-sonnet-4-20250514-v1:0":    "claude-sonnet-4",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-5-20251101-v1:0": "claude-opus-4-5",
		"claude-sonnet-4-5@20250929":  "claude-sonnet-4-5",
		"claude-opus-4@20250514":      "claude-opus-4",
		"claude-3-5-sonnet-latest":    "claude-sonnet-3-5",
		"claude-3-5-haiku-latest":     "claude-haiku-3-5",
		"claude-3-7-sonnet-20250219":  "claude-sonnet-3-7",
		"claude-3-opus-20240229":      "claude-opus-3",
		"claude-3-haiku-20240307":     "claude-haiku-3",
		"claude-opus-4-0":             "claude-opus-4",
		"claude-opus-4-20250514":      "claude-opus-4",
		"claude-opus-4-6[1m]":         "claude-opus-4-6",
		"CLAUDE-HAIKU-4-5":            "claude-haiku-4-5",
		"claude-haiku-4-5-20251001":   "claude-haiku-4-5",
		"claude-opus-4-5-20251101":    "claude-opus-4-5",
		"anthropic/claude-sonnet-4-6": "claude-sonnet-4-6",
		"gpt-5":                       "gpt-5",
		"gpt-5-2025-08-07":            "gpt-5",
		"openai/gpt-5":                "gpt-5",
		"gpt-5-codex":                 "gpt-5-codex",
		"gpt-5.1-2025-11-13":          "gpt-5.1",
		"gpt-5-1":                     "gpt-5.1",
		"gpt-5-1-codex-2025-11-13":    "gpt-5.1",
		"gpt-5.1-codex":               "gpt-5.1",
		"gpt-5-nano-2025-08-07":       "gpt-5-nano",
	} {
		p, ok := Default().Lookup(in)
		if !ok || p.Model != want {
			t.Errorf("Lookup(%q) = %q %v, want %q", in, p.Model, ok, want)
		}
	}
	if p, _ := Default().Lookup("gpt-5.1-codex"); !strings.Contains(p.Via, "codex variant") {
		t.Errorf("the codex fallback must say so: %+v", p)
	}
	for _, in := range []string{"", "o4-mini", "gpt-5-mini", "gpt-5.1-codex-mini", "gpt-5.1-codex-max", "gpt-5.5", "claude-instant-1",
		"anthropic.claude-v2", "sonnet", "claude-sonnet-4-5-thinking", "claude-sonnet-9", "llama-3.1-70b", "claude-opus-4-5-turbo"} {
		if p, ok := Default().Lookup(in); ok {
			t.Errorf("Lookup(%q) = %+v, want unknown", in, p)
		}
	}
}

// An unknown model gives no cost (never 0) and a warning that names it.
func TestUnknownModel(t *testing.T) {
	if usd, ok := Default().Cost(Usage{Model: "o4-mini", Input: 1000, Output: 10}); ok || usd != 0 {
		t.Fatalf("o4-mini: %v %v", usd, ok)
	}
	y := Default().NewTally()
	y.Add(Usage{Model: "o4-mini", Input: 1})
	y.Add(Usage{Model: "o4-mini", Input: 2})
	y.Add(Usage{Model: "mystery-model", Output: 3})
	if _, ok := y.Add(Usage{Model: "claude-haiku-3", Input: 1_000_000}); !ok {
		t.Fatal("haiku-3 unpriced")
	}
	if y.USD() != 0.25 {
		t.Fatalf("total %v", y.USD())
	}
	if u := y.Unknown(); len(u) != 2 || u[0] != "mystery-model" || u[1] != "o4-mini" {
		t.Fatalf("unknown %v", u)
	}
	if w := y.Warning(); !strings.Contains(w, `"o4-mini" (2 records)`) || !strings.Contains(w, `"mystery-model" (1 record)`) {
		t.Fatalf("warning %q", w)
	}
	if w := UnknownWarning("o4-mini"); !strings.Contains(w, `"o4-mini"`) {
		t.Fatal(w)
	}
	if Default().NewTally().Warning() != "" {
		t.Fatal("warning without unknown models")
	}
}

func TestCostExact(t *testing.T) {
	tb := Default()
	// one token of every kind on Haiku 3: 0.25+1.25+0.03+0.30+0.50 µ$
	if p, ok := tb.Pico(Usage{Model: "claude-haiku-3", Input: 1, Output: 1, CacheRead: 1, CacheWrite5m: 1, CacheWrite1h: 1}); !ok || p != 250_000+1_250_000+30_000+300_000+500_000 {
		t.Fatalf("pico %d", p)
	}
	// 1h writes cost more than 5m writes
	a, _ := tb.Cost(Usage{Model: "claude-sonnet-4-5", CacheWrite5m: 1_000_000})
	b, _ := tb.Cost(Usage{Model: "claude-sonnet-4-5", CacheWrite1h: 1_000_000})
	if a != 3.75 || b != 6 {
		t.Fatalf("5m %v 1h %v", a, b)
	}
	// a million calls of 1 token of cache read at $0.03/MTok add up exactly
	y := tb.NewTally()
	for range 1_000_000 {
		y.Add(Usage{Model: "claude-haiku-3", CacheRead: 1})
	}
	if y.USD() != 0.03 {
		t.Fatalf("%v", y.USD())
	}
	if _, ok := tb.Cost(Usage{Model: "gpt-5", Input: -1}); ok {
		t.Fatal("negative tokens priced")
	}
}

// fixtureUsage runs a transcript through gtrun's parser and returns its
// agent.usage records as Usage (cache writes at the 5-minute rate: the
// parser does not split them yet; the fixtures' 1h writes are all 0).
func fixtureUsage(t *testing.T, path string) []Usage {
	t.Helper()
	var p parse.Transcript
	if strings.Contains(path, "/codex/") {
		p = parse.NewCodex(parse.TranscriptOptions{})
	} else {
		p = parse.NewClaude(parse.TranscriptOptions{})
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Usage
	add := func(recs []event.Record) {
		for _, r := range recs {
			if r.Name != "agent.usage" {
				continue
			}
			i := func(k string) int64 { v, _ := r.Get(k).(int64); return v }
			out = append(out, Usage{Model: r.GetString("model"), Input: i("input_tokens"), Output: i("output_tokens"),
				CacheRead: i("cache_read_tokens"), CacheWrite5m: i("cache_creation_tokens")})
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		recs, _ := p.Line(sc.Bytes())
		add(recs)
	}
	add(p.Flush())
	return out
}

// Every fixture's cost equals a hand computation from the published
// prices, to the cent (and here exactly).
func TestFixtureCosts(t *testing.T) {
	const dir = "../parse/testdata/transcripts/"
	for _, c := range []struct {
		file, model                    string
		in, out, read, write           int64
		inP, outP, readP, writeP, want float64 // USD per MTok, and the total
	}{
		{"claude/ccl_v2.0.55_a7da6a22_agent-c8d9b115_sidechain.jsonl", "claude-haiku-4-5-20251001", 869, 840, 124362, 41483,
			1, 5, 0.10, 1.25, (869*1 + 840*5 + 124362*0.10 + 41483*1.25) / 1e6}, // $0.0694
		{"claude/ccl_v2.0.55_a7da6a22_main.jsonl", "claude-opus-4-5-20251101", 2250, 31430, 8505166, 175207,
			5, 25, 0.50, 6.25, (2250*5 + 31430*25 + 8505166*0.50 + 175207*6.25) / 1e6}, // $6.1446
		{"claude/spotter_v2.1.38_short_one-msgid-5-lines.jsonl", "claude-opus-4-6", 3, 13, 11515, 13835,
			5, 25, 0.50, 6.25, (3*5 + 13*25 + 11515*0.50 + 13835*6.25) / 1e6}, // $0.0926
		{"codex/codemie_cli0.77.0_dup-token-count_rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl",
			"gpt-5-1-codex-2025-11-13", 7626, 300, 14848, 0,
			1.25, 10, 0.125, 0, (7626*1.25 + 300*10 + 14848*0.125) / 1e6}, // $0.0144
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			us := fixtureUsage(t, dir+c.file)
			if len(us) == 0 {
				t.Fatal("no agent.usage")
			}
			var sum Usage
			y := Default().NewTally()
			for _, u := range us {
				if u.Model != c.model {
					t.Fatalf("model %q, want %q", u.Model, c.model)
				}
				if _, ok := y.Add(u); !ok {
					t.Fatalf("%q has no price", u.Model)
				}
				sum.Input += u.Input
				sum.Output += u.Output
				sum.CacheRead += u.CacheRead
				sum.CacheWrite5m += u.CacheWrite5m
			}
			if sum.Input != c.in || sum.Output != c.out || sum.CacheRead != c.read || sum.CacheWrite5m != c.write {
				t.Fatalf("tokens %+v, want in %d out %d read %d write %d", sum, c.in, c.out, c.read, c.write)
			}
			p, _ := Default().Lookup(c.model)
			if p.InputPerMTok != c.inP || p.OutputPerMTok != c.outP || p.CacheReadPerMTok != c.readP || p.CacheWrite5mPerMTok != c.writeP {
				t.Fatalf("row %+v", p)
			}
			got := y.USD()
			if math.Round(got*100) != math.Round(c.want*100) || math.Abs(got-c.want) > 1e-9 {
				t.Fatalf("cost $%.6f, hand computation $%.6f", got, c.want)
			}
			if y.Warning() != "" {
				t.Fatal(y.Warning())
			}
		})
	}
}

func TestUserFile(t *testing.T) {
	tb, err := Parse("prices.toml", []byte(`
[[model]]
id = "gpt-5.5"
aliases = ["gpt-5.5-2026-04-23"]
input = 5.0
cached_input = 0.5
output = 30.0

[[model]]
id = "claude-sonnet-4-5-20250929"   # an override, spelled as a dated id
input = 2.5

[[model]]
id = "local-llm"
input = 0.1
output = 0.2

[alias]
"my-proxy-sonnet" = "claude-sonnet-4-5"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := tb.Cost(Usage{Model: "gpt-5.5-2026-04-23", Input: 1_000_000, CacheRead: 1_000_000, Output: 1_000_000}); !ok || c != 35.5 {
		t.Fatalf("gpt-5.5: %v %v", c, ok)
	}
	p, ok := tb.Lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
	if !ok || p.InputPerMTok != 2.5 || p.OutputPerMTok != 15 || p.CacheWrite5mPerMTok != 3.75 {
		t.Fatalf("override: %+v", p)
	}
	if p, _ := tb.Lookup("my-proxy-sonnet"); p.Model != "claude-sonnet-4-5" {
		t.Fatalf("alias: %+v", p)
	}
	// a price the user did not give is unknown, not 0
	if _, ok := tb.Cost(Usage{Model: "local-llm", Input: 10, CacheRead: 5}); ok {
		t.Fatal("cache read priced without a price")
	}
	if c, ok := tb.Cost(Usage{Model: "local-llm", Input: 1_000_000, Output: 1_000_000}); !ok || math.Abs(c-0.3) > 1e-12 {
		t.Fatalf("local-llm %v %v", c, ok)
	}
	// the default table is untouched
	if p, _ := Default().Lookup("claude-sonnet-4-5"); p.InputPerMTok != 3 {
		t.Fatalf("default changed: %+v", p)
	}
	for _, c := range []struct{ file, want string }{
		{"[[model]]\nid = \"x\"\ninput = 1\n", `model "x": a new model needs input and output prices`},
		{"[[model]]\nid = \"x\"\ninput = 1\noutput = -2\n", "output must be a price ≥ 0"},
		{"[[model]]\nid = \"x\"\ninput = 0\noutput = 0\n", "would be free"},
		{"[[model]]\nid = \"x\"\ninput = 1\noutput = 2\ncolour = 3\n", `unknown key "model.colour"`},
		{"[[model]]\ninput = 1\noutput = 2\n", "id is required"},
		{"[alias]\na = \"nope\"\n", `alias "a": no model "nope"`},
		{"[[model]\n", "prices.toml:"},
		{"[[model]]\nid = \"x\"\ninput = 1\noutput = 2\ncache_read = 1\ncached_input = 1\n", "not both"},
	} {
		if _, err := Parse("prices.toml", []byte(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.file, err, c.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tb, err := Load(filepath.Join(dir, "none.toml"))
	if err != nil || tb != Default() {
		t.Fatalf("missing file: %v", err)
	}
	path := filepath.Join(dir, "prices.toml")
	os.WriteFile(path, []byte("[[model]]\nid = \"o4-mini\"\ninput = 1.1\ncached_input = 0.275\noutput = 4.4\n"), 0o600)
	tb, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tb.Lookup("o4-mini-2025-04-16"); !ok {
		t.Fatal("a dated id of a user row must resolve")
	}
	os.WriteFile(path, []byte("bad = [\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error must name the file: %v", err)
	}
	if got := UserPath(func(k string) string { return map[string]string{"XDG_CONFIG_HOME": "/x"}[k] }, "/home/u"); got != "/x/gtrun/prices.toml" {
		t.Fatal(got)
	}
	if got := UserPath(func(string) string { return "" }, "/home/u"); got != "/home/u/.config/gtrun/prices.toml" {
		t.Fatal(got)
	}
}

func BenchmarkCost(b *testing.B) {
	tb := Default()
	u := Usage{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Input: 1200, Output: 300, CacheRead: 50000, CacheWrite5m: 2000}
	b.ReportAllocs()
	for b.Loop() {
		tb.Cost(u)
	}
}
