package parse

import (
	"strings"
)

// Redacted replaces secret values.
const Redacted = "[REDACTED]"

// Redaction keeps labels and replaces values. It is one pass over the text
// with no regular expression, since it runs on every wrapped call:
//
//	--api-key VALUE, --token=VALUE      a credential-named flag's value
//	KEY=VALUE, KEY: VALUE, "key": "v"   a credential-named key's value
//	Authorization: Bearer VALUE         the credentials after the scheme
//	Bearer VALUE, Basic VALUE           anywhere, when VALUE looks like one
//	scheme://user:PASS@host             the userinfo password
//	sk-ant-…, sk-…, ghp_…, github_pat_…, xox?-…, AKIA…, eyJ….….…, glpat-…
//	                                    well-known token shapes, anywhere
//	-----BEGIN … PRIVATE KEY----- …     the body of a PEM private key
//
// ANSI escape sequences inside a line are seen through (the text is
// scanned without them and the cut mapped back).

// RedactArgs replaces credential values in an argument vector: the value
// of --token=…, of --password VALUE (the next argument), of KEY=VALUE when
// KEY names a secret, and whatever RedactText finds inside any argument.
func RedactArgs(args []string) []string { return RedactCall("", args) }

// RedactCall is RedactArgs for a command's arguments: the command's own
// credential flags (toolCredFlags: curl -u, mysql -p…) count too, and so
// do those of a tool named later (sudo mysql -pX, env A=1 curl -u u:p).
func RedactCall(command string, args []string) []string {
	out := make([]string, len(args))
	tool := toolName(command)
	for i := 0; i < len(args); i++ {
		a := args[i]
		out[i] = a
		if tool != "" && len(a) > 1 && a[0] == '-' {
			if red, next, ok := toolFlag(tool, a); ok {
				out[i] = red
				if next && i+1 < len(args) {
					out[i+1] = toolValue(tool, a, args[i+1])
					i++
				}
				continue
			}
		}
		if len(a) > 1 && a[0] == '-' && a != "--" {
			name, _, hasEq := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if secretFlag(name) && (hasEq || !valueLessFlag(name)) {
				if hasEq {
					if eq := strings.IndexByte(a, '='); eq+1 < len(a) {
						out[i] = a[:eq+1] + Redacted
					}
				} else if i+1 < len(args) && !isFlagWord(args[i+1]) {
					out[i+1] = Redacted
					i++
				}
				continue
			}
		} else if k, v, ok := strings.Cut(a, "="); ok && v != "" && isEnvKey(k) && secretFlag(k) {
			out[i] = k + "=" + Redacted
			continue
		} else if t := toolName(a); t != "" {
			tool = t
		}
		out[i] = RedactText(a)
	}
	return out
}

// isFlagWord reports whether an argument after a credential flag is the
// next flag rather than the credential: --word or -x.
func isFlagWord(a string) bool {
	if len(a) > 2 && a[0] == '-' && a[1] == '-' {
		return isLetter(a[2])
	}
	return len(a) == 2 && a[0] == '-' && isLetter(a[1])
}

func isEnvKey(k string) bool {
	if k == "" || len(k) > 64 || !(isLetter(k[0]) || k[0] == '_') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyChar(k[i]) {
			return false
		}
	}
	return true
}

// RedactText replaces secrets that appear in free text (output lines,
// message bodies, agent content), keeping their labels.
func RedactText(s string) string {
	if len(s) < 6 {
		return s
	}
	if strings.IndexByte(s, 0x1b) < 0 {
		var buf [8]span
		sp := findSecrets(s, buf[:0])
		if len(sp) == 0 {
			return s
		}
		return apply(s, sp, nil)
	}
	clean, idx := stripMap(s)
	var buf [8]span
	sp := findSecrets(clean, buf[:0])
	if len(sp) == 0 {
		return s
	}
	return apply(s, sp, idx)
}

type span struct{ start, end int }

