// Package price turns token usage into a dollar cost.
//
// An embedded, dated table (table.go) holds the per-million-token prices of
// the Claude models (input, output, cache read, cache write for 5 minutes
// and for 1 hour) and of the OpenAI models Codex uses (input, cached input,
// output). A user file, $XDG_CONFIG_HOME/gtrun/prices.toml, overrides rows or
// adds models and aliases (see Load).
//
// Model ids resolve to a row whatever their spelling: dated ids
// (claude-sonnet-4-5-20250929, gpt-5.1-2025-11-13), Bedrock ids
// (us.anthropic.claude-sonnet-4-5-20250929-v1:0, anthropic.claude-…),
// Vertex ids (claude-sonnet-4-5@20250929), old-style Claude names
// (claude-3-5-sonnet-latest), -latest aliases, Codex's dashed versions
// (gpt-5-1-codex-2025-11-13). A Codex variant without a row of its own
// (gpt-5.1-codex) is priced as its base model (gpt-5.1): OpenAI prices
// them alike (gpt-5-codex and gpt-5 have the same rates); Price.Via says so.
//
// An unknown model is never priced at 0: Cost reports ok=false, and the
// caller records no cost and names the model (Tally, UnknownWarning).
//
// Costs are computed exactly in integers (pico-dollars: tokens × micro-
// dollars per million tokens), then converted to float64 dollars once, so
// sums are right to the cent and far below it.
//
// Nothing is parsed or built at package init: the default table's index is
// built on first use and the user file is read only by Load.
package price

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gastown/gtrun/internal/tomlfile"
)

// Price is one table row, in USD per million tokens. A negative price is
// unknown (a user row that did not give it): tokens of that kind make the
// cost unknown rather than free.
type Price struct {
	Model               string // the canonical row
	Via                 string // how the id was resolved when not directly (e.g. "codex variant priced as gpt-5.1")
	InputPerMTok        float64
	OutputPerMTok       float64
	CacheReadPerMTok    float64
	CacheWrite5mPerMTok float64
	CacheWrite1hPerMTok float64
}

// Usage is one response's token counts, in gtrun's meaning: Input excludes
// cache reads and writes; Output includes reasoning. Claude cache writes go
// to CacheWrite5m and CacheWrite1h (when a transcript does not split them,
// all of them to CacheWrite5m, Claude Code's default TTL).
type Usage struct {
	Model        string
	Input        int64
	Output       int64
	CacheRead    int64
	CacheWrite5m int64
	CacheWrite1h int64
}

const unset = -1

// entry is a row in micro-dollars per MTok; unset where unknown.
type entry struct {
	id                              string
	in, out, read, write5m, write1h int64
}

// Table resolves model ids to prices.
type Table struct {
	rows    map[string]entry  // canonical id → row
	aliases map[string]string // lowercased id → canonical id
}

var defaultTable = sync.OnceValue(func() *Table {
	t := &Table{rows: make(map[string]entry, len(rows)), aliases: map[string]string{}}
	for _, r := range rows {
		t.rows[r.id] = entry{r.id, r.in, r.out, r.read, r.write5m, r.write1h}
	}
	return t
})

// Default returns the embedded table (shared; do not modify).
func Default() *Table { return defaultTable() }

// Lookup returns the price row for a model id.
func (t *Table) Lookup(model string) (Price, bool) {
	e, via, ok := t.resolve(model)
	if !ok {
		return Price{}, false
	}
	f := func(v int64) float64 {
		if v < 0 {
			return -1
		}
		return float64(v) / 1e6
	}
	return Price{Model: e.id, Via: via, InputPerMTok: f(e.in), OutputPerMTok: f(e.out), CacheReadPerMTok: f(e.read),
		CacheWrite5mPerMTok: f(e.write5m), CacheWrite1hPerMTok: f(e.write1h)}, true
}

