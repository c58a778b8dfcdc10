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

// DefaultArgsLimit is GT_LOG_ARGS_LIMIT's default: the bytes of a call's
// recorded args.
const DefaultArgsLimit = 4096

// CallArgs is a call's recorded `args`: redacted (RedactCall), joined with
// spaces and cut to limit bytes at a UTF-8 boundary with "…", as bd's
// output is. Each argument is cut before redaction to what could still
// show (a 100 KB argument is not scanned whole); the redaction after the
// cut still sees every flag and key, and a token cut short keeps its
// prefix, which is all its shape needs.
func CallArgs(command string, args []string, limit int) string {
	if limit <= 0 {
		limit = DefaultArgsLimit
	}
	room := limit + 1024 // past the cut: a secret straddling it is still whole
	cut := args
	total := 0
	for i, a := range args {
		total += len(a) + 1
		if len(a) > room {
			if &cut[0] == &args[0] {
				cut = append([]string(nil), args...)
			}
			cut[i] = a[:room]
		}
		if total > room {
			cut = cut[:i+1]
			break
		}
	}
	return TruncateBytes(strings.Join(RedactCall(command, cut), " "), limit)
}

// UserEnvNote is the `note` of a call run with the user's environment:
// with the variables gtrun adds, exec failed with E2BIG.
const UserEnvNote = "run with the user's environment: with gtrun's variables the argument list was too long (E2BIG)"