// apply replaces the spans (sorted by start) with Redacted; idx maps
// positions of the scanned text to s when escapes were removed.
func apply(s string, sp []span, idx []int) string {
	var b strings.Builder
	b.Grow(len(s) + len(sp)*len(Redacted))
	last := 0
	for _, p := range sp {
		start, end := p.start, p.end
		if idx != nil {
			start, end = idx[start], idx[end-1]+1
		}
		if start < last {
			start = last // overlapping findings
		}
		if end <= start {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// stripMap returns s without ANSI escape sequences and, for each byte of
// the result, its position in s.
func stripMap(s string) (string, []int) {
	b := make([]byte, 0, len(s))
	idx := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			if n := ansiLen(s, i); n > 0 {
				i += n
				continue
			}
		}
		b = append(b, s[i])
		idx = append(idx, i)
		i++
	}
	idx = append(idx, len(s))
	return string(b), idx
}

// findSecrets returns the spans of secret values in s, sorted by start.
func findSecrets(s string, sp []span) []span {
	add := func(start, end int) {
		if end <= start || strings.HasPrefix(s[start:], Redacted) && end-start <= len(Redacted) {
			return
		}
		if n := len(sp); n > 0 && start < sp[n-1].end {
			if end > sp[n-1].end {
				sp[n-1].end = end
			}
			if start < sp[n-1].start {
				sp[n-1].start = start
			}
			return
		}
		sp = append(sp, span{start, end})
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ':':
			if i+2 < len(s) && s[i+1] == '/' && s[i+2] == '/' {
				if a, b := urlPassword(s, i+3); b > a {
					add(a, b)
					i = b - 1 // past the userinfo: its ':' is no label
				}
				continue
			}
			if a, b := keyValue(s, i); b > a {
				add(a, b)
			}
		case '=':
			if a, b := keyValue(s, i); b > a {
				add(a, b)
			}
		case '-':
			if i > 0 && !isFlagBoundary(s[i-1]) {
				continue
			}
			n := 0
			for i+n < len(s) && s[i+n] == '-' {
				n++
			}
			if n >= 3 {
				if n == 5 && strings.HasPrefix(s[i+5:], "BEGIN ") {
					if a, b, next := pemBody(s, i); next > i {
						add(a, b)
						i = next - 1
						continue
					}
				}
				i += n - 1
				continue
			}
			// A tool's own flag first: mysql -pMyPassword1 is -p with
			// a value, not a flag named "pMyPassword1".
			if a, b := toolFlagSpan(s, i, n); b > a {
				add(a, b)
			} else if a, b := flagValueSpan(s, i+n); b > a {
				add(a, b)
			}
		case 's', 'g', 'x', 'A', 'e', 'B', 'b':
			if i > 0 && isTokenChar(s[i-1]) {
				continue
			}
			if end := tokenAt(s, i); end > i {
				add(i, end)
				i = end - 1
				continue
			}
			if c == 'B' || c == 'b' {
				if a, b := schemeValue(s, i); b > a {
					add(a, b)
				}
			}
		}
	}
	return sp
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }

// isKeyChar: a character of a KEY in KEY=VALUE (env names, JSON keys,
// header names, dotted config keys).
func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// isTokenChar: a character of a token body (base64url and friends).
func isTokenChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func isFlagBoundary(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '(', '[', '{', ',', ';', '=':
		return true
	}
	return false
}

// valueStop ends an unquoted value.
func valueStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', ',', ';', '&', '<', '>', ')', ']', '}':
		return true
	}
	return false
}

// keyValue looks at the separator s[sep] (':' or '='): when the key before
// it names a credential, it returns the span of the value after it.
func keyValue(s string, sep int) (int, int) {
	k := sep - 1
	for k >= 0 && (s[k] == ' ' || s[k] == '\t') {
		k--
	}
	for q := 0; q < 2 && k >= 0 && (s[k] == '"' || s[k] == '\'' || s[k] == '\\'); q++ {
		k--
	}
	end := k + 1
	for k >= 0 && end-k <= 64 && isKeyChar(s[k]) {
		k--
	}
	if k >= 0 && isKeyChar(s[k]) {
		return 0, 0 // longer than any credential name
	}
	key := strings.TrimLeft(s[k+1:end], "-.")
	if key == "" || !(s[sep] == '=' && secretFlag(key) || secretKey(key)) {
		return 0, 0
	}
	if sep+1 < len(s) && (s[sep+1] == '=' || s[sep] == ':' && s[sep+1] == ':') {
		return 0, 0 // a comparison, Go's :=, a :: path
	}
	var buf [64]byte
	return valueSpan(s, sep+1, has(lowerKey(&buf, key), "auth"))
}

