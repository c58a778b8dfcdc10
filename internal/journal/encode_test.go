package journal

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gastown/gtrun/internal/event"
)

// The hand-written encoder reads back exactly as encoding/json's would.
func TestEncodeMatchesJSON(t *testing.T) {
	e := &Entry{
		Dest:  Dest{Logs: "http://127.0.0.1:1/v1/logs", Traces: "http://x/v1/traces", Headers: map[string]string{"Authorization": "Bearer \"x\"", "b": "c"}},
		RunID: "run \u2713 \x01", Version: "v1", Written: 1_700_000_000_123456789,
		Resource: [][2]string{{"team", "a,b"}, {"gt.role", "mayor"}},
		Work:     [][2]string{{"gt.work_bead", "gt-abc"}},
		Records: []Record{{Name: "bd.call", Time: 42, Err: "Error: \"quoted\"\n\ttab \\ back", TraceID: "ab", SpanID: "cd",
			Attrs: []event.Attr{event.String("args", "create \xff bad utf8 — ✓"), event.Int("exit_code", -1), event.Bool("ok", true),
				event.Float("cost_usd", 0.0421), event.Int("big", 1<<62), event.String("empty", ""), {Key: "nil", Value: nil}}}},
		Spans: []Span{{Name: "bd create", TraceID: "0102", SpanID: "0304", Parent: "05", Remote: true, Start: 1, End: 2,
			Attrs: []event.Attr{event.String("subcommand", "create")}, Err: "boom"}},
	}
	got, _ := e.Encode()
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
	std, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := Decode(got)
	b, err2 := Decode(std)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("decoded differently:\n%s\n%s\n%+v\n%+v", got, std, a, b)
	}
	if a.Records[0].Attrs[1].Value != int64(-1) || a.Records[0].Attrs[3].Value != 0.0421 {
		t.Fatalf("types lost: %+v", a.Records[0].Attrs)
	}
}

func BenchmarkEncode(b *testing.B) {
	e := &Entry{Dest: Dest{Logs: "http://127.0.0.1:9428/insert/opentelemetry/v1/logs"}, RunID: "5b8efff7-9803-4103-9269-b633813fc60c", Written: 1,
		Records: []Record{{Name: "bd.call", Time: 42, Attrs: []event.Attr{event.String("subcommand", "create"), event.String("args", "create Fix login"),
			event.Int("duration_ms", 12), event.Int("exit_code", 0), event.Int("cpu_user_ms", 1), event.Int("cpu_system_ms", 1), event.Int("max_rss_kb", 9000)}}}}
	for b.Loop() {
		e.Encode()
	}
}
