package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// useBlock returns the command lines of README.md's "Use" section, as a
// user copies them (comments dropped).
func useBlock(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join(repo(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Use\n")
	_, block, ok2 := strings.Cut(sec, "```sh\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no ```sh block under ## Use")
	}
	comment := regexp.MustCompile(`\s{2,}#.*$`)
	var out []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(comment.ReplaceAllString(l, "")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// The README's "Use" section, followed verbatim against the servers make up
// starts: every command exits 0 and the run it recorded is in the backends.
func TestReadmeUseVerbatim(t *testing.T) {
	p := freePorts(t, 9)
	defaults := []int{8428, 9428, 4318, 16686, 4317, 14268, 14250, 16685, 14269}
	home, work, stub := t.TempDir(), t.TempDir(), t.TempDir()
	// A stand-in claude (no coding agent here): the README's agent commands
	// run it.
	// An agent reads what is typed to it until its input ends.
	os.WriteFile(filepath.Join(stub, "claude"), []byte("#!/bin/sh\necho claude stand-in \"$@\"\nexec cat\n"), 0o755)
	e := newEnv(t).set("HOME", home, "GT_RUN", "readme-run", "TMUX_TMPDIR", t.TempDir(), "GTRUN_TMUX_SOCKET", "gtrun-readme",
		"PATH", filepath.Dir(gtrunBin)+":"+stub+":"+e2ePath(t))
	for i, k := range []string{"VM_PORT", "VL_PORT", "JAEGER_OTLP_PORT", "JAEGER_UI_PORT", "JAEGER_OTLP_GRPC_PORT",
		"JAEGER_COLLECTOR_HTTP_PORT", "JAEGER_COLLECTOR_GRPC_PORT", "JAEGER_QUERY_GRPC_PORT", "JAEGER_ADMIN_PORT"} {
		e.set("GTRUN_"+k, fmt.Sprint(p[i]))
	}
	// Whatever happens, the servers stop.
	t.Cleanup(func() { sh(t, e, repo(t), "make down") })
	var printed []string
	for _, line := range useBlock(t) {
		switch {
		case strings.HasPrefix(line, "export "):
			// What make up printed, on the README's default ports.
			want := line
			for i := range p {
				want = strings.ReplaceAll(want, fmt.Sprintf(":%d/", defaults[i]), fmt.Sprintf(":%d/", p[i]))
			}
			if !contains(printed, want) {
				t.Fatalf("README says %q; make up printed %q", line, printed)
			}
			k, v, _ := strings.Cut(strings.TrimPrefix(want, "export "), "=")
			e.set(k, v)
		case line == "make down":
			checkReadmeRun(t, e, work) // what the commands recorded, before the servers stop
			sh(t, e, repo(t), line)
		case strings.HasPrefix(line, "make "):
			printed = strings.Split(sh(t, e, repo(t), line), "\n")
		default:
			sh(t, e, work, strings.ReplaceAll(line, "RUN_ID", "readme-run"))
		}
	}
}

// checkReadmeRun: the run the README's commands made is in VictoriaLogs.
func checkReadmeRun(t *testing.T, e *env, work string) {
	vl := &backendtest.VL{URL: strings.TrimSuffix(e.vars["GT_OTEL_LOGS_URL"], "/insert/opentelemetry/v1/logs")}
	vl.Flush(t)
	got := countByMsg(vl.Query(t, `"run.id":="readme-run"`))
	for _, want := range []string{"bd.call", "cmd.call", "sling", "session.start", "session.stop", "prompt.send", "agent.instantiate"} {
		if got[want] == 0 {
			t.Errorf("no %s recorded by the README's commands: %v", want, got)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "gtrun-trace-readme-run.html")); err != nil {
		t.Errorf("gtrun trace RUN_ID --html: %v", err)
	}
}

// sh runs one README line as a user's shell would, in dir; it must succeed.
func sh(t *testing.T, e *env, dir, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir, cmd.Env = dir, e.list()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README: %s: %v\n%s", line, err, out)
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if strings.TrimSpace(l) == s {
			return true
		}
	}
	return false
}

// e2ePath is the test environment's PATH (the bd stand-in first).
func e2ePath(t *testing.T) string { return newEnv(t).vars["PATH"] }
