package parse

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

type codexLine struct {
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
}

type codexPayload struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`    // session_meta
	Model     string          `json:"model"` // turn_context
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Summary   json.RawMessage `json:"summary"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Input     string          `json:"input"`
	CallID    string          `json:"call_id"`
	Output    json.RawMessage `json:"output"`
	Info      *struct {
		Total *codexTokens `json:"total_token_usage"`
	} `json:"info"`
}

type codexTokens struct { // json tags double as the checkpoint format
	Input     int64 `json:"input_tokens"`
	Cached    int64 `json:"cached_input_tokens"`
	Output    int64 `json:"output_tokens"`
	Reasoning int64 `json:"reasoning_output_tokens"`
	Total     int64 `json:"total_tokens"`
}

func (t codexTokens) sum() int64 {
	if t.Total > 0 {
		return t.Total
	}
	return t.Input + t.Output
}

type codexParser struct {
	o      TranscriptOptions
	native string
	model  string
	prev   codexTokens
	turns  turnState
}

// NewCodex parses Codex rollouts (sessions/YYYY/MM/DD/rollout-*.jsonl).
// token_count events carry CUMULATIVE totals (info may be null, totals may
// repeat); each strict increase becomes one agent.usage with the
// difference, so nothing is ever counted twice. Codex's input_tokens
// includes cached input: gtrun reports input_tokens = input − cached and
// cache_read_tokens = cached, the same meaning as for Claude.
func NewCodex(o TranscriptOptions) Transcript {
	if o.AgentType == "" {
		o.AgentType = "codex"
	}
	return &codexParser{o: o, native: o.NativeSessionID}
}

func (p *codexParser) Line(line []byte) ([]event.Record, error) {
	var l codexLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, err
	}
	var pl codexPayload
	if len(l.Payload) > 0 && l.Payload[0] == '{' {
		if err := json.Unmarshal(l.Payload, &pl); err != nil {
			return nil, err
		}
	}
	ts := parseTime(l.Timestamp)
	switch l.Type {
	case "session_meta":
		if pl.ID != "" {
			p.native = pl.ID
		}
	case "turn_context":
		if pl.Model != "" {
			p.model = pl.Model
		}
	case "event_msg":
		if pl.Type != "token_count" || pl.Info == nil || pl.Info.Total == nil {
			return nil, nil
		}
		t := *pl.Info.Total
		if t.sum() <= p.prev.sum() {
			return nil, nil // a repeated (or stale) total: already counted
		}
		d := usage{
			input:     (t.Input - t.Cached) - (p.prev.Input - p.prev.Cached),
			cacheRead: t.Cached - p.prev.Cached,
			output:    t.Output - p.prev.Output,
			reasoning: t.Reasoning - p.prev.Reasoning,
		}
		p.prev = t
		rec := p.o.usageRecord(ts, p.native, p.model, d, true)
		// The cumulative total names the response: it only grows.
		p.turns.response(Turn{Kind: "response", ID: "resp:" + p.native + ":" + strconv.FormatInt(t.sum(), 10),
			Name: responseName(p.model), Start: p.turns.requestStart(ts), End: ts, Attrs: responseAttrs(rec, "")})
		return []event.Record{rec}, nil
	case "response_item":
		return p.item(ts, pl), nil
	}
	return nil, nil
}

func (p *codexParser) item(ts time.Time, pl codexPayload) []event.Record {
	o := &p.o
	switch pl.Type {
	case "message":
		kind := "text"
		switch pl.Role {
		case "user":
			kind = "user"
			p.turns.input(ts)
		case "assistant":
		default:
			return nil // developer/system instructions
		}
		if s := textOf(pl.Content); s != "" {
			return []event.Record{o.agentEvent(ts, kind, s, p.native, p.model, "")}
		}
	case "reasoning":
		if s := textOf(pl.Summary); s != "" {
			return []event.Record{o.agentEvent(ts, "thinking", s, p.native, p.model, "")}
		}
	case "function_call", "custom_tool_call", "local_shell_call":
		args := pl.Arguments
		if args == "" {
			args = pl.Input
		}
		if pl.CallID != "" {
			p.turns.toolUse(pendingTool{ID: pl.CallID, Turn: "tool:" + p.native + ":" + pl.CallID, Name: pl.Name, Start: ts,
				Attrs: toolAttrs(o.contextAttrs(p.native, o.Subagent), pl.Name, pl.CallID, p.model)})
		}
		return []event.Record{o.agentEvent(ts, "tool_use", pl.Name+" "+args, p.native, p.model, pl.Name)}
	case "function_call_output", "custom_tool_call_output":
		out, exit := codexOutput(pl.Output)
		r := o.agentEvent(ts, "tool_result", out, p.native, p.model, "")
		r.Attrs = append(r.Attrs, event.String("tool_use_id", pl.CallID))
		p.turns.input(ts)
		errMsg := ""
		var extra []event.Attr
		if exit != nil {
			extra = append(extra, event.Int("exit_code", *exit))
			if *exit != 0 {
				errMsg = toolError(out)
				if out == "" {
					errMsg = "exit code " + strconv.FormatInt(*exit, 10)
				}
			}
		}
		p.turns.toolResult(pl.CallID, ts, "", errMsg, extra...)
		return []event.Record{r}
	}
	return nil
}

// codexOutput returns a tool output's text and, for shell calls, the exit
// code. The output is a string (or content items) which, for shell calls,
// is itself JSON: {"output": "...", "metadata": {"exit_code": N}}.
func codexOutput(raw json.RawMessage) (string, *int64) {
	out := textOf(raw)
	var o struct {
		Output   string `json:"output"`
		Metadata *struct {
			ExitCode *int64 `json:"exit_code"`
		} `json:"metadata"`
	}
	src, wrapped := raw, len(raw) > 0 && raw[0] == '"'
	if wrapped {
		src = json.RawMessage(out)
	}
	if len(src) == 0 || src[0] != '{' || json.Unmarshal(src, &o) != nil || (wrapped && o.Metadata == nil) {
		return out, nil // plain text (that may well be JSON)
	}
	if o.Output != "" {
		out = o.Output
	}
	if o.Metadata != nil {
		return out, o.Metadata.ExitCode
	}
	return out, nil
}

func (p *codexParser) Flush() []event.Record { return nil }
func (p *codexParser) Turns() []Turn         { return p.turns.take() }
func (p *codexParser) Pending() bool         { return false }
