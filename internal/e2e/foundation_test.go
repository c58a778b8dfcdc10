package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// Issue 3: 5 wrapped bd calls, 2 failing, land as 5 bd.call records with
// the right attributes and run id, and the counters read back exactly.
func TestBDCallsLandInBothBackends(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL,
		"GT_RUN", "run-foundation-1", "GT_ROLE", "polecat", "GT_WORK_BEAD", "gt-w0rk")
	calls := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"bd", "create", "Fix login"}, 0, "✓ Created issue: "},
		{[]string{"bd", "create", "Second", "--silent"}, 0, "gt-"},
		{[]string{"bd", "list"}, 0, "Total: 4 issues"},
		{[]string{"bd", "close", "gt-nope"}, 1, ""},
		{[]string{"bd", "nosuchcmd"}, 1, ""},
	}
	for _, c := range calls {
		r := e.run("", c.args...)
		if r.code != c.code || !strings.Contains(r.stdout, c.out) {
			t.Fatalf("%v: exit %d stdout %q stderr %q", c.args, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "gtrun:") {
			t.Fatalf("%v: gtrun wrote to stderr: %q", c.args, r.stderr)
		}
	}
	recs := vl.WaitCount(t, `_msg:"bd.call" AND "run.id":="run-foundation-1"`, 5, 20*time.Second)
	bySub := map[string]map[string]string{}
	for _, r := range recs {
		bySub[r["subcommand"]] = r
		if r["gt.work_bead"] != "gt-w0rk" || r["service.name"] != "gtrun" || r["gt.role"] != "polecat" {
			t.Errorf("context missing: %v", r)
		}
		if r["duration_ms"] == "" || r["max_rss_kb"] == "" {
			t.Errorf("cost missing: %v", r)
		}
	}
	// No rule reads `bd close`: it ran on the user's terminal itself, so
	// its failure is its exit status.
	if r := bySub["close"]; r["status"] != "error" || r["exit_code"] != "1" || r["severity_text"] != "ERROR" ||
		r["error"] != "exit status 1" || r["args"] != "close gt-nope" {
		t.Errorf("failing close: %v", r)
	}
	if r := bySub["create"]; r["status"] != "ok" || r["exit_code"] != "0" || r["error"] != "" || r["severity_text"] != "INFO" {
		t.Errorf("create: %v", r)
	}
	if r := bySub["nosuchcmd"]; r["status"] != "error" {
		t.Errorf("unknown command: %v", r)
	}
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total[10m]))`, 5, 20*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total{status="error"}[10m]))`, 2, 5*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.calls.total{status="ok"}[10m]))`, 3, 5*time.Second)
	vm.WaitValue(t, `sum(increase(gastown.bd.duration_ms_count[10m]))`, 5, 5*time.Second)
	// A bd.call never gets a per-run label.
	for _, s := range vm.Query(t, `gastown.bd.calls.total`) {
		for k := range s.Labels {
			if strings.Contains(k, "run") {
				t.Errorf("per-run label %q on %v", k, s.Labels)
			}
		}
	}
}

func TestCmdCallAndExitStatus(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_RUN", "run-cmd-1")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"run", "--", "sh", "-c", "exit 255"}, 255},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143},
		{[]string{"gtrun-no-such-binary"}, 127},
	} {
		r := e.run("", c.args...)
		if r.code != c.code {
			t.Fatalf("%v: exit %d want %d (%q)", c.args, r.code, c.code, r.stderr)
		}
		// A child killed by a signal: gtrun dies of it too, as a shell needs.
		if (c.code == 143) != (r.signal == syscall.SIGTERM) {
			t.Fatalf("%v: gtrun ended by signal %v", c.args, r.signal)
		}
	}
	recs := vl.WaitCount(t, `_msg:"cmd.call" AND "run.id":="run-cmd-1"`, 4, 20*time.Second)
	codes := map[string]bool{}
	for _, r := range recs {
		codes[r["command"]+":"+r["exit_code"]] = true
		if r["status"] != "error" {
			t.Errorf("failed call not status=error: %v", r)
		}
	}
	for _, want := range []string{"sh:3", "sh:255", "sh:143", "(unresolved):127"} { // a name that resolved to nothing is no label (issue 21)
		if !codes[want] {
			t.Errorf("missing cmd.call %s in %v", want, codes)
		}
	}
	vm.WaitValue(t, `sum(increase(gastown.cmd.calls.total{command="sh"}[10m]))`, 3, 20*time.Second)
}

// A broken telemetry setup costs one short warning at most and never the
// command's output or status.
func TestBrokenTelemetryNeverFailsTheCommand(t *testing.T) {
	for _, c := range []struct {
		name string
		vars []string
		warn bool
	}{
		{"bad url", []string{"GT_OTEL_LOGS_URL", "::not a url"}, true},
		{"bad scheme", []string{"GT_OTEL_METRICS_URL", "ftp://127.0.0.1/x"}, true},
		{"garbage resource attrs", []string{"OTEL_RESOURCE_ATTRIBUTES", "a=%zz,=,,x"}, true},
		// A backend that is down is the delivery agent's business: the
		// call says nothing about it.
		{"refused", []string{"GT_OTEL_LOGS_URL", backendtest.RefusedURL(t, "/v1/logs")}, false},
		{"black-holed", []string{"GT_OTEL_LOGS_URL", backendtest.BlackHole(t, "/v1/logs")}, false},
		{"disabled", []string{"OTEL_SDK_DISABLED", "true", "GT_OTEL_LOGS_URL", "http://127.0.0.1:1/x"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t).set(c.vars...)
			r := e.run("", "sh", "-c", "printf 'out'; printf 'err' >&2; exit 5")
			if r.code != 5 || r.stdout != "out" {
				t.Fatalf("exit %d stdout %q", r.code, r.stdout)
			}
			extra := strings.TrimPrefix(r.stderr, "err")
			if !strings.HasPrefix(r.stderr, "err") {
				t.Fatalf("child's stderr changed: %q", r.stderr)
			}
			lines := strings.Count(extra, "\n")
			if c.warn && (lines != 1 || !strings.HasPrefix(extra, "gtrun: warning: ")) {
				t.Fatalf("want exactly one warning line, got %q", extra)
			}
			if !c.warn && extra != "" {
				t.Fatalf("want no warning, got %q", extra)
			}
		})
	}
}

func TestStdinAndBytesPassThrough(t *testing.T) {
	e := newEnv(t)
	r := e.run("a\nb", "cat")
	if r.code != 0 || r.stdout != "a\nb" || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	// gtrun's own flags come before CMD; everything after belongs to CMD.
	r = e.run("", "sh", "-c", `printf '%s|' "$@"`, "x", "--help", "--pty")
	if r.stdout != "--help|--pty|" {
		t.Fatalf("args changed: %q", r.stdout)
	}
	r = e.run("", "--no-pty", "sh", "-c", "echo $GT_RUN")
	if len(strings.TrimSpace(r.stdout)) != 36 {
		t.Fatalf("GT_RUN not a UUID: %q", r.stdout)
	}
}

func TestEnvCommand(t *testing.T) {
	e := newEnv(t).set("GT_RUN", "r-env", "GT_ROLE", "mayor", "GT_WORK_RIG", "gastown",
		"OTEL_RESOURCE_ATTRIBUTES", "team=a%2Cb", "GT_OTEL_METRICS_URL", "http://127.0.0.1:8428/opentelemetry/api/v1/push")
	r := e.run("", "env")
	for _, want := range []string{"GT_RUN=r-env\n", "BD_OTEL_METRICS_URL=http://127.0.0.1:8428/opentelemetry/api/v1/push\n",
		"OTEL_RESOURCE_ATTRIBUTES=team=a%2Cb,gt.role=mayor,gt.run_id=r-env,gt.work_rig=gastown\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("env lacks %q:\n%s", want, r.stdout)
		}
	}
}