// flagValueSpan: at s[i] the name of a flag (its dashes before i); for a
// credential flag followed by blanks and a value, the value's span. The
// --flag=value form is keyValue's.
func flagValueSpan(s string, i int) (int, int) {
	j := i
	for j < len(s) && j-i <= 64 && isKeyChar(s[j]) {
		j++
	}
	if j == i || j >= len(s) || (s[j] != ' ' && s[j] != '\t') || !isLetter(s[i]) || !secretFlag(s[i:j]) || valueLessFlag(s[i:j]) {
		return 0, 0
	}
	v := j
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) || s[v] == '-' {
		return 0, 0
	}
	return valueSpan(s, v, false)
}

// valueSpan returns the span of the value starting at or after v (blanks
// skipped): a quoted string's contents, or a word. With auth, a leading
// scheme word (Bearer, Basic, Token…) is kept.
func valueSpan(s string, v int, auth bool) (int, int) {
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) {
		return 0, 0
	}
	quote := byte(0)
	escaped := false
	if s[v] == '\\' && v+1 < len(s) && (s[v+1] == '"' || s[v+1] == '\'') {
		quote, escaped = s[v+1], true
		v += 2
	} else if s[v] == '"' || s[v] == '\'' {
		quote = s[v]
		v++
	}
	if v >= len(s) {
		return 0, 0
	}
	if quote == 0 && (s[v] == '{' || s[v] == '[') {
		return 0, 0 // structure: its own keys are looked at one by one
	}
	if auth {
		v = skipScheme(s, v)
	}
	e := v
	if quote != 0 {
		for e < len(s) && s[e] != '\n' {
			if s[e] == '\\' && !escaped && e+1 < len(s) {
				e += 2
				continue
			}
			if s[e] == quote && (!escaped || s[e-1] == '\\') {
				if escaped {
					e--
				}
				break
			}
			e++
		}
		if e > len(s) {
			e = len(s)
		}
	} else {
		for e < len(s) && !valueStop(s[e]) {
			e++
		}
	}
	return v, e
}

// skipScheme skips an HTTP authentication scheme and its blanks.
func skipScheme(s string, v int) int {
	e := v
	for e < len(s) && isLetter(s[e]) {
		e++
	}
	if e == v || e >= len(s) || s[e] != ' ' {
		return v
	}
	switch strings.ToLower(s[v:e]) {
	case "bearer", "basic", "token", "digest", "bot", "negotiate", "apikey", "key":
		for e < len(s) && s[e] == ' ' {
			e++
		}
		return e
	}
	return v
}

// schemeValue: "Bearer X" or "Basic X" at s[i] outside any label, when X
// looks like credentials (not "Bearer of news", not "Basic Usage").
func schemeValue(s string, i int) (int, int) {
	var n int
	switch {
	case strings.HasPrefix(s[i:], "Bearer "), strings.HasPrefix(s[i:], "bearer "), strings.HasPrefix(s[i:], "BEARER "):
		n = 7
	case strings.HasPrefix(s[i:], "Basic "), strings.HasPrefix(s[i:], "basic "), strings.HasPrefix(s[i:], "BASIC "):
		n = 6
	default:
		return 0, 0
	}
	v := i + n
	for v < len(s) && s[v] == ' ' {
		v++
	}
	e := v
	for e < len(s) && (isTokenChar(s[e]) || s[e] == '.' || s[e] == '~' || s[e] == '+' || s[e] == '/' || s[e] == '=') {
		e++
	}
	if e-v < 8 || !credentialLike(s[v:e]) {
		return 0, 0
	}
	return v, e
}

// credentialLike: a word with a digit, a symbol, or a capital past its
// first letter; ordinary words have none of these.
func credentialLike(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if isDigit(c) || !isLetter(c) || i > 0 && c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// urlPassword: s[i:] follows "://"; the span of the userinfo password.
func urlPassword(s string, i int) (int, int) {
	at, colon := -1, -1
	for j := i; j < len(s); j++ {
		c := s[j]
		if c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' {
			break
		}
		if c == ':' && colon < 0 && at < 0 {
			colon = j
		}
		if c == '@' {
			at = j
		}
	}
	if at < 0 || colon < 0 || colon > at {
		return 0, 0
	}
	return colon + 1, at
}

