package parse

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// bdValueFlags are bd's flags that take a separate value, so the value is
// not mistaken for the subcommand or a positional argument.
var bdValueFlags = map[string]bool{
	"--db": true, "--actor": true, "--parent": true, "--reason": true, "--status": true, "-s": true,
	"--var": true, "--on": true, "--to": true, "--subject": true, "--exit": true, "--role": true,
	"--hook": true, "--title": true, "-t": true, "-p": true, "--priority": true, "--type": true,
	"--assignee": true, "-a": true, "--description": true, "-d": true, "--labels": true, "-l": true,
	"--file": true, "-f": true, "--body": true, "-m": true, "--message": true, "--formula": true,
	"--target": true, "--id": true, "--limit": true, "-n": true, "--sort": true, "--format": true,
}

// positionals returns the non-flag arguments, skipping values of known
// value-taking flags and everything's order kept. "--" ends flags.
func positionals(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			if !strings.Contains(a, "=") && bdValueFlags[a] {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// Subcommand returns bd's subcommand: the first non-flag argument.
func Subcommand(args []string) string {
	if p := positionals(args); len(p) > 0 {
		return p[0]
	}
	return ""
}

// flagValue returns the value of --name (as "--name v" or "--name=v").
func flagValue(args []string, names ...string) (string, bool) {
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		for _, n := range names {
			if args[i] == n && i+1 < len(args) {
				return args[i+1], true
			}
			if strings.HasPrefix(args[i], n+"=") {
				return args[i][len(n)+1:], true
			}
		}
	}
	return "", false
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// ErrorLine returns the first line of texts, in order, that starts with
// "Error" (bd and cobra report failures so), trimmed and redacted; "" if none.
func ErrorLine(texts ...string) string {
	for _, t := range texts {
		for _, l := range strings.Split(t, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "Error") {
				return RedactText(l)
			}
		}
	}
	return ""
}

// Redacted replaces secret values.
const Redacted = "[REDACTED]"

var secretName = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|AUTH|CREDENTIAL)`)

// RedactArgs replaces credential-looking values: --token=…, --password …
// (the next argument), and KEY=VALUE where KEY names a secret.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out[i] = a
		if strings.HasPrefix(a, "-") {
			name, _, hasEq := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if secretName.MatchString(name) {
				if hasEq {
					out[i] = a[:strings.IndexByte(a, '=')+1] + Redacted
				} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					out[i+1] = Redacted
					i++
				}
			}
			continue
		}
		if k, _, ok := strings.Cut(a, "="); ok && secretName.MatchString(k) && !strings.ContainsAny(k, " /") {
			out[i] = k + "=" + Redacted
		}
	}
	return out
}

var secretText = []*regexp.Regexp{
	// Authorization: Bearer xyz / Basic xyz
	regexp.MustCompile(`(?i)(authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)([^\s"',;]+)`),
	// --token=xyz, --api-key xyz
	regexp.MustCompile(`(?i)(--?[a-z0-9_-]*(?:token|secret|password|passwd|api[_-]?key|auth|credential)[a-z0-9_-]*(?:=|\s+))([^\s"',;-][^\s"',;]*)`),
	// API_KEY=xyz, "password": "xyz", secret: xyz
	regexp.MustCompile(`(?i)([a-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|credential)[a-z0-9_.-]*"?\s*[:=]\s*"?)([^\s"',;]+)`),
}

// RedactText replaces secrets that appear in free text (output lines).
func RedactText(s string) string {
	if !secretText[2].MatchString(s) && !secretText[0].MatchString(s) && !secretText[1].MatchString(s) {
		return s
	}
	for _, re := range secretText {
		s = re.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// TruncateBytes cuts s to at most n bytes on a UTF-8 boundary and appends
// "…" when it cut anything.
func TruncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 0 {
		n = 0
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// TruncateRunes keeps at most n runes of s, appending "…" when cut.
func TruncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]`)

// StripANSI removes terminal escape sequences (colour, OSC queries) and
// carriage returns, so PTY output matches like piped output.
func StripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansiRE.ReplaceAllString(s, "")
	}
	return strings.ReplaceAll(s, "\r", "")
}
