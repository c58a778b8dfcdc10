package export

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gastown/gtrun/internal/shipper"
)

// Metrics exports the agent's samples as cumulative data: monotonic sums
// and explicit-bucket histograms, several points per series in time order.
// The resource is the host's (service.name, service.version, host.name,
// os.type): no run, session or pid, so a call never makes a new series.
func (c *Client) Metrics(ctx context.Context, url string, headers map[string]string, points []shipper.Point) error {
	me, err := c.metricExporter(url, headers)
	if err != nil {
		return err
	}
	me.st.reset()
	return wrapErr(me.exp.Export(ctx, c.resourceMetrics(points)), me.st)
}

func (c *Client) resourceMetrics(points []shipper.Point) *metricdata.ResourceMetrics {
	byName := map[string]*metricdata.Metrics{}
	var names []string
	for _, p := range points {
		m := byName[p.Metric]
		if m == nil {
			m = &metricdata.Metrics{Name: p.Metric, Unit: unitOf(p.Metric)}
			if p.Histogram {
				m.Data = metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
			} else {
				m.Data = metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
			}
			byName[p.Metric] = m
			names = append(names, p.Metric)
		}
		attrs := labelSet(p.Labels)
		switch d := m.Data.(type) {
		case metricdata.Histogram[float64]:
			d.DataPoints = append(d.DataPoints, metricdata.HistogramDataPoint[float64]{
				Attributes: attrs, StartTime: p.Start, Time: p.Time, Count: p.Count, Bounds: shipper.HistogramBounds,
				BucketCounts: p.Counts, Sum: p.Sum,
			})
			m.Data = d
		case metricdata.Sum[float64]:
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs, StartTime: p.Start, Time: p.Time, Value: p.Value})
			m.Data = d
		}
	}
	rm := &metricdata.ResourceMetrics{Resource: c.metRes, ScopeMetrics: []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: "gtrun"}}}}
	for _, n := range names {
		rm.ScopeMetrics[0].Metrics = append(rm.ScopeMetrics[0].Metrics, *byName[n])
	}
	return rm
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
