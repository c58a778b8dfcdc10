package parse

import (
	"encoding/json"
	"time"
)

// Stateful parsers can save and restore what they hold between runs, so a
// restarted agent-log neither double counts (Codex totals are cumulative)
// nor loses a response whose usage was still held, nor a tool call still
// waiting for its result (its span needs both ends).
type Stateful interface {
	State() json.RawMessage
	Restore(json.RawMessage) error
}

type claudeHeldState struct {
	Key, Native, Model string
	TS                 time.Time
	U                  claudeUsage
	MsgID              string    `json:",omitempty"`
	Start              time.Time `json:",omitzero"`
	Subagent           bool      `json:",omitempty"`
	Parent             string    `json:",omitempty"`
}

type claudeState struct {
	Held  *claudeHeldState `json:"held,omitempty"`
	Seen  []string         `json:"seen,omitempty"`
	Turns *turnState       `json:"turns,omitempty"`
}

func (p *claudeParser) State() json.RawMessage {
	var s claudeState
	if h := p.held; h != nil {
		s.Held = &claudeHeldState{h.key, h.native, h.model, h.ts, h.u, h.msgID, h.start, h.subagent, h.parent}
	}
	s.Turns = &p.turns
	// The newest keys suffice: a response's lines are adjacent.
	seen := p.seen.order
	if len(seen) > 64 {
		seen = seen[len(seen)-64:]
	}
	s.Seen = seen
	b, _ := json.Marshal(s)
	return b
}

func (p *claudeParser) Restore(b json.RawMessage) error {
	var s claudeState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, k := range s.Seen {
		p.seen.add(k)
	}
	if h := s.Held; h != nil {
		start := h.Start
		if start.IsZero() {
			start = h.TS // saved by an older gtrun
		}
		p.held = &claudeHeld{key: h.Key, native: h.Native, model: h.Model, ts: h.TS, u: h.U,
			msgID: h.MsgID, start: start, subagent: h.Subagent, parent: h.Parent}
	}
	if s.Turns != nil {
		p.turns.restore(*s.Turns)
	}
	return nil
}

type codexState struct {
	Native string      `json:"native"`
	Model  string      `json:"model"`
	Prev   codexTokens `json:"prev"`
	Turns  *turnState  `json:"turns,omitempty"`
}

func (p *codexParser) State() json.RawMessage {
	b, _ := json.Marshal(codexState{p.native, p.model, p.prev, &p.turns})
	return b
}

func (p *codexParser) Restore(b json.RawMessage) error {
	var s codexState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p.native, p.model, p.prev = s.Native, s.Model, s.Prev
	if s.Turns != nil {
		p.turns.restore(*s.Turns)
	}
	return nil
}
