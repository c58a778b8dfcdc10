package parse

import (
	"path/filepath"
	"strings"
)

// credFlag is one of a tool's own credential flags: names no key rule can
// judge (curl -u, mysql -p, sshpass -p). docs/redaction.md says how to
// add a tool.
type credFlag struct {
	flag     string // "-p", "--user"
	attached bool   // the value may follow a short flag at once: -pVALUE
	separate bool   // the value may be the next argument (false: a bare -p prompts)
	userPass bool   // the value is USER:PASSWORD: only the password is hidden
}

var (
	mysqlP   = []credFlag{{flag: "-p", attached: true}}                 // a bare -p prompts
	dashP    = []credFlag{{flag: "-p", attached: true, separate: true}} // sshpass -p PASS, -pPASS
	curlUser = []credFlag{{flag: "-u", attached: true, separate: true, userPass: true},
		{flag: "-U", attached: true, separate: true, userPass: true},
		{flag: "--user", separate: true, userPass: true}, {flag: "--proxy-user", separate: true, userPass: true}}
)

// toolCredFlags: each tool's credential flags, by the tool's base name.
// Short flags mean a credential only for these tools (mkdir -p does not).
var toolCredFlags = map[string][]credFlag{
	"curl":  curlUser,
	"mysql": mysqlP, "mariadb": mysqlP, "mysqldump": mysqlP, "mariadb-dump": mysqlP, "mysqladmin": mysqlP,
	"mariadb-admin": mysqlP, "mysqlimport": mysqlP, "mysqlshow": mysqlP, "mysqlcheck": mysqlP,
	"sshpass":   dashP,
	"redis-cli": {{flag: "-a", attached: true, separate: true}},
	"mongo":     dashP, "mongosh": dashP, "mongodump": dashP, "mongorestore": dashP, "mongoexport": dashP, "mongoimport": dashP,
	"sqlcmd": {{flag: "-P", attached: true, separate: true}}, "bcp": {{flag: "-P", attached: true, separate: true}},
	"ldapsearch": {{flag: "-w", separate: true}}, "ldapmodify": {{flag: "-w", separate: true}},
	"ldapadd": {{flag: "-w", separate: true}}, "ldapdelete": {{flag: "-w", separate: true}},
	"ldapwhoami": {{flag: "-w", separate: true}}, "ldappasswd": {{flag: "-w", separate: true}, {flag: "-s", separate: true}},
	"zip": {{flag: "-P", separate: true}}, "unzip": {{flag: "-P", separate: true}}, "7z": mysqlP,
	"smbclient": {{flag: "-U", separate: true, attached: true, userPass: true}},
	"docker":    {{flag: "-p", separate: true}}, "podman": {{flag: "-p", separate: true}}, // login -p
	"wget":     {{flag: "--user", separate: true, userPass: true}},
	"htpasswd": nil,
}

// toolFlag matches argument a against tool's credential flags: the
// argument's redacted form, and whether the next argument is the value.
func toolFlag(tool, a string) (string, bool, bool) {
	for _, f := range toolCredFlags[tool] {
		switch {
		case a == f.flag:
			return a, f.separate, f.separate
		case f.attached && len(a) > len(f.flag) && strings.HasPrefix(a, f.flag) && !strings.HasPrefix(f.flag, "--"):
			return f.flag + hideValue(a[len(f.flag):], f.userPass), false, true
		case strings.HasPrefix(f.flag, "--") && strings.HasPrefix(a, f.flag+"="):
			return f.flag + "=" + hideValue(a[len(f.flag)+1:], f.userPass), false, true
		}
	}
	return a, false, false
}

// toolValue is the next argument after a separate credential flag.
func toolValue(tool, flag, v string) string {
	for _, f := range toolCredFlags[tool] {
		if f.flag == flag {
			return hideValue(v, f.userPass)
		}
	}
	return v
}

// hideValue redacts a credential value; USER:PASSWORD (and smbclient's
// USER%PASSWORD) keep the user. A user alone (curl prompts) is no secret.
func hideValue(v string, userPass bool) string {
	if v == "" || strings.HasPrefix(v, Redacted) {
		return v
	}
	if !userPass {
		return Redacted
	}
	if i := strings.IndexAny(v, ":%"); i >= 0 {
		if i+1 == len(v) {
			return v
		}
		return v[:i+1] + Redacted
	}
	return v
}

