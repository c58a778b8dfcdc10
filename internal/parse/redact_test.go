package parse

import (
	"regexp"
	"strings"
	"testing"
)

// Planted credentials of realistic shape (none is real).
const (
	anthropicKey = "sk-ant-api03-Zx9vQ2mN7pL4kR8tY1wE6uI3oA5sD0fG-hJ2kL9zX4cV7bN1mQ-AbC123xYz"
	openaiKey    = "sk-proj-4fGh7Jk2Lm9Nq3Rs6Tv8Wx1Yz5Ab0Cd"
	openaiOld    = "sk-9aZbYcXdWeVfUgThSiRjQkPlOmNn8765"
	ghpToken     = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	ghoToken     = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
	ghPAT        = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"
	slackToken   = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	awsKeyID     = "AKIAIOSFODNN7EXAMPLE"
	awsSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	jwt          = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	pemSample    = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb\n"
)

func TestRedactTextForms(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		// --flag VALUE and --flag=VALUE
		{"flag space", "curl --api-key s3cr3t http://x", "curl --api-key [REDACTED] http://x"},
		{"flag eq", "run --token=abc123 now", "run --token=[REDACTED] now"},
		{"flag password", "login --password hunter2", "login --password [REDACTED]"},
		{"flag passwd", "x --passwd=hunter2", "x --passwd=[REDACTED]"},
		{"flag apikey", "x --apikey hunter2", "x --apikey [REDACTED]"},
		{"flag auth", "x --auth u:p y", "x --auth [REDACTED] y"},
		{"flag credential", "x --credentials=abc", "x --credentials=[REDACTED]"},
		{"flag private key", "x --private-key abc", "x --private-key [REDACTED]"},
		{"flag access key", "x --access-key abc --secret-key def", "x --access-key [REDACTED] --secret-key [REDACTED]"},
		{"flag single dash", "x -token abc", "x -token [REDACTED]"},
		{"flag quoted", `x --password "two words" y`, `x --password "[REDACTED]" y`},
		{"flag then flag", "x --token --json", "x --token --json"},
		// KEY=VALUE, KEY: VALUE
		{"env", "export API_KEY=sk-live-1 && run", "export API_KEY=[REDACTED] && run"},
		{"env anthropic", "ANTHROPIC_API_KEY=abc.def", "ANTHROPIC_API_KEY=[REDACTED]"},
		{"env aws", "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SECRET_ACCESS_KEY=[REDACTED]"},
		{"env github", "GITHUB_TOKEN=x1", "GITHUB_TOKEN=[REDACTED]"},
		{"colon token ghp", "token: " + ghpToken, "token: [REDACTED]"},
		{"colon password", "password: hunter2 rejected", "password: [REDACTED] rejected"},
		{"yaml secret", "  client_secret: abc123\n  name: x", "  client_secret: [REDACTED]\n  name: x"},
		{"toml spaced", `api_key = "abc123"`, `api_key = "[REDACTED]"`},
		{"query", "GET /x?access_token=abc123&page=2", "GET /x?access_token=[REDACTED]&page=2"},
		{"header", "X-Api-Key: abc123", "X-Api-Key: [REDACTED]"},
		{"camel", "apiKey=abc123", "apiKey=[REDACTED]"},
		// JSON and quotes
		{"json spaced", `{"password": "hunter2", "ok": 1}`, `{"password": "[REDACTED]", "ok": 1}`},
		{"json tight", `{"api_key":"x","id":"gt-abc"}`, `{"api_key":"[REDACTED]","id":"gt-abc"}`},
		{"json number", `{"password": 123456}`, `{"password": [REDACTED]}`},
		{"json escaped quote", `{"secret": "a\"b", "x": 1}`, `{"secret": "[REDACTED]", "x": 1}`},
		{"json in json", `{"error": "bad {\"token\": \"abc123\"}"}`, `{"error": "bad {\"token\": \"[REDACTED]\"}"}`},
		{"json object value", `{"credentials": {"user": "bob", "password": "pw1"}}`, `{"credentials": {"user": "bob", "password": "[REDACTED]"}}`},
		{"single quotes", `{'token': 'abc123'}`, `{'token': '[REDACTED]'}`},
		// Authorization, Bearer, Basic
		{"authorization bearer", "Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"},
		{"authorization basic", "authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED]"},
		{"authorization bare", "Authorization: s3cr3t", "Authorization: [REDACTED]"},
		{"authorization json", `{"Authorization":"Bearer ` + jwt + `"}`, `{"Authorization":"Bearer [REDACTED]"}`},
		{"proxy authorization", "Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic [REDACTED]"},
		{"bare bearer", "sent Bearer eyJabc123.def456 ok", "sent Bearer [REDACTED] ok"},
		{"bare basic", "header Basic dXNlcjpwYXNz=", "header Basic [REDACTED]"},
		{"curl header", `curl -H "Authorization: Bearer tok_123456"`, `curl -H "Authorization: Bearer [REDACTED]"`},
		// ANSI colour inside the line
		{"ansi label", "\x1b[1mAuthorization:\x1b[0m Bearer xyz12345", "\x1b[1mAuthorization:\x1b[0m Bearer [REDACTED]"},
		{"ansi value", "token: \x1b[31mghp_secretvalue\x1b[0m", "token: \x1b[31m[REDACTED]\x1b[0m"},
		{"ansi key split", "\x1b[1mpass\x1b[0mword=hunter2", "\x1b[1mpass\x1b[0mword=[REDACTED]"},
		// URLs
		{"url password", "--db postgres://u:pw@h/db", "--db postgres://u:[REDACTED]@h/db"},
		{"url https", "clone https://bob:s3cr3t@github.com/x.git", "clone https://bob:[REDACTED]@github.com/x.git"},
		{"url token user", "https://x-access-token:" + ghpToken + "@github.com/o/r", "https://x-access-token:[REDACTED]@github.com/o/r"},
		{"url no password", "https://bob@host/x and http://host:8080/p", "https://bob@host/x and http://host:8080/p"},
		// token shapes anywhere
		{"anthropic bare", "key " + anthropicKey + " end", "key [REDACTED] end"},
		{"openai proj", "use " + openaiKey, "use [REDACTED]"},
		{"openai old", "(" + openaiOld + ")", "([REDACTED])"},
		{"ghp bare", "pushed with " + ghpToken, "pushed with [REDACTED]"},
		{"gho bare", ghoToken, "[REDACTED]"},
		{"github pat", "pat " + ghPAT, "pat [REDACTED]"},
		{"slack", "slack " + slackToken + ".", "slack [REDACTED]."},
		{"aws id", "id AKIAIOSFODNN7EXAMPLE here", "id [REDACTED] here"},
		{"jwt", "jwt=" + jwt, "jwt=[REDACTED]"},
		{"jwt bare", "got " + jwt + " back", "got [REDACTED] back"},
		{"glpat", "glpat-abcdefghij0123456789", "[REDACTED]"},
		// PEM
		{"pem", "key:\n-----BEGIN RSA PRIVATE KEY-----\n" + pemSample + "-----END RSA PRIVATE KEY-----\ndone",
			"key:\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\ndone"},
		{"pem openssh crlf", "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAA\r\n-----END OPENSSH PRIVATE KEY-----",
			"-----BEGIN OPENSSH PRIVATE KEY-----\r\n[REDACTED]\r\n-----END OPENSSH PRIVATE KEY-----"},
		{"pem json escaped", `{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\n"}`,
			`{"key":"-----BEGIN PRIVATE KEY-----\n[REDACTED]\n-----END PRIVATE KEY-----\n"}`},
		{"pem cut", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg", "-----BEGIN EC PRIVATE KEY-----\n[REDACTED]"},
		{"pem certificate kept", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		// no false positives: bd's vocabulary
		{"author flag", "bd create x --author bob", "bd create x --author bob"},
		{"author key", "author: bob", "author: bob"},
		{"tokens count", "tokens: 5", "tokens: 5"},
		{"usage json", `{"input_tokens": 12, "output_tokens": 3, "max_tokens": 9, "cache_read_tokens": 1}`, `{"input_tokens": 12, "output_tokens": 3, "max_tokens": 9, "cache_read_tokens": 1}`},
		{"bead ids", "✓ Created issue: gt-ehp — Fix login\n  Priority: P2\n  Status: open", "✓ Created issue: gt-ehp — Fix login\n  Priority: P2\n  Status: open"},
		{"sk bead id", "closed sk-abc and sk-abc.1", "closed sk-abc and sk-abc.1"},
		{"error line", `Error: resolving ID nonexistent-id: no issue found matching "nonexistent-id"`, `Error: resolving ID nonexistent-id: no issue found matching "nonexistent-id"`},
		{"prose", "the bearer of news; Basic Usage; token based auth", "the bearer of news; Basic Usage; token based auth"},
		{"token file", "--token-file /run/x token_path: /a", "--token-file /run/x token_path: /a"},
		{"dashes", strings.Repeat("-", 80) + "\nTotal: 5 issues", strings.Repeat("-", 80) + "\nTotal: 5 issues"},
		{"already redacted", "token: [REDACTED] --password [REDACTED] X=\"[REDACTED]\"", "token: [REDACTED] --password [REDACTED] X=\"[REDACTED]\""},
		{"comparison", "if token == nil", "if token == nil"},
		{"go assign", "token := getToken()", "token := getToken()"},
		{"rust path", "Token::new(x)", "Token::new(x)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := RedactText(c.in)
			if got != c.want {
				t.Errorf("RedactText(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			if again := RedactText(got); again != got {
				t.Errorf("not idempotent: %q → %q", got, again)
			}
		})
	}
}

func TestRedactArgsForms(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"create --token=abc123 --password hunter2 API_KEY=sk-1 GITHUB_TOKEN=ghp_x title --title|my token story PATH=/bin",
			"create --token=[REDACTED] --password [REDACTED] API_KEY=[REDACTED] GITHUB_TOKEN=[REDACTED] title --title|my token story PATH=/bin"},
		{"--api-key " + anthropicKey + " create y", "--api-key [REDACTED] create y"},
		{"--db postgres://u:pw@h/db list", "--db postgres://u:[REDACTED]@h/db list"},
		{"--db=postgres://u:pw@h/db list", "--db=postgres://u:[REDACTED]@h/db list"},
		{"create --description|use key " + openaiKey + " please", "create --description|use key [REDACTED] please"},
		{"create x --author bob --actor me", "create x --author bob --actor me"},
		{"--password -x9f!", "--password [REDACTED]"},
		{"--token --json list", "--token --json list"},
		{"--token", "--token"},
		{"--secret=", "--secret="},
		{"-H Authorization:|Bearer|abc12345", "-H Authorization: Bearer [REDACTED]"},
		{"mol wisp f --var token=abc --var target=rig", "mol wisp f --var token=[REDACTED] --var target=rig"},
		{"ANTHROPIC_API_KEY=" + anthropicKey, "ANTHROPIC_API_KEY=[REDACTED]"},
		{"--private-key -----BEGIN|PRIVATE|KEY-----\nMII\n-----END|PRIVATE|KEY-----", "--private-key [REDACTED]"},
		{"update gt-abc --status in_progress", "update gt-abc --status in_progress"},
	} {
		args := splitArgs(c.in)
		if got := strings.Join(RedactArgs(args), " "); got != strings.ReplaceAll(c.want, "|", " ") {
			t.Errorf("RedactArgs(%q)\n got %q\nwant %q", args, got, strings.ReplaceAll(c.want, "|", " "))
		}
	}
}

