// Package dashboard exposes the PromQL of deploy/grafana/gastown.json so
// tests can run every panel's query against a real VictoriaMetrics.
package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Panel is one dashboard panel and its query.
type Panel struct {
	Title string
	Expr  string
}

// Load reads a dashboard JSON and returns its panels' queries.
func Load(path string) ([]Panel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if d.Title == "" || len(d.Panels) == 0 {
		return nil, fmt.Errorf("%s: no title or panels", path)
	}
	var out []Panel
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				return nil, fmt.Errorf("%s: panel %q has an empty query", path, p.Title)
			}
			out = append(out, Panel{p.Title, t.Expr})
		}
	}
	return out, nil
}

// Resolve replaces Grafana's $__range with a concrete window.
func Resolve(expr, window string) string { return strings.ReplaceAll(expr, "$__range", window) }