func (t *Table) resolve(model string) (entry, string, bool) {
	id := strings.ToLower(strings.TrimSpace(model))
	if id == "" {
		return entry{}, "", false
	}
	if e, ok := t.find(id); ok {
		return e, "", true
	}
	c := Canonical(id)
	if e, ok := t.find(c); ok {
		return e, "", true
	}
	if base, ok := strings.CutSuffix(c, "-codex"); ok && strings.HasPrefix(base, "gpt-") {
		if e, ok := t.find(base); ok {
			return e, "codex variant priced as " + e.id, true
		}
	}
	return entry{}, "", false
}

func (t *Table) find(id string) (entry, bool) {
	if a, ok := t.aliases[id]; ok {
		id = a
	}
	e, ok := t.rows[id]
	return e, ok
}

// Cost returns the cost of one usage in USD; ok is false when the model
// has no price (or a price the usage needs is unknown): no cost then, never 0.
func (t *Table) Cost(u Usage) (usd float64, ok bool) {
	p, ok := t.Pico(u)
	return float64(p) / 1e12, ok
}

// Pico returns the exact cost in pico-dollars (1e-12 USD).
func (t *Table) Pico(u Usage) (int64, bool) {
	e, _, ok := t.resolve(u.Model)
	if !ok {
		return 0, false
	}
	var sum int64
	for _, c := range [...]struct{ n, p int64 }{
		{u.Input, e.in}, {u.Output, e.out}, {u.CacheRead, e.read}, {u.CacheWrite5m, e.write5m}, {u.CacheWrite1h, e.write1h},
	} {
		if c.n == 0 {
			continue
		}
		if c.p < 0 || c.n < 0 {
			return 0, false
		}
		sum += c.n * c.p
	}
	return sum, true
}

// UnknownWarning is the message for a model without a price.
func UnknownWarning(model string) string {
	return fmt.Sprintf("no price for model %q: its cost is not counted (add it to prices.toml)", model)
}

// Canonical returns the id a model's spelling resolves to: lowercased,
// provider prefixes (Bedrock's region.anthropic., openai/), version and
// date suffixes (-v1:0, @20250929, -20250929, -2025-11-13, -latest, [1m])
// removed, Claude names as claude-<family>-<major>[-<minor>], OpenAI's
// dashed versions dotted (gpt-5-1 → gpt-5.1). Unrecognised ids come back
// cleaned but otherwise as they were.
func Canonical(model string) string {
	s := strings.ToLower(strings.TrimSpace(model))
	if i := strings.IndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
		s = s[:i] // Claude Code's "[1m]" context marker
	}
	if i := strings.LastIndex(s, "anthropic."); i >= 0 {
		s = s[i+len("anthropic."):] // us.anthropic.…, arn:…/eu.anthropic.…
	}
	for _, p := range [...]string{"anthropic/", "openai/"} {
		s = strings.TrimPrefix(s, p)
	}
	if i := strings.IndexByte(s, '@'); i > 0 {
		s = s[:i] // Vertex: claude-sonnet-4-5@20250929
	}
	s = stripBedrockVersion(s)
	s = strings.TrimSuffix(s, "-latest")
	s = stripDate(s)
	if strings.HasPrefix(s, "claude-") {
		if c, ok := claudeName(s); ok {
			return c
		}
		return s
	}
	if strings.HasPrefix(s, "gpt-") {
		return dotVersion(s)
	}
	return s
}

// stripBedrockVersion removes "-v1:0", "-v2", ":0".
func stripBedrockVersion(s string) string {
	if i := strings.LastIndexByte(s, ':'); i > 0 && allDigits(s[i+1:]) {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "-v"); i > 0 && allDigits(s[i+2:]) {
		s = s[:i]
	}
	return s
}