// splitArgs splits on spaces; "|" joins words into one argument.
func splitArgs(s string) []string {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			continue
		}
		out = append(out, strings.ReplaceAll(f, "|", " "))
	}
	return out
}

func TestSubcommandGlobalFlags(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"create x", "create"},
		{"--db /tmp/x list", "list"},
		{"--json show gt-1", "show"},
		{"", ""},
		{"--version", ""},
		{"--actor=me ready", "ready"},
		{"--actor me ready", "ready"},
		{"--api-key " + anthropicKey + " create y", "create"},
		{"--api-key=" + anthropicKey + " create y", "create"},
		{anthropicKey + " create y", ""},
		{"--token hunter2 create y", "create"},
		{"--sandbox list", "list"},
		{"--no-daemon ready", "ready"},
		{"-q close gt-1", "close"},
		{"--quiet --json -v mol wisp f", "mol"},
		{"--lock-timeout 5s list", "list"},
		{"--dolt-auto-commit on create x", "create"},
		{"--readonly --profile list", "list"},
		{"--unknown value create x", "create"},
		{"--newbool create x", "create"},
		{"--newbool " + ghpToken, ""},
		{"--unknown " + ghpToken + " create", "create"},
		{"GITHUB_TOKEN=" + ghpToken + " list", ""},
		{"Create x", ""},
		{"postgres://u:pw@h/db list", ""},
		{"a1b2c3d4e5 list", ""},
		{"-- create", ""},
		{"rename-prefix gt", "rename-prefix"},
		{"nosuchcmd", "nosuchcmd"},
		{"--db", ""},
	} {
		if got := Subcommand(splitArgs(c.in)); got != c.want {
			t.Errorf("Subcommand(%q) = %q want %q", c.in, got, c.want)
		}
	}
}

