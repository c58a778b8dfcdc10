package parse

// A minimal JSON walker for transcript lines. Most of a Claude Code line's
// bytes are values agent-log never reads (a tool's structured result, file
// snapshots) or reads once (tool output): encoding/json validates and
// copies every byte of them, once per nesting level that is decoded as
// json.RawMessage. The walker finds a value's extent with bytes.IndexByte
// over its strings and hands back sub-slices of the line, so only the
// fields gtrun uses are decoded, each once. The structure is checked (a
// torn or truncated line is an error); skipped values are not validated
// beyond their extent.

import (
	"bytes"
	"encoding/json"
	"errors"
)

var errJSON = errors.New("malformed JSON line")

// errType is a value of the wrong JSON type for its field, which
// encoding/json reports too.
var errType = errors.New("JSON value of the wrong type")

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that opens at b[i].
func skipString(b []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, errJSON
		}
		q := i + j
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for p := q - 1; p >= i && b[p] == '\\'; p-- {
			n++
		}
		i = q + 1
		if n%2 == 0 {
			return i, nil
		}
	}
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errJSON
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	return skipLiteral(b, i)
}

func skipNested(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			e, err := skipString(b, i)
			if err != nil {
				return 0, err
			}
			i = e
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return 0, errJSON
}

// skipLiteral accepts true, false, null and number-shaped words.
func skipLiteral(b []byte, i int) (int, error) {
	s := i
	for i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-' || b[i] == '+' || b[i] == '.' || b[i] == 'E') {
		i++
	}
	switch w := b[s:i]; {
	case len(w) == 0:
		return 0, errJSON
	case string(w) == "true", string(w) == "false", string(w) == "null":
	case w[0] == '-' || w[0] >= '0' && w[0] <= '9':
	default:
		return 0, errJSON
	}
	return i, nil
}

// eachMember calls fn with each member of the object v (raw key, value),
// in order. v must be exactly one object.
func eachMember(v []byte, fn func(key, val []byte) error) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return errType
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return trailing(v, i+1)
	}
	for {
		if i >= len(v) || v[i] != '"' {
			return errJSON
		}
		ke, err := skipString(v, i)
		if err != nil {
			return err
		}
		key := v[i+1 : ke-1]
		i = skipSpace(v, ke)
		if i >= len(v) || v[i] != ':' {
			return errJSON
		}
		i = skipSpace(v, i+1)
		ve, err := skipValue(v, i)
		if err != nil {
			return err
		}
		if err := fn(key, v[i:ve]); err != nil {
			return err
		}
		i = skipSpace(v, ve)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
			continue
		}
		if i < len(v) && v[i] == '}' {
			return trailing(v, i+1)
		}
		return errJSON
	}
}

// eachElem calls fn with each element of the array v.
func eachElem(v []byte, fn func(val []byte) error) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return errType
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return trailing(v, i+1)
	}
	for {
		ve, err := skipValue(v, i)
		if err != nil {
			return err
		}
		if err := fn(v[i:ve]); err != nil {
			return err
		}
		i = skipSpace(v, ve)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
			continue
		}
		if i < len(v) && v[i] == ']' {
			return trailing(v, i+1)
		}
		return errJSON
	}
}

func trailing(v []byte, i int) error {
	if skipSpace(v, i) != len(v) {
		return errJSON
	}
	return nil
}

func isNull(v []byte) bool { return string(v) == "null" }

// rawString decodes a string value (null is ""). Strings without escapes
// or non-ASCII bytes, most keys and ids, are taken as they stand.
func rawString(v []byte) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if len(v) < 2 || v[0] != '"' {
		return "", errType
	}
	plain := true
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

func jsonBool(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errType
}
