package runview

import (
	"github.com/gastown/gtrun/internal/event"
	"github.com/gastown/gtrun/internal/termsafe"
)

// safeRun returns a copy of r whose every string from a record (names,
// errors, attribute keys and values, sessions, agents, beads, models) is
// terminal-safe: the text renderers draw only this copy, so no record can
// set a pane title, write the clipboard or wipe lines. r is not changed
// (--json and the HTML page keep the original values).
func safeRun(r Run) Run {
	s := termsafe.String
	r.ID = s(r.ID)
	evs := make([]Event, len(r.Events))
	for i, e := range r.Events {
		e.Name, e.Error, e.Status, e.Session = s(e.Name), s(e.Error), s(e.Status), s(e.Session)
		attrs := make(map[string]string, len(e.Attrs))
		for k, v := range e.Attrs {
			attrs[s(k)] = s(v)
		}
		e.Attrs = attrs
		evs[i] = e
	}
	r.Events = evs
	r.ByAgent, r.ByBead = safeKeys(r.ByAgent), safeKeys(r.ByBead)
	r.Sessions = safeList(r.Sessions)
	r.UnpricedModels = safeList(r.UnpricedModels)
	return r
}

// safeCost is safeRun for a cost report: group keys, models, the run.
func safeCost(rep CostReport) CostReport {
	rep.By, rep.Since, rep.Run = termsafe.String(rep.By), termsafe.String(rep.Since), termsafe.String(rep.Run)
	rows := make([]CostRow, len(rep.Rows))
	for i, r := range rep.Rows {
		r.Key = termsafe.String(r.Key)
		r.UnpricedModels = safeList(r.UnpricedModels)
		rows[i] = r
	}
	rep.Rows = rows
	rep.Total.Key = termsafe.String(rep.Total.Key)
	rep.Total.UnpricedModels = safeList(rep.Total.UnpricedModels)
	return rep
}

func safeKeys(m map[string]Tokens) map[string]Tokens {
	if m == nil {
		return nil
	}
	out := make(map[string]Tokens, len(m))
	for k, v := range m {
		k2 := termsafe.String(k)
		out[k2] = add(out[k2], v) // two keys may read the same once escaped
	}
	return out
}

func safeList(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = termsafe.String(x)
	}
	return out
}

// HTMLValueMax bounds each attribute value and error the HTML page shows
// (UTF-8 boundary, "…"): a run of 10,000 records, some with megabytes of
// arguments recorded before args were capped, still makes a page of a
// few tens of megabytes. The whole values stay in --json and the backend.
const HTMLValueMax = 512

// boundRun is r with every attribute value and error cut to HTMLValueMax;
// values within it are shared, not copied.
func boundRun(r Run) Run {
	evs := make([]Event, len(r.Events))
	for i, e := range r.Events {
		e.Error = cutValue(e.Error)
		copied := false
		for k, v := range e.Attrs {
			if len(v) <= HTMLValueMax {
				continue
			}
			if !copied { // the caller's map stays whole
				e.Attrs, copied = copyAttrs(e.Attrs), true
			}
			e.Attrs[k] = cutValue(v)
		}
		evs[i] = e
	}
	r.Events = evs
	return r
}

func copyAttrs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cutValue(s string) string { return event.Cut(s, HTMLValueMax) }

// cutDetail bounds a row's one-line description (it is repeated in the
// row's hover title): the attributes table has the values.
func cutDetail(s string) string { return event.Cut(s, 240) }

// BoundRecords cuts, in place, every value of the fetched records to
// HTMLValueMax: for the HTML page only, right after the fetch, so that
// the whole values can be collected before the page is drawn.
func BoundRecords(recs []map[string]string) []map[string]string {
	for _, r := range recs {
		for k, v := range r {
			if len(v) > HTMLValueMax {
				r[k] = cutValue(v)
			}
		}
	}
	return recs
}
