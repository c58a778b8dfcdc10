package runview

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CostRow is one group of `gtrun cost`: what its agents used and cost, and
// the calls and errors of its records, as VictoriaLogs' stats computed them.
type CostRow struct {
	Key        string `json:"key"` // "" for records without the grouping field
	Responses  int64  `json:"responses"`
	Input      int64  `json:"input_tokens"`
	Output     int64  `json:"output_tokens"`
	CacheRead  int64  `json:"cache_read_tokens"`
	CacheWrite int64  `json:"cache_write_tokens"`
	// CostUSD is the cost of the priced responses; nil when none was
	// priced (never a cost of 0 for an unknown price).
	CostUSD *float64 `json:"cost_usd"`
	// Unpriced counts the responses of models without a price (their
	// cost is not in CostUSD); UnpricedModels names those models.
	Unpriced       int64     `json:"unpriced_responses"`
	UnpricedModels []string  `json:"unpriced_models,omitempty"`
	Calls          int64     `json:"calls"`
	Errors         int64     `json:"errors"`
	First          time.Time `json:"first"`
	Last           time.Time `json:"last"`
}

// Wall is the time from the group's first record to its last.
func (r CostRow) Wall() time.Duration { return r.Last.Sub(r.First) }

// Tokens is the sum of every kind of token.
func (r CostRow) Tokens() int64 { return r.Input + r.Output + r.CacheRead + r.CacheWrite }

// CostReport is the answer of `gtrun cost` (its --json form).
type CostReport struct {
	By    string    `json:"by"`
	Since string    `json:"since"`
	Run   string    `json:"run,omitempty"`
	Rows  []CostRow `json:"rows"`
	Total CostRow   `json:"total"`
}

// CostRowFromStats reads one row of the stats query (logsq.CostQuery);
// key is the grouping field's name ("" for the total).
func CostRowFromStats(rec map[string]string, key string) CostRow {
	n := func(k string) int64 {
		f, err := strconv.ParseFloat(rec[k], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0 // sum() over no value is NaN
		}
		return int64(math.Round(f))
	}
	r := CostRow{Responses: n("responses"), Input: n("input"), Output: n("output"), CacheRead: n("cache_read"),
		CacheWrite: n("cache_write"), Unpriced: n("unpriced"), Calls: n("calls"), Errors: n("errors")}
	if key != "" {
		r.Key = rec[key]
	}
	if n("priced") > 0 {
		if c, err := strconv.ParseFloat(rec["cost"], 64); err == nil && !math.IsNaN(c) {
			r.CostUSD = &c
		}
	}
	var models []string
	if json.Unmarshal([]byte(rec["unpriced_models"]), &models) == nil && len(models) > 0 {
		sort.Strings(models)
		r.UnpricedModels = models
	}
	r.First, _ = time.Parse(time.RFC3339Nano, rec["first"])
	r.Last, _ = time.Parse(time.RFC3339Nano, rec["last"])
	return r
}

// SortCostRows orders rows by cost (unknown last), then tokens, then key.
func SortCostRows(rows []CostRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		ac, bc := -1.0, -1.0
		if a.CostUSD != nil {
			ac = *a.CostUSD
		}
		if b.CostUSD != nil {
			bc = *b.CostUSD
		}
		if ac != bc {
			return ac > bc
		}
		if a.Tokens() != b.Tokens() {
			return a.Tokens() > b.Tokens()
		}
		return a.Key < b.Key
	})
}

// FormatUSD prints a known cost: cents from a dollar up, four decimals
// below (a response costs fractions of a cent), never a bare $0.00 for a
// cost that is not zero.
func FormatUSD(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v >= 1:
		return fmt.Sprintf("$%.2f", v)
	case v >= 0.0001:
		return fmt.Sprintf("$%.4f", v)
	}
	return "<$0.0001"
}

// costCell is a row's cost: "?" when nothing was priced, "$x+?" when some
// responses lack a price, "—" when the row has no usage at all.
func costCell(c *float64, unpriced, responses int64) string {
	switch {
	case c == nil && unpriced > 0:
		return "?"
	case c == nil && responses == 0:
		return "—"
	case c == nil:
		return "—" // usage recorded before gtrun priced it
	case unpriced > 0:
		return FormatUSD(*c) + "+?"
	}
	return FormatUSD(*c)
}

