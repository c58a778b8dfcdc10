package parse

import (
	"bytes"
	"encoding/json"
	"strings"
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
	AgentID     string         `json:"agentId"` // a subagent's lines name it
	Message     *claudeMessage `json:"message"`
	// ToolUseResult is Claude Code's structured tool result; a Task call's
	// names the subagent it ran (agentId).
	ToolUseResult json.RawMessage `json:"toolUseResult"`
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
	// Split is the cache writes by TTL (newer Claude Code); without it all
	// writes are 5-minute ones (Claude Code's default).
	Split *struct {
		W5m int64 `json:"ephemeral_5m_input_tokens"`
		W1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation,omitempty"`
}

// cache1h is the 1-hour share of the cache writes.
func (u claudeUsage) cache1h() int64 {
	if u.Split == nil || u.Split.W1h < 0 {
		return 0
	}
	return min(u.Split.W1h, u.CacheCreation)
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
	IsError   bool            `json:"is_error"`
}

// claudeHeld is the usage of the response being read.
type claudeHeld struct {
	key, native, model string
	ts                 time.Time // its last line: the response's end
	u                  claudeUsage
	msgID              string
	start              time.Time // its request
	subagent           bool
	parent             string // the turn it nests under
}

type claudeParser struct {
	o     TranscriptOptions
	held  *claudeHeld
	seen  seenSet
	turns turnState
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
	if err := l.decode(line); err != nil {
		return nil, err
	}
	if l.Message == nil || (l.Type != "assistant" && l.Type != "user") {
		return nil, nil // summary, system, progress, snapshots…: no content
	}
	c := p.context(&l)
	if l.Type == "assistant" {
		return p.assistant(&l, c), nil
	}
	if l.IsMeta {
		return nil, nil // injected context (caveats, command output), not the user's words
	}
	return p.user(&l, c), nil
}

// claudeCtx is what every record of one line carries.
type claudeCtx struct {
	o      TranscriptOptions
	native string // the agent's own session id
	parent string // a subagent's turns nest under the call that ran it
	ts     time.Time
}

func (p *claudeParser) context(l *claudeLine) claudeCtx {
	c := claudeCtx{o: p.o, native: l.SessionID, ts: parseTime(l.Timestamp)}
	if c.native == "" {
		c.native = p.o.NativeSessionID
	}
	c.o.Subagent = c.o.Subagent || l.IsSidechain
	if c.o.Subagent {
		if id := l.AgentID; id != "" {
			c.parent = "agent:" + id
		} else if c.o.AgentID != "" {
			c.parent = "agent:" + c.o.AgentID
		}
	}
	return c
}

// assistant: the response's usage is held until the response is complete
// (Claude Code repeats it on every content block's line); each block is an
// agent.event, a tool_use opens a tool turn.
func (p *claudeParser) assistant(l *claudeLine, c claudeCtx) []event.Record {
	var out []event.Record
	m, o, ts, native := l.Message, c.o, c.ts, c.native
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
				p.held = &claudeHeld{key: key, msgID: m.ID, start: p.turns.requestStart(ts), subagent: o.Subagent, parent: c.parent}
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
			if b.ID != "" {
				p.turns.toolUse(pendingTool{ID: b.ID, Turn: "tool:" + native + ":" + b.ID, Name: b.Name, Start: ts, Parent: c.parent,
					Attrs: toolAttrs(o.contextAttrs(native, o.Subagent), b.Name, b.ID, m.Model)})
			}
		}
	}
	return out
}

// user: the user's words, and tool results closing their tool turns.
func (p *claudeParser) user(l *claudeLine, c claudeCtx) []event.Record {
	var out []event.Record
	m, o, ts, native := l.Message, c.o, c.ts, c.native
	p.turns.input(ts)
	if len(m.Content) > 0 && m.Content[0] == '"' {
		if s := textOf(m.Content); s != "" {
			out = append(out, o.agentEvent(ts, "user", s, native, "", ""))
		}
		return out
	}
	for _, b := range blocks(m.Content) {
		switch b.Type {
		case "text":
			if b.Text != "" {
				out = append(out, o.agentEvent(ts, "user", b.Text, native, "", ""))
			}
		case "tool_result":
			out = append(out, p.toolResult(l, b, c))
		}
	}
	return out
}

