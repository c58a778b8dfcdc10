package export

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/gastown/gtrun/internal/shipper"
)

// Metrics exports the agent's samples as cumulative data: monotonic sums
// and explicit-bucket histograms, several points per series in time order.
// The agent's own series have the host's resource (service.name,
// service.version, host.name, os.type): no run, session or pid, so a call
// never makes a new series. Series merged from what programs sent to the
// receiver keep their sender's resource and scope: one request each
// (samples are idempotent, so a retry after a partial failure is harmless).
func (c *Client) Metrics(ctx context.Context, url string, headers map[string]string, points []shipper.Point) error {
	me, err := c.metricExporter(url, headers)
	if err != nil {
		return err
	}
	me.st.reset()
	for _, rm := range c.resourceMetrics(points) {
		if err := wrapErr(me.exp.Export(ctx, rm), me.st); err != nil {
			return err
		}
	}
	return nil
}

// resourceMetrics groups points by resource and scope, in first-seen order.
func (c *Client) resourceMetrics(points []shipper.Point) []*metricdata.ResourceMetrics {
	type group struct {
		rm     *metricdata.ResourceMetrics
		idx    int // in out
		scopes map[string]int
	}
	groups := map[string]*group{}
	var out []*metricdata.ResourceMetrics
	byName := map[string]*metricdata.Metrics{}
	var order []*metricdata.Metrics
	where := map[*metricdata.Metrics][2]int{} // resource group index, scope index
	for _, p := range points {
		rk := pairsKey(p.Resource)
		g := groups[rk]
		if g == nil {
			res := c.metRes
			if p.Resource != nil {
				res = resource.NewSchemaless(pairAttrs(p.Resource)...)
			}
			g = &group{rm: &metricdata.ResourceMetrics{Resource: res}, idx: len(out), scopes: map[string]int{}}
			groups[rk] = g
			out = append(out, g.rm)
		}
		scope := instrumentation.Scope{Name: "gtrun", Version: c.version}
		if p.Resource != nil {
			scope = instrumentation.Scope{Name: p.Scope, Version: p.ScopeVer}
		}
		sk := scope.Name + "\x00" + scope.Version
		si, ok := g.scopes[sk]
		if !ok {
			si = len(g.rm.ScopeMetrics)
			g.scopes[sk] = si
			g.rm.ScopeMetrics = append(g.rm.ScopeMetrics, metricdata.ScopeMetrics{Scope: scope})
		}
		mk := rk + "\x01" + sk + "\x01" + p.Metric
		m := byName[mk]
		if m == nil {
			m = newMetric(p)
			byName[mk] = m
			order = append(order, m)
			where[m] = [2]int{g.idx, si}
		}
		addPoint(m, p)
	}
	for _, m := range order {
		w := where[m]
		sm := &out[w[0]].ScopeMetrics[w[1]]
		sm.Metrics = append(sm.Metrics, *m)
	}
	return out
}

func newMetric(p shipper.Point) *metricdata.Metrics {
	m := &metricdata.Metrics{Name: p.Metric, Unit: p.Unit}
	if p.Resource == nil {
		m.Unit = unitOf(p.Metric)
	}
	switch {
	case p.Histogram:
		m.Data = metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
	case p.Gauge:
		m.Data = metricdata.Gauge[float64]{}
	default:
		m.Data = metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: !p.NonMonotone}
	}
	return m
}

func addPoint(m *metricdata.Metrics, p shipper.Point) {
	attrs := labelSet(p.Labels)
	switch d := m.Data.(type) {
	case metricdata.Histogram[float64]:
		bounds := p.Bounds
		if bounds == nil {
			bounds = shipper.HistogramBounds
		}
		d.DataPoints = append(d.DataPoints, metricdata.HistogramDataPoint[float64]{
			Attributes: attrs, StartTime: p.Start, Time: p.Time, Count: p.Count, Bounds: bounds,
			BucketCounts: p.Counts, Sum: p.Sum,
		})
		m.Data = d
	case metricdata.Sum[float64]:
		d.DataPoints = append(d.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs, StartTime: p.Start, Time: p.Time, Value: p.Value})
		m.Data = d
	case metricdata.Gauge[float64]:
		d.DataPoints = append(d.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs, Time: p.Time, Value: p.Value})
		m.Data = d
	}
}

func pairsKey(kv [][2]string) string {
	if kv == nil {
		return "\x00agent"
	}
	var b strings.Builder
	for _, p := range kv {
		b.WriteString(p[0] + "=" + p[1] + "\x00")
	}
	return b.String()
}

func pairAttrs(kv [][2]string) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kv))
	for _, p := range kv {
		out = append(out, attribute.String(p[0], p[1]))
	}
	return out
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

var _ shipper.Exporter = (*Client)(nil)