// compact writes n in at most 6 characters: 8641043 → 8.64M.
func compact(n int64) string {
	f := float64(n)
	switch {
	case n < 10000:
		return strconv.FormatInt(n, 10)
	case n < 1e6:
		return trimZero(fmt.Sprintf("%.1f", f/1e3)) + "k"
	case n < 1e9:
		return trimZero(fmt.Sprintf("%.2f", f/1e6)) + "M"
	}
	return trimZero(fmt.Sprintf("%.2f", f/1e9)) + "G"
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

var costKeyTitle = map[string]string{"run": "RUN", "bead": "BEAD", "role": "ROLE", "rig": "RIG", "agent": "AGENT", "model": "MODEL"}

// RenderCost draws the report as a table that fits o.Width: exact numbers
// when they fit, else compact ones (8.64M) and short headers.
func RenderCost(w io.Writer, rep CostReport, o Options) {
	rep = safeCost(rep)
	width := max(o.Width, 60)
	c := func(code, s string) string {
		if o.Color {
			return code + s + reset
		}
		return s
	}
	fmt.Fprintln(w, c(bold, trim(fit(costHead(rep), width))))
	if len(rep.Rows) == 0 {
		fmt.Fprintln(w, "no records")
		return
	}
	all := append(append([]CostRow{}, rep.Rows...), rep.Total)
	heads, table, widths := costTable(rep, all, width)
	line := func(cells []string) string {
		var b strings.Builder
		for i, s := range cells {
			if i == 0 {
				b.WriteString(fit(s, widths[0]))
				continue
			}
			b.WriteString("  ")
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)) + s)
		}
		return trim(fit(b.String(), width))
	}
	tableW := 2 * (len(widths) - 1)
	for _, cw := range widths {
		tableW += cw
	}
	fmt.Fprintln(w, line(heads))
	for i, cells := range table {
		if i == len(table)-1 {
			fmt.Fprintln(w, c(dim, strings.Repeat("─", min(width, tableW))))
		}
		l := line(cells)
		if i == len(table)-1 {
			l = c(bold, l)
		} else if all[i].Errors > 0 {
			l = c(red, l)
		}
		fmt.Fprintln(w, l)
	}
	if note := UnpricedNote(rep.Total); note != "" {
		for _, l := range wrapWords(note, width) {
			fmt.Fprintln(w, l)
		}
	}
}

// costHead is the report's title line: grouping, period, run.
func costHead(rep CostReport) string {
	head := "cost by " + rep.By
	switch {
	case strings.HasPrefix(rep.Since, "since "):
		head += " · " + rep.Since
	case rep.Since != "all time":
		head += " · last " + rep.Since
	}
	if rep.Run != "" {
		head += " · run " + rep.Run
	}
	return head
}

// costTable lays the rows out: exact numbers while the key keeps a
// readable width in width columns, else compact numbers and short heads.
func costTable(rep CostReport, all []CostRow, width int) (heads []string, table [][]string, widths []int) {
	wall := rep.By == "run" || rep.By == "bead"
	title := costKeyTitle[rep.By]
	if title == "" {
		title = strings.ToUpper(rep.By)
	}
	var keyW int
	for _, compactNums := range []bool{false, true} {
		heads, table = costCells(all, title, wall, compactNums)
		rest := 0 // the width of every column but the key's, with gaps
		for col := 1; col < len(heads); col++ {
			rest += 2 + colWidth(heads, table, col)
		}
		natural := colWidth(heads, table, 0)
		keyW = min(natural, max(width-rest, 8))
		if min(natural, 16)+rest <= width || compactNums {
			break
		}
	}
	widths = make([]int, len(heads))
	widths[0] = keyW
	for col := 1; col < len(heads); col++ {
		widths[col] = colWidth(heads, table, col)
	}
	return heads, table, widths
}

// costCells are the heads and cells of every row (the last is the total).
func costCells(all []CostRow, title string, wall, compactNums bool) ([]string, [][]string) {
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	heads := []string{title, "RESP", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "COST", "CALLS", "ERRORS"}
	if compactNums {
		num = compact
		heads = []string{title, "RESP", "IN", "OUT", "C.READ", "C.WRITE", "COST", "CALLS", "ERR"}
	}
	if wall {
		heads = append(heads, "WALL")
	}
	var table [][]string
	for i, r := range all {
		key := r.Key
		if i == len(all)-1 {
			key = "TOTAL"
		} else if key == "" {
			key = "(none)"
		}
		cells := []string{key, num(r.Responses), num(r.Input), num(r.Output), num(r.CacheRead), num(r.CacheWrite),
			costCell(r.CostUSD, r.Unpriced, r.Responses), num(r.Calls), num(r.Errors)}
		if wall {
			cells = append(cells, wallDur(r.Wall()))
		}
		table = append(table, cells)
	}
	if wall {
		// The total's wall is what the rows add up to, not the span from the
		// first row's start to the last row's end (rows months apart).
		var sum time.Duration
		for _, r := range all[:len(all)-1] {
			sum += r.Wall()
		}
		table[len(table)-1][len(heads)-1] = wallDur(sum)
	}
	return heads, table
}

// UnpricedNote names the models without a price, or "".
func UnpricedNote(r CostRow) string {
	if r.Unpriced == 0 {
		return ""
	}
	s := "s"
	if r.Unpriced == 1 {
		s = ""
	}
	models := make([]string, len(r.UnpricedModels))
	for i, m := range r.UnpricedModels {
		models[i] = strconv.Quote(m)
	}
	return fmt.Sprintf("? no price for %s: %d response%s not in the cost (add the models to prices.toml)", strings.Join(models, ", "), r.Unpriced, s)
}

func colWidth(heads []string, table [][]string, col int) int {
	w := utf8.RuneCountInString(heads[col])
	for _, r := range table {
		w = max(w, utf8.RuneCountInString(r[col]))
	}
	return w
}

// wrapWords breaks s into lines of at most width runes at spaces.
func wrapWords(s string, width int) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
			cur += " " + word
		default:
			out = append(out, cur)
			cur = word
		}
	}
	if cur != "" {
		out = append(out, trim(fit(cur, width)))
	}
	return out
}

// wallDur is dur, in days and hours from two days up.
func wallDur(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	return dur(d)
}
