package shipper

import (
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

func call(at time.Time) event.Record {
	return event.Record{Name: "cmd.call", Time: at, Attrs: []event.Attr{
		event.String("command", "x"), event.Int("duration_ms", 3), event.Int("exit_code", 0)}}
}

func counterPoints(m *meter) []Point {
	var out []Point
	for _, s := range m.queue {
		for _, p := range s.points {
			if p.Metric == "gastown.cmd.calls.total" {
				out = append(out, p)
			}
		}
	}
	return out
}

func TestMeterZeroThenDenseGrid(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter(10*time.Second, time.Hour, time.Time{})
	mk := &mark{}
	m.add(call(t0.Add(3*time.Second)), t0.Add(3*time.Second), mk)
	m.add(call(t0.Add(4*time.Second)), t0.Add(4*time.Second), mk)
	m.advance(t0.Add(45 * time.Second))
	pts := counterPoints(m)
	// 0 one interval before the first tick, then every tick with the total.
	want := []struct {
		at time.Time
		v  float64
	}{{t0, 0}, {t0.Add(10 * time.Second), 2}, {t0.Add(20 * time.Second), 2}, {t0.Add(30 * time.Second), 2}, {t0.Add(40 * time.Second), 2}}
	if len(pts) != len(want) {
		t.Fatalf("points %+v", pts)
	}
	for i, w := range want {
		if !pts[i].Time.Equal(w.at) || pts[i].Value != w.v || !pts[i].Start.Equal(t0) {
			t.Fatalf("point %d = %v@%v, want %v@%v", i, pts[i].Value, pts[i].Time, w.v, w.at)
		}
	}
	if len(m.queue[0].marks) != 4 { // a counter and a histogram increment per call
		t.Fatalf("marks %+v", m.queue[0].marks)
	}
}

// A new lifetime's samples all come after the last one sent before.
func TestMeterLifetimeAfterLastSent(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	last := t0.Add(15 * time.Second) // the previous agent's final sample
	m := newMeter(10*time.Second, time.Hour, last)
	m.add(call(t0.Add(12*time.Second)), t0.Add(16*time.Second), &mark{})
	m.advance(t0.Add(21 * time.Second))
	pts := counterPoints(m)
	if len(pts) != 2 || !pts[0].Time.After(last) || pts[0].Value != 0 || pts[1].Value != 1 || !pts[1].Time.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("points %+v", pts)
	}
}

func TestMeterFlushAndHorizon(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter(10*time.Second, time.Hour, time.Time{})
	now := t0.Add(5 * time.Hour)
	m.add(call(t0), now, &mark{}) // a week-old transcript line: counted at now-1h
	m.snapshotNow(now, false)
	pts := counterPoints(m)
	if len(pts) == 0 || pts[len(pts)-1].Value != 1 || !pts[len(pts)-1].Time.Equal(now) {
		t.Fatalf("points %+v", pts)
	}
	if pts[0].Time.Before(now.Add(-time.Hour - 10*time.Second)) {
		t.Fatalf("sample before the horizon: %v", pts[0].Time)
	}
	n := len(m.queue)
	m.snapshotNow(now.Add(time.Second), false) // nothing new: no sample
	if len(m.queue) != n {
		t.Fatal("flush without news added a sample")
	}
	m.snapshotNow(now.Add(2*time.Second), true) // the last one of a lifetime
	if len(m.queue) != n+1 {
		t.Fatal("no final sample")
	}
}