// pemBody: s[i:] starts "-----BEGIN "; for a private key, the span of the
// body between the BEGIN and END lines (to the end of s when cut), and
// where scanning resumes.
func pemBody(s string, i int) (int, int, int) {
	h := i + len("-----BEGIN ")
	close := strings.Index(s[h:], "-----")
	if close < 0 || close > 64 {
		return 0, 0, 0
	}
	label := s[h : h+close]
	if !strings.HasSuffix(label, "PRIVATE KEY") {
		return 0, 0, 0
	}
	body := h + close + 5
	for _, nl := range [...]string{"\r\n", "\n", `\r\n`, `\n`} { // JSON strings escape newlines
		if strings.HasPrefix(s[body:], nl) {
			body += len(nl)
			break
		}
	}
	e := strings.Index(s[body:], "-----END ")
	if e < 0 {
		return body, len(s), len(s)
	}
	end := body + e
	next := end + len("-----END ")
	if c := strings.Index(s[next:], "-----"); c >= 0 && c <= 64 {
		next += c + 5
	}
	for _, nl := range [...]string{"\r\n", "\n", `\r\n`, `\n`} {
		if strings.HasSuffix(s[body:end], nl) {
			end -= len(nl)
			break
		}
	}
	return body, end, next
}

// tokenAt: the end of a well-known token shape starting at s[i], or i.
func tokenAt(s string, i int) int {
	r := s[i:]
	body := func(p string, min int, extra byte) int {
		if !strings.HasPrefix(r, p) {
			return 0
		}
		e := len(p)
		for e < len(r) && (isTokenChar(r[e]) || extra != 0 && r[e] == extra) {
			e++
		}
		if e-len(p) < min {
			return 0
		}
		return e
	}
	var e int
	switch r[0] {
	case 's':
		if e = body("sk-ant-", 12, 0); e == 0 {
			if e = body("sk-", 20, 0); e > 0 && !hasDigit(r[3:e]) && e < 35 {
				e = 0
			}
		}
	case 'g':
		for _, p := range [...]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"} {
			if e = body(p, 16, 0); e > 0 {
				break
			}
		}
	case 'x':
		if len(r) > 5 && strings.HasPrefix(r, "xox") && strings.IndexByte("abposre", r[3]) >= 0 && r[4] == '-' {
			if e = body(r[:5], 10, 0); e > 0 && !hasDigit(r[5:e]) {
				e = 0
			}
		}
	case 'A':
		if len(r) >= 20 && (strings.HasPrefix(r, "AKIA") || strings.HasPrefix(r, "ASIA")) {
			e = 4
			for e < len(r) && (r[e] >= 'A' && r[e] <= 'Z' || isDigit(r[e])) {
				e++
			}
			if e != 20 || e < len(r) && isTokenChar(r[e]) {
				e = 0
			}
		}
	case 'e':
		e = jwtAt(r)
	}
	return i + e
}

