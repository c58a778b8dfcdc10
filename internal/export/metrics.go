package export

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/gastown/gtrun/internal/catalog"
	"github.com/gastown/gtrun/internal/state"
)

// Why metrics are exact across thousands of short-lived processes
// (docs/metrics.md has the long form):
//
// Each gtrun process sees one or two calls. Exporting its own cumulative
// counter (1) from every process would make VictoriaMetrics read 1, not N;
// delta temporality is stored raw, so increase() is wrong too. Instead the
// cumulative value of every series lives in the per-user state directory.
// A process takes an flock, adds its increments, gives every touched series
// a timestamp strictly after the previous one, saves, and exports the new
// cumulative values. Samples therefore increase with time whatever order
// the HTTP requests arrive in (or are redelivered from the spool), and the
// series identity is only the catalog's labels plus fixed per-host resource
// attributes: no run id, no pid. A series' first sample is a 0 just before
// its first value, so increase() never has to guess where a counter began.

// HistogramBounds are the explicit bucket bounds of the *_duration_ms
// histograms, in milliseconds.
var HistogramBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}

type seriesState struct {
	Metric  string            `json:"m"`
	Labels  map[string]string `json:"l"`
	Start   int64             `json:"s"` // unix ns, the series' start time
	Value   int64             `json:"v,omitempty"`
	Counts  []uint64          `json:"c,omitempty"` // histogram bucket counts
	Sum     float64           `json:"sum,omitempty"`
	Count   uint64            `json:"n,omitempty"`
	IsHisto bool              `json:"h,omitempty"`
}

type metricState struct {
	Identity string                  `json:"identity"` // resource the series belong to
	Last     int64                   `json:"last"`     // last sample time, unix ms
	Series   map[string]*seriesState `json:"series"`
}

// pending holds one process's increments until Flush.
type pending struct {
	counters map[string]*seriesState
	order    []string
}

func seriesKey(metric string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(metric)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, labels[k])
	}
	return b.String()
}

func (p *pending) add(inc catalog.Increment) {
	if p.counters == nil {
		p.counters = map[string]*seriesState{}
	}
	k := seriesKey(inc.Metric, inc.Labels)
	s := p.counters[k]
	if s == nil {
		s = &seriesState{Metric: inc.Metric, Labels: inc.Labels, IsHisto: inc.Histogram}
		if inc.Histogram {
			s.Counts = make([]uint64, len(HistogramBounds)+1)
		}
		p.counters[k] = s
		p.order = append(p.order, k)
	}
	if inc.Histogram {
		s.Counts[bucketOf(inc.Value)]++
		s.Sum += inc.Value
		s.Count++
		return
	}
	s.Value += int64(inc.Value)
}

func bucketOf(v float64) int {
	// OTLP buckets are upper-inclusive: bucket i counts bounds[i-1] < v <= bounds[i].
	return sort.SearchFloat64s(HistogramBounds, v)
}

func (p *pending) empty() bool { return len(p.order) == 0 }

// commit merges the increments into the persisted state under an flock and
// returns the data points to export. identity names the resource; when it
// changes (new version, new host name) the state starts afresh, because
// those are new series in the backend.
func (p *pending) commit(identity string, res *resource.Resource) (*metricdata.ResourceMetrics, error) {
	dir, err := state.Dir()
	if err != nil {
		return nil, err
	}
	lk, err := state.LockFile(filepath.Join(dir, "metrics.lock"))
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	path := filepath.Join(dir, "metrics.json")
	st := metricState{}
	if data, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(data, &st) != nil {
			st = metricState{} // damaged: start afresh; series restart at 0, which increase() reads as a reset
		}
	}
	if st.Identity != identity || st.Series == nil {
		st = metricState{Identity: identity, Last: st.Last, Series: map[string]*seriesState{}}
	}
	nowMS := time.Now().UnixMilli()
	if nowMS <= st.Last {
		nowMS = st.Last + 1
	}
	ts := time.UnixMilli(nowMS)
	st.Last = nowMS

	byName := map[string]*metricdata.Metrics{}
	var names []string
	for _, k := range p.order {
		inc := p.counters[k]
		cur := st.Series[k]
		fresh := cur == nil
		if fresh {
			cur = &seriesState{Metric: inc.Metric, Labels: inc.Labels, Start: ts.Add(-2 * time.Millisecond).UnixNano(), IsHisto: inc.IsHisto}
			if inc.IsHisto {
				cur.Counts = make([]uint64, len(HistogramBounds)+1)
			}
			st.Series[k] = cur
		}
		if inc.IsHisto {
			if len(cur.Counts) != len(inc.Counts) {
				cur.Counts = make([]uint64, len(inc.Counts))
			}
			for i, c := range inc.Counts {
				cur.Counts[i] += c
			}
			cur.Sum += inc.Sum
			cur.Count += inc.Count
		} else {
			cur.Value += inc.Value
		}
		m := byName[inc.Metric]
		if m == nil {
			m = &metricdata.Metrics{Name: inc.Metric, Unit: unitOf(inc.Metric)}
			if inc.IsHisto {
				m.Data = metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
			} else {
				m.Data = metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
			}
			byName[inc.Metric] = m
			names = append(names, inc.Metric)
		}
		attrs := labelSet(cur.Labels)
		start := time.Unix(0, cur.Start)
		zeroAt := ts.Add(-time.Millisecond)
		if inc.IsHisto {
			h := m.Data.(metricdata.Histogram[float64])
			if fresh {
				h.DataPoints = append(h.DataPoints, metricdata.HistogramDataPoint[float64]{
					Attributes: attrs, StartTime: start, Time: zeroAt, Bounds: HistogramBounds,
					BucketCounts: make([]uint64, len(cur.Counts)),
				})
			}
			h.DataPoints = append(h.DataPoints, metricdata.HistogramDataPoint[float64]{
				Attributes: attrs, StartTime: start, Time: ts, Count: cur.Count, Bounds: HistogramBounds,
				BucketCounts: append([]uint64(nil), cur.Counts...), Sum: cur.Sum,
			})
			m.Data = h
		} else {
			s := m.Data.(metricdata.Sum[int64])
			if fresh {
				s.DataPoints = append(s.DataPoints, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Time: zeroAt})
			}
			s.DataPoints = append(s.DataPoints, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Time: ts, Value: cur.Value})
			m.Data = s
		}
	}
	data, err := json.Marshal(&st)
	if err != nil {
		return nil, err
	}
	if err := state.WriteFileAtomic(path, data); err != nil {
		return nil, err
	}
	rm := &metricdata.ResourceMetrics{Resource: res, ScopeMetrics: []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: "gtrun"}}}}
	for _, n := range names {
		rm.ScopeMetrics[0].Metrics = append(rm.ScopeMetrics[0].Metrics, *byName[n])
	}
	return rm, nil
}

func unitOf(metric string) string {
	if strings.HasSuffix(metric, "_ms") {
		return "ms"
	}
	return ""
}

func labelSet(l map[string]string) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(l))
	for k, v := range l {
		kvs = append(kvs, attribute.String(k, v))
	}
	return attribute.NewSet(kvs...)
}
