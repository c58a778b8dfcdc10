package export

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/shipper"
)

// perProcess tells the resource attributes that differ between processes
// (or runs, or calls) of one program and so must not split its series:
// without them, every short-lived process's cumulative counter is the same
// identity, and the Merger adds them up.
func perProcess(key string) bool {
	switch key {
	case "service.instance.id", "gt.run_id", "run.id", "telemetry.sdk.version":
		return true
	}
	return strings.HasPrefix(key, "process.") || strings.HasPrefix(key, "gt.work_")
}

func (h *Receive) metrics(e *journal.Entry, cc runenv.CallContext, body []byte, ct string) error {
	var req collmetrics.ExportMetricsServiceRequest
	if err := decode(body, ct, &req); err != nil {
		return err
	}
	if e.Dest.Metrics == "" || h.Merger == nil {
		return nil
	}
	p := h.policy()
	txn := h.Merger.Begin()
	for _, rm := range req.ResourceMetrics {
		res := ensureResource(&rm.Resource)
		var rattrs [][2]string
		for _, a := range res.Attributes {
			if !perProcess(a.Key) {
				rattrs = append(rattrs, [2]string{a.Key, anyString(a.Value)})
			}
		}
		sortPairs(rattrs)
		for _, sm := range rm.ScopeMetrics {
			base := journal.Sample{Resource: rattrs, Scope: sm.GetScope().GetName(), ScopeVer: sm.GetScope().GetVersion()}
			for _, m := range sm.Metrics {
				if p.Metric(cc, res, m) {
					e.Samples = append(e.Samples, samples(txn, base, m)...)
				}
			}
		}
	}
	if err := h.append(e); err != nil {
		txn.Abort()
		return err
	}
	if err := txn.Commit(); err != nil && h.Logf != nil {
		h.Logf("receiver: merge state not saved: %v", err)
	}
	return nil
}

// samples turns one metric's points into increments (cumulative points
// through the merge), gauges into values. Exponential histograms and
// summaries are not merged: they are dropped.
func samples(txn *shipper.MergeTxn, base journal.Sample, m *metricspb.Metric) []journal.Sample {
	base.Metric, base.Unit = m.Name, m.Unit
	var out []journal.Sample
	point := func(kind string, attrs []*commonpb.KeyValue, t uint64) *journal.Sample {
		s := base
		s.Kind, s.Labels, s.Time = kind, pairsOf(attrs), int64(t)
		out = append(out, s)
		return &out[len(out)-1]
	}
	switch d := m.Data.(type) {
	case *metricspb.Metric_Sum:
		cumulative := d.Sum.AggregationTemporality == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
		for _, dp := range d.Sum.DataPoints {
			s := point("sum", dp.Attributes, dp.TimeUnixNano)
			s.NonMonotone = !d.Sum.IsMonotonic
			s.Value = numberValue(dp)
			if cumulative {
				s.Value = txn.Sum(shipper.SampleKey(s), int64(dp.StartTimeUnixNano), s.Value, d.Sum.IsMonotonic)
			}
		}
	case *metricspb.Metric_Gauge:
		for _, dp := range d.Gauge.DataPoints {
			point("gauge", dp.Attributes, dp.TimeUnixNano).Value = numberValue(dp)
		}
	case *metricspb.Metric_Histogram:
		cumulative := d.Histogram.AggregationTemporality == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
		for _, dp := range d.Histogram.DataPoints {
			s := point("hist", dp.Attributes, dp.TimeUnixNano)
			s.Bounds = append([]float64{}, dp.ExplicitBounds...)
			s.Counts, s.Sum, s.Count = dp.BucketCounts, dp.GetSum(), dp.Count
			if cumulative {
				s.Counts, s.Sum, s.Count = txn.Histogram(shipper.SampleKey(s), int64(dp.StartTimeUnixNano), dp.BucketCounts, dp.GetSum(), dp.Count)
			}
		}
	}
	return out
}

func numberValue(dp *metricspb.NumberDataPoint) float64 {
	if v, ok := dp.Value.(*metricspb.NumberDataPoint_AsInt); ok {
		return float64(v.AsInt)
	}
	return dp.GetAsDouble()
}

// pairsOf renders attributes as sorted string pairs (a series' labels).
func pairsOf(attrs []*commonpb.KeyValue) [][2]string {
	out := make([][2]string, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, [2]string{a.Key, anyString(a.Value)})
	}
	sortPairs(out)
	return out
}

func sortPairs(kv [][2]string) { sort.Slice(kv, func(i, j int) bool { return kv[i][0] < kv[j][0] }) }

// anyString is an attribute value as a label value.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