// stripDate removes a trailing -YYYYMMDD or -YYYY-MM-DD.
func stripDate(s string) string {
	if n := len(s); n > 9 && s[n-9] == '-' && allDigits(s[n-8:]) && (s[n-8] == '2' || s[n-8] == '1') {
		return s[:n-9]
	}
	if n := len(s); n > 11 && s[n-11] == '-' && allDigits(s[n-10:n-6]) && s[n-6] == '-' && allDigits(s[n-5:n-3]) &&
		s[n-3] == '-' && allDigits(s[n-2:]) {
		return s[:n-11]
	}
	return s
}

// claudeName: claude-3-5-sonnet, claude-sonnet-4-5, claude-opus-4-0 →
// claude-<family>-<major>[-<minor>]. Any other word makes it unknown.
func claudeName(s string) (string, bool) {
	family, nums := "", []string{}
	for _, w := range strings.Split(s[len("claude-"):], "-") {
		switch {
		case w == "opus" || w == "sonnet" || w == "haiku":
			if family != "" {
				return "", false
			}
			family = w
		case allDigits(w) && len(w) <= 2:
			nums = append(nums, w)
		default:
			return "", false
		}
	}
	if family == "" || len(nums) == 0 || len(nums) > 2 {
		return "", false
	}
	c := "claude-" + family + "-" + nums[0]
	if len(nums) == 2 && nums[1] != "0" {
		c += "-" + nums[1]
	}
	return c, true
}

// dotVersion: gpt-5-1-codex → gpt-5.1-codex (a single-digit minor version).
func dotVersion(s string) string {
	r := s[len("gpt-"):]
	i := 0
	for i < len(r) && r[i] >= '0' && r[i] <= '9' {
		i++
	}
	if i > 0 && i+2 <= len(r) && r[i] == '-' && r[i+1] >= '0' && r[i+1] <= '9' && (i+2 == len(r) || r[i+2] == '-') {
		return "gpt-" + r[:i] + "." + r[i+1:]
	}
	return s
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// UserPath is the user's price file: $XDG_CONFIG_HOME/gtrun/prices.toml,
// else ~/.config/gtrun/prices.toml.
func UserPath(getenv func(string) string, home string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "gtrun", "prices.toml")
}

// The user file:
//
//	# a new model: input and output are required
//	[[model]]
//	id = "gpt-5.5"
//	aliases = ["gpt-5.5-2026-04-23"]
//	input = 5.0            # USD per million tokens
//	cached_input = 0.5     # or cache_read
//	output = 30.0
//
//	# an override of an embedded row: only the given prices change
//	[[model]]
//	id = "claude-sonnet-4-5"
//	input = 2.5
//
//	# aliases to existing rows
//	[alias]
//	"my-proxy-sonnet" = "claude-sonnet-4-5"
//
// A price left out of a new row is unknown, never 0: usage that needs it
// gets no cost.
type userFile struct {
	Model []userRow         `toml:"model"`
	Alias map[string]string `toml:"alias"`
}

type userRow struct {
	ID           string   `toml:"id"`
	Aliases      []string `toml:"aliases"`
	Input        *float64 `toml:"input"`
	Output       *float64 `toml:"output"`
	CacheRead    *float64 `toml:"cache_read"`
	CachedInput  *float64 `toml:"cached_input"`
	CacheWrite5m *float64 `toml:"cache_write_5m"`
	CacheWrite1h *float64 `toml:"cache_write_1h"`
}

// Load returns the default table merged with the user file at path; a
// missing file is no error (the default table comes back).
func Load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return Default(), err
	}
	t, err := Parse(path, data)
	if err != nil {
		return Default(), err
	}
	return t, nil
}

