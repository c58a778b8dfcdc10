package parse

// Decoding a Claude Code transcript line with the walker (jsonscan.go):
// the fields below, and nothing else, are read; json.RawMessage fields are
// sub-slices of the line, valid while the line is.

import (
	"bytes"
	"encoding/json"
)

// fieldKey maps a member's key to one of names: an exact match, else a
// case-insensitive one, as encoding/json matches struct fields.
func fieldKey(key []byte, names []string) string {
	for _, n := range names {
		if string(key) == n {
			return n
		}
	}
	ascii := true
	for _, c := range key {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	for _, n := range names {
		// Folding keeps an ASCII key's length; only a non-ASCII one (the
		// Kelvin sign folds to k) can match a name of another length.
		if (!ascii || len(key) == len(n)) && bytes.EqualFold(key, []byte(n)) {
			return n
		}
	}
	return ""
}

var (
	lineKeys    = []string{"type", "timestamp", "sessionId", "isSidechain", "isMeta", "requestId", "agentId", "toolUseResult", "message"}
	messageKeys = []string{"id", "model", "role", "content", "usage"}
	blockKeys   = []string{"type", "text", "thinking", "name", "id", "tool_use_id", "input", "content", "is_error"}
)

func (l *claudeLine) decode(line []byte) error {
	return eachMember(line, func(key, v []byte) error {
		var err error
		switch fieldKey(key, lineKeys) {
		case "type":
			l.Type, err = rawString(v)
		case "timestamp":
			l.Timestamp, err = rawString(v)
		case "sessionId":
			l.SessionID, err = rawString(v)
		case "isSidechain":
			l.IsSidechain, err = jsonBool(v)
		case "isMeta":
			l.IsMeta, err = jsonBool(v)
		case "requestId":
			l.RequestID, err = rawString(v)
		case "agentId":
			l.AgentID, err = rawString(v)
		case "toolUseResult":
			l.ToolUseResult = v
		case "message":
			l.Message = nil
			if !isNull(v) {
				l.Message = &claudeMessage{}
				err = l.Message.decode(v)
			}
		}
		return err
	})
}

func (m *claudeMessage) decode(v []byte) error {
	return eachMember(v, func(key, v []byte) error {
		var err error
		switch fieldKey(key, messageKeys) {
		case "id":
			m.ID, err = rawString(v)
		case "model":
			m.Model, err = rawString(v)
		case "role":
			m.Role, err = rawString(v)
		case "content":
			m.Content = v
		case "usage":
			m.Usage = nil
			if !isNull(v) {
				m.Usage = &claudeUsage{}
				err = json.Unmarshal(v, m.Usage)
			}
		}
		return err
	})
}

// decode fills the fields of one content block that have the right type.
func (b *claudeBlock) decode(v []byte) {
	eachMember(v, func(key, v []byte) error {
		switch fieldKey(key, blockKeys) {
		case "type":
			b.Type, _ = rawString(v)
		case "text":
			b.Text, _ = rawString(v)
		case "thinking":
			b.Thinking, _ = rawString(v)
		case "name":
			b.Name, _ = rawString(v)
		case "id":
			b.ID, _ = rawString(v)
		case "tool_use_id":
			b.ToolUseID, _ = rawString(v)
		case "input":
			b.Input = v
		case "content":
			b.Content = v
		case "is_error":
			b.IsError, _ = jsonBool(v)
		}
		return nil
	})
}