// jwtAt: a JSON Web Token eyJ….eyJ….sig (or an unsigned one) at r.
func jwtAt(r string) int {
	if !strings.HasPrefix(r, "eyJ") {
		return 0
	}
	e := 0
	seg := func() int {
		start := e
		for e < len(r) && isTokenChar(r[e]) {
			e++
		}
		return e - start
	}
	if seg() < 10 || e >= len(r) || r[e] != '.' {
		return 0
	}
	e++
	if seg() < 8 {
		return 0
	}
	if e < len(r) && r[e] == '.' {
		e++
		seg()
	}
	return e
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// lowerKey writes the key lowercased with separators dropped into b
// (AWS_SECRET_ACCESS_KEY → awssecretaccesskey, x-api-key → xapikey).
func lowerKey(b *[64]byte, k string) []byte {
	n := 0
	for i := 0; i < len(k) && n < len(b); i++ {
		if c := k[i]; isAlnum(c) {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[n] = c
			n++
		}
	}
	return b[:n]
}

// has reports whether b contains w.
func has(b []byte, w string) bool {
	n := len(w)
	for i := 0; i+n <= len(b); i++ {
		if b[i] == w[0] && string(b[i:i+n]) == w {
			return true
		}
	}
	return false
}

// secretWords make a key a credential's: a word of the key holding one
// (PGPASSWORD, GITHUB_TOKEN), or two neighbour words joined (api-key,
// ACCESS_KEY, privateKey). notSecretWords then clear it when one of the
// key's words is exactly one of them (counts, limits, paths and types
// about credentials are no secrets: max_tokens, token_file, auth_type).
// Judging whole words keeps AWS_SECURITY_TOKEN ("uri" in "security") and
// SERVICE_ACCOUNT_TOKEN ("count" in "account") secret.
var secretWords = [...]string{"token", "secret", "password", "passwd", "passphrase", "apikey", "credential",
	"privatekey", "accesskey", "authkey", "authorization", "sessionkey", "signingkey", "encryptionkey",
	"masterkey", "cookie", "bearer"}

var notSecretWords = map[string]bool{"tokens": true, "count": true, "counts": true, "usage": true, "limit": true,
	"limits": true, "budget": true, "total": true, "file": true, "files": true, "path": true, "dir": true, "url": true,
	"uri": true, "endpoint": true, "type": true, "ttl": true, "length": true, "len": true, "name": true, "mode": true,
	"method": true, "provider": true, "required": true, "enabled": true, "format": true, "kind": true, "version": true,
	"status": true, "max": true, "min": true, "size": true, "helper": true, "stdin": true, "env": true, "var": true,
	"prompt": true, "id_type": true, "store": true, "source": true, "expiry": true, "expires": true, "expiration": true,
	"expired": true, "rotation": true, "refreshed": true, "scopes": true, "scope": true, "tokenizer": true,
	"tokenize": true, "tokenized": true}

// passWords are secret as flags and before '=' only: --pass X, pass=X,
// openssl's -passin/-passout; "pass: 12" is a test count.
var passWords = map[string]bool{"pass": true, "passin": true, "passout": true}

// keyWords lowercases k into b and returns where each of its words ends:
// words split at _ - . and other symbols, and at camelCase (apiKey,
// APIKey, awsSecretAccessKey).
func keyWords(b *[64]byte, ends *[24]uint8, k string) ([]byte, []uint8) {
	n, m := 0, 0
	cut := func() {
		if n > 0 && (m == 0 || int(ends[m-1]) < n) && m < len(ends) {
			ends[m] = uint8(n)
			m++
		}
	}
	for i := 0; i < len(k) && n < len(b); i++ {
		c := k[i]
		if !isAlnum(c) {
			cut()
			continue
		}
		if c >= 'A' && c <= 'Z' && i > 0 {
			p := k[i-1]
			if p >= 'a' && p <= 'z' || isDigit(p) || p >= 'A' && p <= 'Z' && i+1 < len(k) && k[i+1] >= 'a' && k[i+1] <= 'z' {
				cut()
			}
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[n] = c
		n++
	}
	cut()
	return b[:n], ends[:m]
}

// secretKey reports whether a key or flag name (without dashes) names a
// credential: token, secret, password, passwd, api-key/apikey, auth,
// credential, private-key, access-key… but not author, tokens, input_tokens.
func secretKey(name string) bool { return judgeKey(name, false) }

// secretFlag is secretKey for a flag or a KEY=: --pass and pass= too.
func secretFlag(name string) bool { return judgeKey(name, true) }

func judgeKey(name string, pass bool) bool {
	if len(name) < 2 || len(name) > 64 {
		return false
	}
	var buf [64]byte
	var endBuf [24]uint8
	b, ends := keyWords(&buf, &endBuf, name)
	secret, start := false, 0
	for i, e := range ends {
		w := b[start:e]
		if notSecretWords[string(w)] || len(w) > 6 && string(w[len(w)-6:]) == "tokens" {
			return false
		}
		if !secret {
			secret = hasSecretWord(w) || pass && passWords[string(w)] ||
				i+1 < len(ends) && hasSecretWord(b[start:ends[i+1]]) // api+key, access+key
		}
		start = int(e)
	}
	return secret
}

func hasSecretWord(k []byte) bool {
	if n := len(k); n >= 4 && string(k[n-4:]) == "auth" {
		return true // auth, oauth, basicauth; not author, authority
	}
	// one pass, dispatching on the first letter of each secret word
	for i := 0; i+5 <= len(k); i++ {
		var words []string
		switch k[i] {
		case 't':
			words = wordsT
		case 's':
			words = wordsS
		case 'p':
			words = wordsP
		case 'a':
			words = wordsA
		case 'c':
			words = wordsC
		case 'e', 'm', 'b':
			words = wordsEMB
		default:
			continue
		}
		r := k[i:]
		for _, w := range words {
			if len(r) >= len(w) && string(r[:len(w)]) == w {
				return true
			}
		}
	}
	return false
}

// The secret words by first letter (secretWords, for hasSecretWord).
var (
	wordsT   = []string{"token"}
	wordsS   = []string{"secret", "sessionkey", "signingkey"}
	wordsP   = []string{"password", "passwd", "passphrase", "privatekey"}
	wordsA   = []string{"apikey", "accesskey", "authkey", "authorization"}
	wordsC   = []string{"credential", "cookie"}
	wordsEMB = []string{"encryptionkey", "masterkey", "bearer"}
)
