package parse

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/event"
)

// TranscriptOptions describe the transcript being parsed.
type TranscriptOptions struct {
	Session         string // gtrun/tmux session name -> "session"
	Role            string
	AgentType       string // "claudecode" | "codex"
	ContentLimit    int    // runes of content kept (GT_LOG_AGENT_CONTENT_LIMIT)
	Subagent        bool   // a subagent/sidechain transcript
	NativeSessionID string // fallback when lines carry no session id
	// AgentID is a subagent transcript's agent id when its lines do not say
	// (agent-<id>.jsonl): its turns nest under the call that ran it.
	AgentID string
}

// Transcript is fed one JSONL line at a time and returns the records that
// are complete. Usage of an API response is held until the response is
// complete (Claude repeats one usage object on each content-block line, and
// early lines may carry a partial output_tokens).
type Transcript interface {
	// Line parses one line (without its newline). err is non-nil for a
	// malformed line, which the caller counts and skips.
	Line(line []byte) ([]event.Record, error)
	// Flush emits held usage: the response is complete (quiet period,
	// shutdown, end of file with --once).
	Flush() []event.Record
	// Pending reports whether usage is held.
	Pending() bool
}

const defaultContentLimit = 512

func (o *TranscriptOptions) limit() int {
	if o.ContentLimit <= 0 {
		return defaultContentLimit
	}
	return o.ContentLimit
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// agentEvent builds one agent.event record.
func (o *TranscriptOptions) agentEvent(ts time.Time, kind, content, native, model, tool string) event.Record {
	r := event.Record{Name: "agent.event", Time: ts, Attrs: []event.Attr{
		event.String("session", o.Session),
		event.String("agent_type", o.AgentType),
		event.String("event_type", kind),
		event.String("role", o.Role),
		// Bounded before redaction (a huge tool output costs no more), cut to
		// the limit after it.
		event.String("content", TruncateRunes(RedactText(TruncateBytes(strings.TrimSpace(content), 4*o.limit()+1024)), o.limit())),
		event.String("native_session_id", native),
		event.Bool("subagent", o.Subagent),
	}}
	if model != "" {
		r.Attrs = append(r.Attrs, event.String("model", model))
	}
	if tool != "" {
		r.Attrs = append(r.Attrs, event.String("tool_name", tool))
	}
	return r
}

// usage is one response's token counts in gtrun's meaning: input excludes
// cached input, cache_read is cached input, output includes reasoning.
type usage struct {
	input, output, cacheRead, cacheCreation, reasoning int64
	cacheCreation1h                                    int64 // the 1-hour share of cacheCreation
}

func (o *TranscriptOptions) usageRecord(ts time.Time, native, model string, u usage, withReasoning bool) event.Record {
	r := event.Record{Name: "agent.usage", Time: ts, Attrs: []event.Attr{
		event.String("session", o.Session),
		event.String("native_session_id", native),
		event.String("model", model),
		event.String("agent_type", o.AgentType),
		event.String("role", o.Role),
		event.Bool("subagent", o.Subagent),
		event.Int("input_tokens", u.input),
		event.Int("output_tokens", u.output),
		event.Int("cache_read_tokens", u.cacheRead),
		event.Int("cache_creation_tokens", u.cacheCreation),
	}}
	if withReasoning {
		r.Attrs = append(r.Attrs, event.Int("reasoning_output_tokens", u.reasoning))
	} else {
		r.Attrs = append(r.Attrs, event.Int("cache_creation_1h_tokens", u.cacheCreation1h))
	}
	return r
}

// textOf returns the text of a content value that is a string or an array
// of {type:"text", text} blocks.
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return string(raw)
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(bl.Text)
	}
	return b.String()
}

// seenSet remembers keys, forgetting the oldest beyond a bound so memory
// stays flat however long the transcript.
type seenSet struct {
	m     map[string]struct{}
	order []string
	max   int
}

func (s *seenSet) has(k string) bool { _, ok := s.m[k]; return ok }

func (s *seenSet) add(k string) {
	if s.m == nil {
		s.m, s.max = map[string]struct{}{}, 4096
	}
	s.m[k] = struct{}{}
	s.order = append(s.order, k)
	if len(s.order) > s.max {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}