// toolName is an argument's tool, when it names one of toolCredFlags:
// /usr/bin/mysql and mysql alike.
func toolName(a string) string {
	if a == "" || a[0] == '-' {
		return ""
	}
	b := filepath.Base(a)
	if _, ok := toolCredFlags[b]; ok {
		return b
	}
	return ""
}

// valueLessFlag: a flag whose name holds a credential word but which
// takes no value, so the next argument is not eaten: --password-stdin,
// --no-auth, --skip-auth, --with-token (gh reads stdin),
// --credential-helper (names a helper).
func valueLessFlag(name string) bool {
	l := strings.ToLower(name)
	for _, p := range [...]string{"no-", "no_", "skip-", "skip_", "without-", "disable-", "disable_"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	for _, x := range [...]string{"-stdin", "_stdin", "-helper", "-prompt"} {
		if strings.HasSuffix(l, x) {
			return true
		}
	}
	return l == "with-token" || l == "use-token" || l == "ask-pass" || l == "askpass"
}

// toolFlagSpan: at s[d] a flag of n dashes in free text (a transcript's
// tool input, a shell line in an output); when it is a credential flag of
// the tool named before it on the same command line, the span of the
// value (mysql -pPASS, curl -u bob:PASS, sshpass -p PASS).
func toolFlagSpan(s string, d, n int) (int, int) {
	i := d + n
	if i >= len(s) || n > 2 || n == 1 && strings.IndexByte("puUaPws", s[i]) < 0 ||
		n == 2 && !strings.HasPrefix(s[i:], "user") && !strings.HasPrefix(s[i:], "proxy-user") {
		return 0, 0 // the common case: no tool's credential flag
	}
	tool := toolBefore(s, d)
	if tool == "" {
		return 0, 0
	}
	for _, f := range toolCredFlags[tool] {
		if !strings.HasPrefix(s[d:], f.flag) {
			continue
		}
		e := d + len(f.flag)
		switch {
		case e < len(s) && (s[e] == ' ' || s[e] == '\t') && f.separate:
			v, end := valueSpan(s, e, false)
			return userPassSpan(s, v, end, f.userPass)
		case e < len(s) && s[e] == '=' && n == 2:
			return userPassSpan(s, e+1, wordEnd(s, e+1), f.userPass)
		case e < len(s) && n == 1 && f.attached && !valueStop(s[e]):
			return userPassSpan(s, e, wordEnd(s, e), f.userPass)
		}
	}
	return 0, 0
}

// wordEnd: where an unquoted value from s[v] ends; a backslash ends it
// too, so that a JSON-escaped quote after it stays whole.
func wordEnd(s string, v int) int {
	for v < len(s) && !valueStop(s[v]) && s[v] != '\\' {
		v++
	}
	return v
}

// userPassSpan narrows [v, e) to the password of USER:PASSWORD.
func userPassSpan(s string, v, e int, userPass bool) (int, int) {
	if !userPass || e <= v {
		return v, e
	}
	if c := strings.IndexAny(s[v:e], ":%"); c >= 0 {
		return v + c + 1, e
	}
	return 0, 0 // a user alone: curl prompts for the password
}

// toolBefore is the nearest word before s[d], on the same command line
// (not past a newline, ;, | or &, at most 256 bytes back), that names a
// tool of toolCredFlags; "" when none.
func toolBefore(s string, d int) string {
	lo := max(0, d-256)
	end := d
	for j := d - 1; j >= lo-1; j-- {
		if j >= lo {
			switch s[j] {
			case '\n', ';', '|', '&':
				lo = j + 1
			case ' ', '\t', '"', '\'', '`', '(':
			default:
				continue
			}
		}
		if w := s[j+1 : end]; w != "" {
			if t := toolName(w); t != "" {
				return t
			}
		}
		end = j
		if j < lo {
			break
		}
	}
	return ""
}
