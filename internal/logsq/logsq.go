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

// Run returns every record of one run, oldest first.
func Run(ctx context.Context, base, runID string) ([]Record, error) {
	return Query(ctx, base, `"run.id":=`+Quote(runID)+` | sort by (_time)`, 100000)
}

// Since returns the records of the last d, for `gtrun runs`.
func Since(ctx context.Context, base string, d time.Duration) ([]Record, error) {
	q := fmt.Sprintf(`_time:%ds "run.id":* | fields _time, _msg, run.id, status, duration_ms, gt.role, gt.session, session, session_id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens`, int(d.Seconds()))
	return Query(ctx, base, q, 1000000)
}