func TestPositionalsGlobalFlags(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--api-key " + anthropicKey + " create y", "create y"},
		{"--db /x mol wisp mol-patrol --var target=rig", "mol wisp mol-patrol"},
		{"list -n 5 --status open", "list"},
		{"list -r -w", "list"},
		{"create x --token abc123 y", "create x y"},
		{"mail send --to mayor -s hi body", "mail send body"},
		{"--verbose sling gt-a prod", "sling gt-a prod"},
		{"create -- --x", "create --x"},
	} {
		if got := strings.Join(positionals(splitArgs(c.in)), " "); got != c.want {
			t.Errorf("positionals(%q) = %q want %q", c.in, got, c.want)
		}
	}
}

func TestSecretKey(t *testing.T) {
	yes := []string{"token", "TOKEN", "GITHUB_TOKEN", "api-key", "apikey", "API_KEY", "x-api-key", "password", "passwd",
		"PGPASSWORD", "secret", "client_secret", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "auth", "oauth", "basic_auth",
		"credential", "credentials", "private-key", "private_key", "access-key", "Authorization", "session_token", "apiKey", "accessToken"}
	no := []string{"author", "authority", "authored_by", "tokens", "input_tokens", "max_tokens", "token_count", "tokenizer",
		"token-file", "password_file", "auth_type", "priority", "status", "title", "id", "key", "db", "actor", "target"}
	for _, k := range yes {
		if !secretKey(k) {
			t.Errorf("secretKey(%q) = false", k)
		}
	}
	for _, k := range no {
		if secretKey(k) {
			t.Errorf("secretKey(%q) = true", k)
		}
	}
}

