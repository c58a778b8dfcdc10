package catalog

import (
	"testing"

	"github.com/gastown/gtrun/internal/event"
)

func usage(attrs ...event.Attr) event.Record {
	return event.Record{Name: "agent.usage", Attrs: append([]event.Attr{
		event.String("agent_type", "claudecode"), event.String("role", "polecat"), event.String("model", "claude-opus-4-5"),
		event.Int("input_tokens", 10), event.Int("output_tokens", 20)}, attrs...)}
}

func find(incs []Increment, metric string) []Increment {
	var out []Increment
	for _, in := range incs {
		if in.Metric == metric {
			out = append(out, in)
		}
	}
	return out
}

// agent.usage moves the cost counter by its cost_usd (a float), labelled by
// agent type, role and model, and keeps moving the token counter.
func TestCostCounter(t *testing.T) {
	incs := Increments(usage(event.Float("cost_usd", 0.012345)))
	c := find(incs, CostCounter)
	if len(c) != 1 || c[0].Value != 0.012345 || c[0].Labels["model"] != "claude-opus-4-5" ||
		c[0].Labels["agent_type"] != "claudecode" || c[0].Labels["role"] != "polecat" || len(c[0].Labels) != 3 {
		t.Fatalf("cost increments %+v", c)
	}
	if tk := find(incs, TokensCounter); len(tk) != 2 {
		t.Fatalf("token increments %+v", tk)
	}
	// A model without a price: no cost, the counter does not move (never 0).
	incs = Increments(usage(event.String("cost_unknown_model", "o4-mini")))
	if c := find(incs, CostCounter); len(c) != 0 {
		t.Fatalf("unpriced usage moved the cost counter: %+v", c)
	}
	if tk := find(incs, TokensCounter); len(tk) != 2 {
		t.Fatalf("token increments %+v", tk)
	}
}

func TestFloatField(t *testing.T) {
	ev, _ := Lookup("agent.usage")
	f, ok := ev.Field("cost_usd")
	if !ok || f.Kind != Float || f.Kind.String() != "float" {
		t.Fatalf("cost_usd field %+v", f)
	}
	if v, err := ev.Convert("cost_usd", " 1.25 "); err != nil || v != 1.25 {
		t.Fatalf("%v %v", v, err)
	}
	for _, bad := range []string{"x", "NaN", "Inf", ""} {
		if _, err := ev.Convert("cost_usd", bad); err == nil {
			t.Errorf("cost_usd=%q accepted", bad)
		}
	}
	for _, n := range []string{"cache_creation_1h_tokens", "cost_unknown_model"} {
		if _, ok := ev.Field(n); !ok {
			t.Errorf("agent.usage lacks %s", n)
		}
	}
}
