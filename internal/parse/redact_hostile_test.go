package parse

import (
	"strings"
	"testing"
)

// Issue 21: forms that leaked (keys cleared by a substring of a harmless
// word, tools' own flags) and flags that ate the next argument.
func TestRedactIssue21Text(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"AWS_SECURITY_TOKEN=FwoGZXIvYXdzEJr", "AWS_SECURITY_TOKEN=[REDACTED]"},
		{"SERVICE_ACCOUNT_TOKEN=abc123xyz", "SERVICE_ACCOUNT_TOKEN=[REDACTED]"},
		{"x --security-token abc123 y", "x --security-token [REDACTED] y"},
		{"X-Amz-Security-Token: IQoJb3JpZ2luX2Vj", "X-Amz-Security-Token: [REDACTED]"},
		{`{"AWS_SECURITY_TOKEN":"FwoGZXIvYXdz"}`, `{"AWS_SECURITY_TOKEN":"[REDACTED]"}`},
		{"$ curl -u alice:Pa55word https://x", "$ curl -u alice:[REDACTED] https://x"},
		{"curl -s --user bob:hunter2 -X POST", "curl -s --user bob:[REDACTED] -X POST"},
		{"curl --user=bob:hunter2 x", "curl --user=bob:[REDACTED] x"},
		{"mysql -u root -pS3cretPw db", "mysql -u root -p[REDACTED] db"},
		{`{"command":"mysql -uroot -pS3cretPw\" x"}`, `{"command":"mysql -uroot -p[REDACTED]\" x"}`},
		{"sshpass -p 'hunter 2' ssh host", "sshpass -p '[REDACTED]' ssh host"},
		{"login --pass hunter2", "login --pass [REDACTED]"},
		{"GET /login?user=bob&pass=hunter2", "GET /login?user=bob&pass=[REDACTED]"},
		// look-alikes stay
		{"mkdir -p /tmp/x && cp -u a b", "mkdir -p /tmp/x && cp -u a b"},
		{"docker run -u 1000:1000 img", "docker run -u 1000:1000 img"},
		{"curl -u alice https://x", "curl -u alice https://x"},
		{"mysql -p db", "mysql -p db"},
		{"pass: 12, fail: 0", "pass: 12, fail: 0"},
		{"--max-tokens 100 --auth-type oauth --author alice", "--max-tokens 100 --auth-type oauth --author alice"},
		{"docker login --password-stdin registry", "docker login --password-stdin registry"},
		{"gh auth login --with-token < f", "gh auth login --with-token < f"},
		{"x --no-auth y --skip-auth z", "x --no-auth y --skip-auth z"},
		{"git --credential-helper store", "git --credential-helper store"},
		{"bypass: 3 passthrough=on", "bypass: 3 passthrough=on"},
	} {
		if got := RedactText(c.in); got != c.want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestRedactIssue21Args(t *testing.T) {
	for _, c := range []struct{ cmd, in, want string }{
		{"curl", "-u alice:PASS1 https://x", "-u alice:[REDACTED] https://x"},
		{"curl", "-ualice:PASS1 https://x", "-ualice:[REDACTED] https://x"},
		{"/usr/bin/curl", "--user alice:PASS1 https://x", "--user alice:[REDACTED] https://x"},
		{"mysql", "-u root -pPASS2 db", "-u root -p[REDACTED] db"},
		{"mysql", "-p db", "-p db"},
		{"mariadb", "--password=PASS3", "--password=[REDACTED]"},
		{"sshpass", "-p PASS4 ssh h", "-p [REDACTED] ssh h"},
		{"sudo", "mysql -pPASS5", "mysql -p[REDACTED]"},
		{"x", "--pass PASS6 y", "--pass [REDACTED] y"},
		{"docker", "login --password-stdin reg", "login --password-stdin reg"},
		{"gh", "auth login --with-token repo", "auth login --with-token repo"},
		{"x", "--no-auth keep --skip-auth keep2 --credential-helper store", "--no-auth keep --skip-auth keep2 --credential-helper store"},
		{"aws", "--security-token PASS7", "--security-token [REDACTED]"},
		{"mkdir", "-p /tmp/x", "-p /tmp/x"},
		{"git", "commit --author alice -m x", "commit --author alice -m x"},
		{"x", "--max-tokens 100 --auth-type oauth", "--max-tokens 100 --auth-type oauth"},
		{"x", "AWS_SECURITY_TOKEN=PASS8 SERVICE_ACCOUNT_TOKEN=PASS9", "AWS_SECURITY_TOKEN=[REDACTED] SERVICE_ACCOUNT_TOKEN=[REDACTED]"},
	} {
		got := strings.Join(RedactCall(c.cmd, splitArgs(c.in)), " ")
		if got != c.want {
			t.Errorf("RedactCall(%s, %q)\n got %q\nwant %q", c.cmd, c.in, got, c.want)
		}
	}
}

func TestSecretKeyWords(t *testing.T) {
	yes := []string{"AWS_SECURITY_TOKEN", "SERVICE_ACCOUNT_TOKEN", "security-token", "X-Amz-Security-Token", "db.password",
		"api.token", "APIKey", "awsSecretAccessKey", "client.secret", "refresh_token"}
	no := []string{"max-tokens", "maxTokens", "auth-type", "author", "credential-helper", "password-stdin", "token.count",
		"security", "account", "totalTokens", "api.endpoint"}
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

// Issue 21 item 3: args are capped like bd's output.
func TestCallArgsBounded(t *testing.T) {
	big := strings.Repeat("é", 50_000) // 100 KB, 2-byte runes
	args := []string{"--token", "PLaNT-cut-secret"}
	for i := 0; i < 10; i++ {
		args = append(args, big)
	}
	got := CallArgs("x", args, 4096)
	if len(got) > 4096+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "--token [REDACTED] é") {
		t.Fatalf("%d bytes: %q…", len(got), got[:40])
	}
	if !utf8ValidString(got) {
		t.Fatal("cut inside a rune")
	}
	// A secret straddling the cut is redacted before it is cut.
	pad := strings.Repeat("a", 90)
	if got := CallArgs("x", []string{pad, "--password", "PLaNT-straddle-pw-123"}, 100); strings.Contains(got, "PLaNT") {
		t.Fatalf("%q", got)
	}
	if got := CallArgs("x", []string{"list", "--json"}, 0); got != "list --json" {
		t.Fatalf("%q", got)
	}
}

func utf8ValidString(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