// StripANSI's scanner removes exactly what the former regexp removed.
func TestStripANSIMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]`)
	for _, s := range []string{
		"plain", "\x1b[1mbold\x1b[0m", "\x1b[38;2;230;180;80m● P2\x1b[m", "\x1b]11;?\x07\x1b[c", "\x1b]0;title\x1b\\x",
		"\x1b[", "\x1b", "a\x1b[12", "\x1bPdcs\x1b\\y", "\x1bM", "\x1b]no end", "\x1b]a\x1bb", "\x1b_apc\x1b", "\x1b[?25l\x1b[2J\r\n",
		"\x1b[1;2 q", "\x1b(B", "x\x1b\x1b[0m",
	} {
		want := strings.ReplaceAll(re.ReplaceAllString(s, ""), "\r", "")
		if got := StripANSI(s); got != want {
			t.Errorf("StripANSI(%q) = %q want %q", s, got, want)
		}
	}
}

func FuzzRedactText(f *testing.F) {
	f.Add("token: " + ghpToken)
	f.Add("\x1b[1mAuthorization:\x1b[0m Bearer xyz")
	f.Add("-----BEGIN PRIVATE KEY-----\nabc")
	f.Add(`{"password": "a\"b"}`)
	f.Fuzz(func(t *testing.T, s string) {
		r := RedactText(s)
		if RedactText(r) != r {
			t.Fatalf("not idempotent: %q → %q → %q", s, r, RedactText(r))
		}
		RedactArgs(strings.Fields(s))
		Subcommand(strings.Fields(s))
	})
}

// A typical bd output of about 2 KB: list, show and a JSON object.
func typicalOutput() string {
	var b strings.Builder
	for b.Len() < 2048 {
		b.WriteString("○ gt-ehp ● P2 Fix login\n├── ○ gt-ehp.1 ● P2 Child task\n└── ○ gt-ehp.2 ● P2 Child json\n◐ gt-l2t ● P2 X\n\n")
		b.WriteString(strings.Repeat("-", 80) + "\nTotal: 5 issues (4 open, 1 in progress)\n\nStatus: ○ open  ◐ in_progress  ● blocked  ✓ closed  ❄ deferred\n")
		b.WriteString("{\n  \"created_at\": \"2026-11-25T01:56:44.379005232Z\",\n  \"created_by\": \"Test User\",\n  \"id\": \"gt-9cc\",\n  \"owner\": \"t@example.com\",\n  \"priority\": 2\n}\n")
	}
	return b.String()
}

func BenchmarkRedactText(b *testing.B) {
	s := typicalOutput()
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		RedactText(s)
	}
}

func BenchmarkRedactTextWithSecrets(b *testing.B) {
	s := typicalOutput() + "Authorization: Bearer " + jwt + "\ntoken: " + ghpToken + "\n"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		RedactText(s)
	}
}

func BenchmarkRedactArgs(b *testing.B) {
	args := splitArgs("--db /home/u/.beads create Fix|the|login --parent gt-ehp --priority 2 --token=abc123 --json")
	b.ReportAllocs()
	for b.Loop() {
		RedactArgs(args)
	}
}

func BenchmarkSubcommand(b *testing.B) {
	args := splitArgs("--db /home/u/.beads --json create Fix|the|login --parent gt-ehp")
	b.ReportAllocs()
	for b.Loop() {
		Subcommand(args)
	}
}

// hasSecretWord's first-letter lists hold exactly secretWords.
func TestSecretWordLists(t *testing.T) {
	n := 0
	for _, l := range [][]string{wordsT, wordsS, wordsP, wordsA, wordsC, wordsEMB} {
		n += len(l)
	}
	if n != len(secretWords) {
		t.Fatalf("%d words in the lists, %d in secretWords", n, len(secretWords))
	}
	for _, w := range secretWords {
		var buf [64]byte
		if !hasSecretWord(lowerKey(&buf, "x_"+w+"_y")) {
			t.Errorf("%q not found", w)
		}
	}
}
