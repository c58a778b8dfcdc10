package parse

import (
	"encoding/json"
	"time"
)

// Stateful parsers can save and restore what they hold between runs, so a
// restarted agent-log neither double counts (Codex totals are cumulative)
// nor loses a response whose usage was still held.
type Stateful interface {
	State() json.RawMessage
	Restore(json.RawMessage) error
}

type claudeState struct {
	Held *struct {
		Key, Native, Model string
		TS                 time.Time
		U                  claudeUsage
	} `json:"held,omitempty"`
	Seen []string `json:"seen,omitempty"`
}

func (p *claudeParser) State() json.RawMessage {
	var s claudeState
	if h := p.held; h != nil {
		s.Held = &struct {
			Key, Native, Model string
			TS                 time.Time
			U                  claudeUsage
		}{h.key, h.native, h.model, h.ts, h.u}
	}
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
		p.held = &claudeHeld{key: h.Key, native: h.Native, model: h.Model, ts: h.TS, u: h.U}
	}
	return nil
}

type codexState struct {
	Native string      `json:"native"`
	Model  string      `json:"model"`
	Prev   codexTokens `json:"prev"`
}

func (p *codexParser) State() json.RawMessage {
	b, _ := json.Marshal(codexState{p.native, p.model, p.prev})
	return b
}

func (p *codexParser) Restore(b json.RawMessage) error {
	var s codexState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p.native, p.model, p.prev = s.Native, s.Model, s.Prev
	return nil
}
