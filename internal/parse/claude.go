package parse

import (
	"encoding/json"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

type claudeLine struct {
	Type        string         `json:"type"`
	Timestamp   string         `json:"timestamp"`
	SessionID   string         `json:"sessionId"`
	IsSidechain bool           `json:"isSidechain"`
	IsMeta      bool           `json:"isMeta"`
	RequestID   string         `json:"requestId"`
	Message     *claudeMessage `json:"message"`
}

type claudeMessage struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Usage   *claudeUsage    `json:"usage"`
}

type claudeUsage struct {
	Input         int64 `json:"input_tokens"`
	Output        int64 `json:"output_tokens"`
	CacheRead     int64 `json:"cache_read_input_tokens"`
	CacheCreation int64 `json:"cache_creation_input_tokens"`
}

type claudeBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Name      string          `json:"name"`
	ID        string          `json:"id"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
}

// claudeHeld is the usage of the response being read.
type claudeHeld struct {
	key, native, model string
	ts                 time.Time
	u                  claudeUsage
}

type claudeParser struct {
	o    TranscriptOptions
	held *claudeHeld
	seen seenSet
}

// NewClaude parses Claude Code transcripts (projects/<dir>/<session>.jsonl
// and subagent files): one agent.event per content block, and one
// agent.usage per API response keyed by (message.id, requestId), or
// message.id alone when the provider sends no requestId (Bedrock, Vertex).
func NewClaude(o TranscriptOptions) Transcript {
	if o.AgentType == "" {
		o.AgentType = "claudecode"
	}
	return &claudeParser{o: o}
}

func (p *claudeParser) Line(line []byte) ([]event.Record, error) {
	var l claudeLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, err
	}
	if l.Message == nil || (l.Type != "assistant" && l.Type != "user") {
		return nil, nil // summary, system, progress, snapshots…: no content
	}
	native := l.SessionID
	if native == "" {
		native = p.o.NativeSessionID
	}
	ts := parseTime(l.Timestamp)
	o := p.o
	o.Subagent = o.Subagent || l.IsSidechain
	var out []event.Record
	m := l.Message
	if l.Type == "assistant" {
		if m.Usage != nil && m.ID != "" {
			key := m.ID + "\x00" + l.RequestID
			if l.RequestID == "" {
				key = m.ID
			}
			if p.held != nil && p.held.key != key {
				out = append(out, p.emitHeld()...)
			}
			if !p.seen.has(key) {
				if p.held == nil {
					p.held = &claudeHeld{key: key}
				}
				p.held.native, p.held.model, p.held.ts, p.held.u = native, m.Model, ts, *m.Usage
			}
		}
		for _, b := range blocks(m.Content) {
			switch b.Type {
			case "text":
				if b.Text != "" {
					out = append(out, o.agentEvent(ts, "text", b.Text, native, m.Model, ""))
				}
			case "thinking":
				if b.Thinking != "" {
					out = append(out, o.agentEvent(ts, "thinking", b.Thinking, native, m.Model, ""))
				}
			case "tool_use":
				out = append(out, o.agentEvent(ts, "tool_use", b.Name+" "+compactJSON(b.Input), native, m.Model, b.Name))
			}
		}
		return out, nil
	}
	if l.IsMeta {
		return nil, nil // injected context (caveats, command output), not the user's words
	}
	if len(m.Content) > 0 && m.Content[0] == '"' {
		if s := textOf(m.Content); s != "" {
			out = append(out, o.agentEvent(ts, "user", s, native, "", ""))
		}
		return out, nil
	}
	for _, b := range blocks(m.Content) {
		switch b.Type {
		case "text":
			if b.Text != "" {
				out = append(out, o.agentEvent(ts, "user", b.Text, native, "", ""))
			}
		case "tool_result":
			r := o.agentEvent(ts, "tool_result", textOf(b.Content), native, "", "")
			r.Attrs = append(r.Attrs, event.String("tool_use_id", b.ToolUseID))
			out = append(out, r)
		}
	}
	return out, nil
}

func blocks(raw json.RawMessage) []claudeBlock {
	if len(raw) == 0 || raw[0] != '[' {
		if len(raw) > 0 && raw[0] == '"' {
			return []claudeBlock{{Type: "text", Text: textOf(raw)}}
		}
		return nil
	}
	var bs []claudeBlock
	json.Unmarshal(raw, &bs)
	return bs
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b []byte
	if v, err := json.Marshal(json.RawMessage(raw)); err == nil {
		b = v
	} else {
		b = raw
	}
	return string(b)
}

func (p *claudeParser) emitHeld() []event.Record {
	h := p.held
	p.held = nil
	if h == nil || p.seen.has(h.key) {
		return nil
	}
	p.seen.add(h.key)
	return []event.Record{p.o.usageRecord(h.ts, h.native, h.model, usage{
		input: h.u.Input, output: h.u.Output, cacheRead: h.u.CacheRead, cacheCreation: h.u.CacheCreation,
	}, false)}
}

func (p *claudeParser) Flush() []event.Record { return p.emitHeld() }
func (p *claudeParser) Pending() bool         { return p.held != nil }
