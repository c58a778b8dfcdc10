package runview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Hostile strings, as an agent or a command could put them in a record:
// a title change, a screen wipe, a clipboard write (OSC 52), a CR that
// hides what precedes it, a C1 CSI and a lone 0x9b byte.
var hostile = []string{"a\x1b]0;PWNED\x07b", "\x1b[2J", "\x1b]52;c;cHduZWQ=\x07", "visible\rHIDDEN", "c1\u009b2J", "raw\x9b2J"}

// controlFree fails when out holds a byte a terminal would act on: any C0
// control but tab and the line feeds the renderer itself writes, DEL, a
// C1 control, or a lone 0x9b.
func controlFree(t *testing.T, what string, out []byte) {
	t.Helper()
	for _, r := range string(bytes.ToValidUTF8(out, []byte{0x9b})) {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
			t.Errorf("%s: control %q reaches the terminal:\n%q", what, r, out)
			return
		}
	}
}

// Each source of a record string × each renderer: trace (argv, emit
// attributes, GT_RUN, GT_WORK_BEAD, model, role, error, session), runs
// (GT_RUN, role, session) and cost (a bead, model or role key).
func TestRenderersEscapeRecordStrings(t *testing.T) {
	for _, h := range hostile {
		recs := []map[string]string{
			rec("00.100", "bd.call", "subcommand", "create", "args", "create "+h, "duration_ms", "100", "exit_code", "0", "run.id", h),
			rec("00.200", "cmd.call", "command", h, "args", h, "duration_ms", "100", "exit_code", "1", "status", "error", "error", h),
			rec("00.300", "mail", "msg.subject"+h, h, "gt.work_bead", h),
			rec("00.400", "session.start", "session_id", h, "role", h, "gt.role", h, "gt.session", h),
			rec("00.500", h, "x", "1"),
			rec("00.600", "agent.usage", "agent_type", h, "input_tokens", "1", "cost_unknown_model", h, "gt.work_bead", h),
			rec("00.700", "agent.event", "event_type", h, "content", h),
		}
		for _, color := range []bool{false} {
			var b bytes.Buffer
			Render(&b, Build(h, recs), Options{Width: 400, Color: color})
			controlFree(t, "trace", b.Bytes())
			if !strings.Contains(b.String(), `\x1b`) && strings.Contains(h, "\x1b") {
				t.Errorf("trace: the escape is not shown visibly:\n%s", b.String())
			}
			b.Reset()
			RenderRuns(&b, Summaries(recs), Options{Width: 400})
			controlFree(t, "runs", b.Bytes())
			b.Reset()
			row := CostRow{Key: h, UnpricedModels: []string{h}, Unpriced: 1, Responses: 1, First: time.Unix(0, 0), Last: time.Unix(1, 0)}
			RenderCost(&b, CostReport{By: "model", Since: "24h", Run: h, Rows: []CostRow{row}, Total: row}, Options{Width: 400})
			controlFree(t, "cost", b.Bytes())
		}
	}
}

// --json keeps the original value: JSON escapes it, and a script reads
// back exactly what was recorded.
func TestJSONKeepsOriginal(t *testing.T) {
	h := hostile[0]
	r := Build(h, []map[string]string{rec("00.100", "bd.call", "args", h, "duration_ms", "1")})
	var b bytes.Buffer
	RenderJSON(&b, r)
	controlFree(t, "json", b.Bytes())
	var back Run
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.ID != h || back.Events[0].Attrs["args"] != h {
		t.Fatalf("round trip: %v %q", err, back.ID)
	}
	if r.ID != h {
		t.Fatal("rendering changed the caller's run")
	}
}