// Parse merges a user file's content (named path in errors) over the
// default table.
func Parse(path string, data []byte) (*Table, error) {
	var f userFile
	if err := tomlfile.Decode(path, data, &f); err != nil {
		return nil, err
	}
	def := Default()
	t := &Table{rows: make(map[string]entry, len(def.rows)+len(f.Model)), aliases: map[string]string{}}
	for k, v := range def.rows {
		t.rows[k] = v
	}
	for k, v := range def.aliases {
		t.aliases[k] = v
	}
	for i, r := range f.Model {
		where := fmt.Sprintf("%s: model %d", path, i+1)
		id := strings.ToLower(strings.TrimSpace(r.ID))
		if id == "" {
			return nil, fmt.Errorf("%s: id is required", where)
		}
		where = fmt.Sprintf("%s: model %q", path, r.ID)
		if r.CacheRead != nil && r.CachedInput != nil {
			return nil, fmt.Errorf("%s: give cache_read or cached_input, not both", where)
		}
		if r.CacheRead == nil {
			r.CacheRead = r.CachedInput
		}
		e, exists := t.rows[id]
		if !exists {
			if base, _, ok := t.resolve(id); ok && Canonical(id) == base.id {
				id, e, exists = base.id, base, true // an override spelled as a dated/Bedrock id
			}
		}
		if !exists {
			if r.Input == nil || r.Output == nil {
				return nil, fmt.Errorf("%s: a new model needs input and output prices", where)
			}
			e = entry{id: id, in: unset, out: unset, read: unset, write5m: unset, write1h: unset}
		}
		for _, p := range [...]struct {
			v   *float64
			dst *int64
			key string
		}{{r.Input, &e.in, "input"}, {r.Output, &e.out, "output"}, {r.CacheRead, &e.read, "cache_read"},
			{r.CacheWrite5m, &e.write5m, "cache_write_5m"}, {r.CacheWrite1h, &e.write1h, "cache_write_1h"}} {
			if p.v == nil {
				continue
			}
			if *p.v < 0 || math.IsNaN(*p.v) || math.IsInf(*p.v, 0) {
				return nil, fmt.Errorf("%s: %s must be a price ≥ 0", where, p.key)
			}
			*p.dst = int64(math.Round(*p.v * 1e6))
		}
		if e.in <= 0 && e.out <= 0 {
			return nil, fmt.Errorf("%s: input and output are both 0: the model would be free", where)
		}
		t.rows[id] = e
		for _, a := range r.Aliases {
			t.aliases[strings.ToLower(strings.TrimSpace(a))] = id
		}
	}
	for a, target := range f.Alias {
		e, _, ok := t.resolve(target)
		if !ok {
			return nil, fmt.Errorf("%s: alias %q: no model %q", path, a, target)
		}
		t.aliases[strings.ToLower(strings.TrimSpace(a))] = e.id
	}
	return t, nil
}

// Tally adds up the cost of many usages and remembers the models that had
// no price, for `gtrun cost` and `gtrun trace` to name.
type Tally struct {
	t       *Table
	pico    int64
	priced  int
	unknown map[string]int
}

// NewTally starts an empty tally over t.
func (t *Table) NewTally() *Tally { return &Tally{t: t, unknown: map[string]int{}} }

// Add counts one usage and returns its cost (ok=false: no price).
func (y *Tally) Add(u Usage) (float64, bool) {
	p, ok := y.t.Pico(u)
	if !ok {
		y.unknown[u.Model]++
		return 0, false
	}
	y.pico += p
	y.priced++
	return float64(p) / 1e12, true
}

// USD is the total cost of the priced usages.
func (y *Tally) USD() float64 { return float64(y.pico) / 1e12 }

// Unknown returns the models that had no price, sorted.
func (y *Tally) Unknown() []string {
	out := make([]string, 0, len(y.unknown))
	for m := range y.unknown {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Warning names the unpriced models and how many usages each had; "" when
// every usage was priced.
func (y *Tally) Warning() string {
	if len(y.unknown) == 0 {
		return ""
	}
	parts := make([]string, 0, len(y.unknown))
	for _, m := range y.Unknown() {
		n := y.unknown[m]
		s := "s"
		if n == 1 {
			s = ""
		}
		parts = append(parts, fmt.Sprintf("%q (%d record%s)", m, n, s))
	}
	return "no price for " + strings.Join(parts, ", ") + ": their cost is not counted (add them to prices.toml)"
}
