package parse

import "strings"

// UnresolvedCommand is the command label of a call whose name did not
// resolve to an executable: a typo, or a token pasted as the command
// (gtrun sk-ant-…), never becomes a label, a span name or a metric series.
const UnresolvedCommand = "(unresolved)"

// CommandLabel is the `command` label of a call: the name when it resolved
// to an executable and holds no credential, else UnresolvedCommand.
func CommandLabel(name string, resolved bool) string {
	if !resolved || name == "" || RedactText(name) != name || RedactArgs([]string{name})[0] != name {
		return UnresolvedCommand
	}
	return name
}

// StartError is the recorded error of a child that did not start: the
// command as typed is replaced by its label (argv0 may be a secret or a
// typo), and what remains is redacted.
func StartError(msg, argv0, label string) string {
	if argv0 != "" && argv0 != label {
		msg = strings.ReplaceAll(msg, argv0, label)
	}
	return RedactText(msg)
}

// RedactAttr redacts an attribute's value: all of it under a credential's
// key (db.password, api.token, OTEL_RESOURCE_ATTRIBUTES' or emit's keys),
// else what RedactText finds in it.
func RedactAttr(key, value string) string {
	if value != "" && secretFlag(key) {
		return Redacted
	}
	return RedactText(value)
}

// RedactPairs is RedactAttr over key/value pairs (resource attributes),
// in place.
func RedactPairs(kv [][2]string) [][2]string {
	for i := range kv {
		kv[i][1] = RedactAttr(kv[i][0], kv[i][1])
	}
	return kv
}
