package parse

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// decodeReference is what the walker replaces: encoding/json over the
// same structs.
func decodeReference(line []byte) (claudeLine, []claudeBlock, error) {
	var l claudeLine
	if err := json.Unmarshal(line, &l); err != nil {
		return l, nil, err
	}
	var bs []claudeBlock
	if l.Message != nil && len(l.Message.Content) > 0 && l.Message.Content[0] == '[' {
		json.Unmarshal(l.Message.Content, &bs)
	}
	return l, bs, nil
}

// sameDecode reports how the walker's decoding of line differs from
// encoding/json's ("" when it does not).
func sameDecode(line []byte) string {
	ref, refBlocks, refErr := decodeReference(line)
	var got claudeLine
	err := got.decode(line)
	if (err != nil) != (refErr != nil) {
		return "error " + errString(err) + ", encoding/json: " + errString(refErr)
	}
	if err != nil {
		return ""
	}
	var gotBlocks []claudeBlock
	if got.Message != nil && len(got.Message.Content) > 0 && got.Message.Content[0] == '[' {
		gotBlocks = blocks(got.Message.Content)
	}
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return string(raw)
		}
		return b.String()
	}
	norm := func(l *claudeLine, bs []claudeBlock) {
		l.ToolUseResult = json.RawMessage(compact(l.ToolUseResult))
		if l.Message != nil {
			l.Message.Content = json.RawMessage(compact(l.Message.Content))
		}
		for i := range bs {
			bs[i].Input = json.RawMessage(compact(bs[i].Input))
			bs[i].Content = json.RawMessage(compact(bs[i].Content))
		}
	}
	norm(&ref, refBlocks)
	norm(&got, gotBlocks)
	if !reflect.DeepEqual(ref, got) {
		return "line differs"
	}
	if len(refBlocks)+len(gotBlocks) > 0 && !reflect.DeepEqual(refBlocks, gotBlocks) {
		return "blocks differ"
	}
	if subagentOf(ref.ToolUseResult) != subagentOf(got.ToolUseResult) {
		return "subagent differs"
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// Every line of the real transcripts decodes as with encoding/json, and
// every torn prefix of one is an error, as with encoding/json.
func TestClaudeDecodeMatchesEncodingJSON(t *testing.T) {
	lines := 0
	for _, f := range claudeFixtures {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			lines++
			if d := sameDecode(l); d != "" {
				t.Fatalf("%s line %d: %s\n%.300s", f, lines, d, l)
			}
			for _, cut := range []int{1, len(l) / 3, len(l) / 2, len(l) - 2, len(l) - 1} {
				if cut <= 0 || cut >= len(l) {
					continue
				}
				var got claudeLine
				if got.decode(l[:cut]) == nil {
					t.Fatalf("%s line %d cut at %d: decoded, want an error", f, lines, cut)
				}
			}
		}
	}
	if lines < 100 {
		t.Fatalf("only %d fixture lines read", lines)
	}
}

// Shapes the fixtures do not show: escapes around quotes, nesting inside
// strings, nulls, wrong types, whitespace.
func TestClaudeDecodeEdges(t *testing.T) {
	for _, l := range []string{
		`{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"a \"quoted\" }]{ \\"}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"x"},{"type":"image"}],"is_error":true}]},"toolUseResult":{"agentId":"ab12","x":[1,2,{"y":"\\\\"}]}}`,
		` { "type" : "assistant" , "message" : { "id" : "m" , "usage" : { "input_tokens" : 5 , "output_tokens" : 7 } } } `,
		`{"type":"assistant","message":null}`,
		`{"type":"assistant","message":{"content":"just text","usage":null}}`,
		`{"type":"user","message":{"content":[null,{"type":5,"text":"t"},"s",{"type":"text","text":"é\u00e9\ud83d\ude00"}]}}`,
		`{"type":5}`,
		`{"type":"user","isMeta":"yes"}`,
		`{"type":"user","message":[]}`,
		`{"type":"user","message":{"usage":{"input_tokens":"x"}}}`,
		`{"type":"assistant","message":{"id":"a"}} x`,
		`{"type":"assistant",}`,
		`{"type" "assistant"}`,
		`{"a":tru}`,
		`{"a":1e5,"b":-0.5,"c":false}`,
		`[]`,
		``,
	} {
		if d := sameDecode([]byte(l)); d != "" {
			t.Errorf("%s: %s", l, d)
		}
	}
}

// FuzzClaudeDecode: whatever encoding/json accepts, the walker decodes the
// same way.
func FuzzClaudeDecode(f *testing.F) {
	for _, fx := range claudeFixtures {
		data, _ := os.ReadFile(fx)
		for i, l := range bytes.Split(data, []byte("\n")) {
			if i%10 == 0 && len(l) < 4096 {
				f.Add(l)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if _, _, err := decodeReference(line); err != nil {
			return // the walker may accept what encoding/json refuses inside skipped values
		}
		if d := sameDecode(line); d != "" {
			t.Fatalf("%q: %s", line, d)
		}
	})
}

func marshalRaw(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if b, err := json.Marshal(json.RawMessage(raw)); err == nil {
		return string(b)
	}
	return string(raw)
}

// compactJSON writes what json.Marshal writes for every tool input of the
// real transcripts, and for shapes they do not show.
func TestCompactJSONMatchesMarshal(t *testing.T) {
	inputs := []string{
		`{"a" : [1, 2 ,{"b":"<x> & y"}], "c":"\u2028 \u2029 \u003c"}`,
		" {\n\t\"cmd\": \"echo \\\"hi\\\" > /tmp/f && cat </tmp/f\"\r\n}",
		"{\"s\":\"\u2028\u2029\"}",
		`"just a string"`, `null`, `12.5e3`, `[]`, `{}`,
		`{"bad": }`, `{"x":"\xff"}`,
	}
	for _, f := range claudeFixtures {
		data, _ := os.ReadFile(f)
		for _, l := range bytes.Split(data, []byte("\n")) {
			var cl claudeLine
			if cl.decode(l) != nil || cl.Message == nil {
				continue
			}
			for _, b := range blocks(cl.Message.Content) {
				if b.Type == "tool_use" {
					inputs = append(inputs, string(b.Input))
				}
			}
		}
	}
	if len(inputs) < 50 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	for _, in := range inputs {
		if got, want := compactJSON(json.RawMessage(in)), marshalRaw([]byte(in)); got != want {
			t.Fatalf("compactJSON(%.200q)\n got %.300q\nwant %.300q", in, got, want)
		}
	}
}

func FuzzCompactJSON(f *testing.F) {
	f.Add([]byte(`{"a" : [1, 2 ,{"b":"<x> & y \u2028"}]}`))
	f.Add([]byte("\"\xe2\x80\xa8<\""))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := compactJSON(in), marshalRaw(in); got != want {
			t.Fatalf("compactJSON(%q) = %q, want %q", in, got, want)
		}
	})
}