func (p *claudeParser) toolResult(l *claudeLine, b claudeBlock, c claudeCtx) event.Record {
	content := textOf(b.Content)
	r := c.o.agentEvent(c.ts, "tool_result", content, c.native, "", "")
	r.Attrs = append(r.Attrs, event.String("tool_use_id", b.ToolUseID))
	errMsg := ""
	if b.IsError {
		errMsg = toolError(content)
	}
	// A call that ran a subagent takes the id the subagent's transcript
	// names as its parent.
	turnID, agentID := "", subagentOf(l.ToolUseResult)
	var extra []event.Attr
	if agentID != "" {
		turnID = "agent:" + agentID
		extra = append(extra, event.String("subagent_id", agentID))
	}
	p.turns.toolResult(b.ToolUseID, c.ts, turnID, errMsg, extra...)
	return r
}

// subagentOf returns the agentId a Task tool's structured result names.
// Most results (file reads, command output) name none and are large: they
// are not decoded.
func subagentOf(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '{' || !bytes.Contains(raw, []byte(`"agentId"`)) {
		return ""
	}
	var r struct {
		AgentID string `json:"agentId"`
	}
	json.Unmarshal(raw, &r)
	return r.AgentID
}

// blocks returns a message's content blocks: a string is one text block.
// A block of the wrong shape is skipped, a field of the wrong type left
// empty, as encoding/json would.
func blocks(raw json.RawMessage) []claudeBlock {
	if len(raw) == 0 || raw[0] != '[' {
		if len(raw) > 0 && raw[0] == '"' {
			return []claudeBlock{{Type: "text", Text: textOf(raw)}}
		}
		return nil
	}
	var bs []claudeBlock
	eachElem(raw, func(v []byte) error {
		var b claudeBlock
		b.decode(v)
		bs = append(bs, b)
		return nil
	})
	return bs
}

// compactJSON is json.Marshal(json.RawMessage(raw)) written out (a tool
// call's input, on every tool_use): the value without insignificant white
// space, with <, >, & and U+2028/U+2029 escaped inside strings as
// encoding/json escapes them; raw itself when it is not valid JSON.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if !json.Valid(raw) {
		return string(raw)
	}
	b := make([]byte, 0, len(raw)+16)
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			e, _ := skipString(raw, i)
			b = appendHTMLSafe(b, raw[i:e])
			i = e
		default:
			b = append(b, c)
			i++
		}
	}
	return string(b)
}

// appendHTMLSafe appends the JSON string s with encoding/json's HTML and
// JavaScript escapes.
func appendHTMLSafe(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' || c == '>' || c == '&':
			b = append(append(b, s[start:i]...), '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			start = i + 1
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8: // U+2028, U+2029
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
			i += 2
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

func (p *claudeParser) emitHeld() []event.Record {
	h := p.held
	p.held = nil
	if h == nil || p.seen.has(h.key) {
		return nil
	}
	p.seen.add(h.key)
	o := p.o
	o.Subagent = o.Subagent || h.subagent
	rec := o.usageRecord(h.ts, h.native, h.model, usage{
		input: h.u.Input, output: h.u.Output, cacheRead: h.u.CacheRead, cacheCreation: h.u.CacheCreation,
		cacheCreation1h: h.u.cache1h(),
	}, false)
	p.turns.response(Turn{Kind: "response", ID: "resp:" + h.native + ":" + strings.ReplaceAll(h.key, "\x00", ":"), Parent: h.parent, Name: responseName(h.model),
		Start: h.start, End: h.ts, Attrs: responseAttrs(rec, h.msgID)})
	return []event.Record{rec}
}

func (p *claudeParser) Flush() []event.Record { return p.emitHeld() }
func (p *claudeParser) Turns() []Turn         { return p.turns.take() }
func (p *claudeParser) Pending() bool         { return p.held != nil }
