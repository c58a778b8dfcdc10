package parse

import (
	"crypto/sha256"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

// Turn is one finished step of an agent, read from its transcript: an API
// response (Kind "response": model, tokens; from the request to the last
// line of the response) or a tool call (Kind "tool": from the tool_use to
// its tool_result). agent-log turns each into a span under the agent's
// span.
//
// A turn is reported only once its end is known (a tool call waits for its
// result in the parser's state, which is checkpointed), and its ID comes
// from the transcript alone, so a restarted agent-log neither repeats nor
// skips one.
type Turn struct {
	Kind string // "response" | "tool"
	// ID names the turn in its trace: "resp:<native session>:<message>",
	// "tool:<native session>:<tool_use id>", or "agent:<agent id>" for the
	// call (Task) that ran a subagent, which the subagent's own transcript
	// names as its parent.
	ID string
	// Parent is the ID of the turn this one nests under ("" is the agent's
	// span): a subagent's turns nest under the Task call that started it.
	Parent     string
	Name       string
	Start, End time.Time
	Attrs      []event.Attr
	Err        string // a failed tool call
}

// Get returns the value of attribute k, or nil.
func (t Turn) Get(k string) any { return event.Record{Attrs: t.Attrs}.Get(k) }

// Set replaces attribute k or appends it.
func (t *Turn) Set(k string, v any) {
	r := event.Record{Attrs: t.Attrs}
	r.Set(k, v)
	t.Attrs = r.Attrs
}

// SpanID is the span id of the turn with this ID in a trace: the first
// 8 bytes of SHA-256(trace id, ID), never zero.
func SpanID(trace [16]byte, id string) [8]byte {
	h := sha256.New()
	h.Write(trace[:])
	h.Write([]byte(id))
	var s [8]byte
	copy(s[:], h.Sum(nil))
	if s == [8]byte{} {
		s[7] = 1
	}
	return s
}

// TurnSource is implemented by the parsers that report turns.
type TurnSource interface {
	// Turns returns the turns finished since the last call (by Line or
	// Flush); the caller takes them before the next checkpoint.
	Turns() []Turn
}

// turnState is what a parser keeps to build turns; its fields are the
// checkpoint format (saved with the parser's state).
type turnState struct {
	// LastInput is the time of the last line that was input to the model
	// (a prompt, a tool result): a response's request was sent then.
	LastInput time.Time `json:"last_input,omitzero"`
	// LastEnd is when the previous response ended.
	LastEnd time.Time `json:"last_end,omitzero"`
	// Pending holds tool calls waiting for their result, oldest first.
	Pending []pendingTool `json:"pending,omitempty"`

	out []Turn
}

// pendingTool is a tool_use whose tool_result has not been read yet.
type pendingTool struct {
	ID     string       `json:"id"`   // the tool_use / call id
	Turn   string       `json:"turn"` // the Turn ID
	Name   string       `json:"name"`
	Start  time.Time    `json:"start"`
	Parent string       `json:"parent,omitempty"`
	Attrs  []event.Attr `json:"attrs"`
}

// maxPending bounds the tool calls held without a result (a transcript
// that never answers them must not grow the checkpoint forever).
const maxPending = 512

// requestStart is when the request of a response whose first line is at ts
// was sent: at the last input, or at the end of the previous response,
// whichever is later; ts itself when neither is known.
func (s *turnState) requestStart(ts time.Time) time.Time {
	start := s.LastInput
	if s.LastEnd.After(start) {
		start = s.LastEnd
	}
	if start.IsZero() || start.After(ts) {
		return ts
	}
	return start
}

func (s *turnState) input(ts time.Time) {
	if ts.After(s.LastInput) {
		s.LastInput = ts
	}
}

// response records a finished response.
func (s *turnState) response(t Turn) {
	if t.End.After(s.LastEnd) {
		s.LastEnd = t.End
	}
	if t.Start.After(t.End) {
		t.Start = t.End
	}
	s.out = append(s.out, t)
}

// toolUse holds a tool call until its result.
func (s *turnState) toolUse(p pendingTool) {
	for _, q := range s.Pending {
		if q.ID == p.ID {
			return // a repeated line
		}
	}
	s.Pending = append(s.Pending, p)
	if len(s.Pending) > maxPending {
		s.Pending = s.Pending[len(s.Pending)-maxPending:]
	}
}

// toolResult finishes the tool call id at ts; turnID, when set, replaces
// its ID (the call ran a subagent, whose transcript names it so). errMsg
// is non-empty for a failed call. A result whose call is unknown (never
// seen, or already reported) reports nothing.
func (s *turnState) toolResult(id string, ts time.Time, turnID, errMsg string, extra ...event.Attr) {
	for i, p := range s.Pending {
		if p.ID != id {
			continue
		}
		s.Pending = append(s.Pending[:i:i], s.Pending[i+1:]...)
		t := Turn{Kind: "tool", ID: p.Turn, Parent: p.Parent, Name: "execute_tool " + p.Name, Start: p.Start, End: ts,
			Attrs: append(append([]event.Attr{}, p.Attrs...), extra...), Err: errMsg}
		if turnID != "" {
			t.ID = turnID
		}
		if t.End.Before(t.Start) {
			t.End = t.Start
		}
		t.Set("is_error", errMsg != "")
		s.out = append(s.out, t)
		return
	}
}

func (s *turnState) take() []Turn {
	out := s.out
	s.out = nil
	return out
}

// restore copies the saved fields (not the unreported output).
func (s *turnState) restore(saved turnState) {
	s.LastInput, s.LastEnd, s.Pending = saved.LastInput, saved.LastEnd, saved.Pending
}

// contextAttrs are the attributes every turn span of a transcript carries.
func (o *TranscriptOptions) contextAttrs(native string, subagent bool) []event.Attr {
	return []event.Attr{
		event.String("session", o.Session),
		event.String("native_session_id", native),
		event.String("agent_type", o.AgentType),
		event.String("role", o.Role),
		event.Bool("subagent", subagent),
	}
}

// toolAttrs are a tool call's attributes (OpenTelemetry GenAI names plus
// gtrun's tool_name).
func toolAttrs(ctx []event.Attr, name, callID, model string) []event.Attr {
	a := append(append([]event.Attr{}, ctx...),
		event.String("gen_ai.operation.name", "execute_tool"),
		event.String("gen_ai.tool.name", name),
		event.String("gen_ai.tool.call.id", callID),
		event.String("tool_name", name),
	)
	if model != "" {
		a = append(a, event.String("model", model))
	}
	return a
}

// responseAttrs are a response's attributes: its usage record's, plus the
// GenAI operation and response id.
func responseAttrs(usage event.Record, responseID string) []event.Attr {
	a := append([]event.Attr{}, usage.Attrs...)
	a = append(a, event.String("gen_ai.operation.name", "chat"), event.String("gen_ai.response.model", usage.GetString("model")))
	if responseID != "" {
		a = append(a, event.String("gen_ai.response.id", responseID))
	}
	return a
}

func responseName(model string) string {
	if model == "" {
		return "chat"
	}
	return "chat " + model
}

// toolError is the status message of a failed tool call: the result's
// first line, redacted and short.
func toolError(content string) string {
	s := strings.TrimSpace(StripANSI(content))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = TruncateRunes(RedactText(TruncateBytes(s, 1024)), 160)
	if s == "" {
		return "tool error"
	}
	return "tool error: " + s
}
