// Package logsq queries VictoriaLogs (LogsQL over HTTP) for gtrun trace
// and gtrun runs, with errors a person can act on.
package logsq

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

// Record is one log record: field name → value.
type Record = map[string]string

// BaseFromOTLP derives the query base URL from an OTLP logs URL such as
// http://127.0.0.1:9428/insert/opentelemetry/v1/logs.
func BaseFromOTLP(logsURL string) (string, error) {
	u, err := url.Parse(logsURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad logs URL %q", logsURL)
	}
	if i := strings.Index(u.Path, "/insert/"); i >= 0 {
		u.Path = u.Path[:i]
	} else {
		u.Path = ""
	}
	u.RawQuery = ""
	return strings.TrimRight(u.String(), "/"), nil
}

// Quote quotes a value for LogsQL.
func Quote(s string) string { return strconv.Quote(s) }

// Query runs a LogsQL query and returns the records.
func Query(ctx context.Context, base, logsql string, limit int) ([]Record, error) {
	form := url.Values{"query": {logsql}}
	if limit > 0 {
		form.Set("limit", strconv.Itoa(limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, fmt.Errorf("cannot reach VictoriaLogs at %s: %v", base, op.Err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("VictoriaLogs at %s did not answer in time", base)
		}
		return nil, fmt.Errorf("cannot reach VictoriaLogs at %s: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		return nil, fmt.Errorf("VictoriaLogs at %s answered HTTP %d: %s", base, resp.StatusCode, line)
	}
	var out []Record
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		r := Record{}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("VictoriaLogs at %s: bad answer: %v", base, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// Run returns every record of one run, oldest first: gtrun's own
// ("run.id") and the agents' native events, which carry the run in their
// resource ("gt.run_id", set by gtrun agent through OTEL_RESOURCE_ATTRIBUTES).
func Run(ctx context.Context, base, runID string) ([]Record, error) {
	q := Quote(runID)
	return Query(ctx, base, `("run.id":=`+q+` OR "gt.run_id":=`+q+`) | sort by (_time)`, 100000)
}

// SinceQuery selects the records that match filter of the last d by event
// time or, for a late record (a transcript of last month read today), by
// when it was recorded: a run is found when it happened and when it was
// recorded. Two disjoint halves joined by union, each of which VictoriaLogs
// narrows from its indexes — the days of the window, the late records'
// stream — where one OR of the two would read every block of every day.
func SinceQuery(filter string, d time.Duration, now time.Time) string {
	late := `{` + event.LateResource + `="true"}`
	return fmt.Sprintf(`_time:%ds NOT %s (%s) | union (%s %s:>=%d (%s))`,
		max(int(d.Seconds()), 1), late, filter, late, event.RecordedAttr, now.Add(-d).Unix(), filter)
}

// Since returns the records of the last d, for `gtrun runs`.
func Since(ctx context.Context, base string, d time.Duration) ([]Record, error) {
	q := SinceQuery(`"run.id":*`, d, time.Now()) + ` | fields _time, _msg, run.id, status, duration_ms, gt.role, gt.session, session, session_id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, cost_unknown_model`
	return Query(ctx, base, q, 1000000)
}

// CostGroups are the groupings of `gtrun cost` and the field each groups
// by. Role and rig fall back to the process's identity (gt.role, gt.rig)
// on records that do not carry their own (bd.call has no role).
var CostGroups = map[string]string{
	"run":   "run.id",
	"bead":  "gt.work_bead",
	"role":  "role",
	"rig":   "gt.work_rig",
	"agent": "agent_type",
	"model": "model",
}

// costFallback fills a grouping field that a record lacks.
var costFallback = map[string]string{
	"role": `| format if (role:="") "<gt.role>" as role `,
	"rig":  `| format if (gt.work_rig:="") "<gt.rig>" as gt.work_rig `,
}

// costStats is the stats of one group: agent usage (tokens, the cost of the
// priced responses, the responses and models without a price), calls and
// errors, and the first and last record.
const costStats = `count() if (_msg:="agent.usage") responses, ` +
	`sum(input_tokens) if (_msg:="agent.usage") input, sum(output_tokens) if (_msg:="agent.usage") output, ` +
	`sum(cache_read_tokens) if (_msg:="agent.usage") cache_read, sum(cache_creation_tokens) if (_msg:="agent.usage") cache_write, ` +
	`count(cost_usd) if (_msg:="agent.usage") priced, sum(cost_usd) if (_msg:="agent.usage") cost, ` +
	`count(cost_unknown_model) if (_msg:="agent.usage") unpriced, uniq_values(cost_unknown_model) if (_msg:="agent.usage") unpriced_models, ` +
	`count() if (_msg:in("bd.call", "cmd.call")) calls, count() if (status:="error") errors, ` +
	`min(_time) first, max(_time) last`

// CostQuery returns the LogsQL of `gtrun cost`: the stats per group (by is
// a CostGroups key) and the same stats over everything, over the records
// of the last since (of one run when run is set). VictoriaLogs aggregates;
// gtrun only reads the rows.
func CostQuery(by string, since time.Duration, run string, now time.Time) (groups, total string, field string, err error) {
	field, ok := CostGroups[by]
	if !ok {
		return "", "", "", fmt.Errorf("cannot group by %q (run, bead, role, rig, agent or model)", by)
	}
	filter := `"run.id":*`
	if run != "" {
		filter += ` AND "run.id":=` + Quote(run)
	}
	if since > 0 {
		filter = SinceQuery(filter, since, now)
	}
	groups = filter + " " + costFallback[by] + "| stats by (" + Quote(field) + ") " + costStats
	total = filter + " | stats " + costStats
	return groups, total, field, nil
}

// Cost runs CostQuery: the groups' rows and the total's.
func Cost(ctx context.Context, base, by string, since time.Duration, run string) (groups []Record, total Record, field string, err error) {
	gq, tq, field, err := CostQuery(by, since, run, time.Now())
	if err != nil {
		return nil, nil, "", err
	}
	if groups, err = Query(ctx, base, gq, 0); err != nil {
		return nil, nil, "", err
	}
	tot, err := Query(ctx, base, tq, 0)
	if err != nil {
		return nil, nil, "", err
	}
	if len(tot) != 1 {
		return nil, nil, "", fmt.Errorf("VictoriaLogs at %s: %d total rows, want 1", base, len(tot))
	}
	return groups, tot[0], field, nil
}
