package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
	"github.com/gastown/gtrun/internal/catalog"
)

// Issue 5: every catalog event can be produced by `gtrun emit`, lands in
// VictoriaLogs with its attributes, and moves its counter by exactly one.
func TestEveryCatalogEventLands(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_RUN", "run-catalog",
		"GT_WORK_RIG", "gastown", "GT_WORK_BEAD", "gt-w1")
	names := catalog.Names()
	for _, n := range names {
		ev, _ := catalog.Lookup(n)
		kv := []string{"emit", n}
		for _, f := range ev.Fields {
			switch f.Kind {
			case catalog.Int, catalog.Float:
				kv = append(kv, f.Name+"=7")
			case catalog.Bool:
				kv = append(kv, f.Name+"=true")
			default:
				kv = append(kv, f.Name+"=v-"+strings.ReplaceAll(f.Name, ".", "_"))
			}
		}
		if r := e.run("", kv...); r.code != 0 {
			t.Fatalf("emit %s: %+v", n, r)
		}
	}
	recs := vl.WaitCount(t, `"run.id":="run-catalog"`, len(names), 20*time.Second)
	got := map[string]map[string]string{}
	for _, r := range recs {
		got[r["_msg"]] = r
		if r["gt.work_rig"] != "gastown" || r["gt.work_bead"] != "gt-w1" || r["event_name"] != r["_msg"] {
			t.Errorf("%s: work context/event name missing: %v", r["_msg"], r)
		}
	}
	for _, n := range names {
		r, ok := got[n]
		if !ok {
			t.Errorf("event %s did not land", n)
			continue
		}
		ev, _ := catalog.Lookup(n)
		for _, f := range ev.Fields {
			want := "v-" + strings.ReplaceAll(f.Name, ".", "_")
			if f.Kind == catalog.Int || f.Kind == catalog.Float {
				want = "7"
			} else if f.Kind == catalog.Bool {
				want = "true"
			}
			if r[f.Name] != want {
				t.Errorf("%s.%s = %q want %q", n, f.Name, r[f.Name], want)
			}
		}
		if ev.Counter != "" {
			want := 1.0 // one per record, or by the attribute it counts
			if ev.CounterBy != "" {
				want = 7
			}
			vm.WaitValue(t, `sum(increase(`+ev.Counter+`[1h]))`, want, 20*time.Second)
		}
	}
	vm.WaitValue(t, `sum(increase(gastown.agent.tokens.total[1h]))`, 7+7+7+7, 20*time.Second)
}

func TestEmitUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"emit", "slng", "bead=a", "target=b"}, `unknown event "slng"; did you mean "sling"?`},
		{[]string{"emit", "sling", "bead=a"}, "sling: missing required target=…"},
		{[]string{"emit", "mol.squash", "mol_id=m", "done_steps=two"}, `done_steps="two" is not an integer`},
		{[]string{"emit", "mol.squash", "mol_id=m", "digest_created=maybe"}, "is not a boolean"},
		{[]string{"emit", "nudge", "target"}, `"target" is not KEY=VALUE`},
		{[]string{"emit", "nudge", "target=x", "status=bad"}, "status must be ok or error"},
	} {
		r := e.run("", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d stderr %q, want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// No secret leaves the machine in any event, output included.
func TestSecretsRedactedEverywhere(t *testing.T) {
	vl := backendtest.StartVL(t)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_RUN", "run-secrets", "GT_LOG_BD_OUTPUT", "true")
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "gt"), []byte("#!/bin/sh\necho \"using API_KEY=sk-SECRET-1 and Authorization: Bearer SECRET-2\"\necho \"Error: token=SECRET-3 rejected\" >&2\nexit 0\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "bd"), []byte("#!/bin/sh\necho \"password: SECRET-4\"\necho \"Error: bad --token SECRET-5\" >&2\nexit 1\n"), 0o755)
	e.set("PATH", bin+":"+os.Getenv("PATH"))
	e.run("", "bd", "create", "x", "--token=SECRET-6", "--password", "SECRET-7", "GITHUB_TOKEN=SECRET-8")
	e.run("", "gt", "mail", "send", "--to", "mayor", "-s", "API_KEY=SECRET-9")
	e.run("", "emit", "mail", "operation=send", "msg.body=password=SECRET-10")
	recs := vl.WaitCount(t, `"run.id":="run-secrets"`, 4, 20*time.Second) // bd.call, cmd.call, mail (gt's catalog), mail (emit)
	for _, r := range recs {
		for k, v := range r {
			if strings.Contains(v, "SECRET") {
				t.Errorf("secret leaked in %s.%s = %q", r["_msg"], k, v)
			}
		}
	}
	for _, r := range recs {
		if r["_msg"] == "bd.call" && (!strings.Contains(r["stdout"], "[REDACTED]") || !strings.Contains(r["args"], "--token=[REDACTED]")) {
			t.Errorf("bd.call not redacted as expected: %v", r)
		}
	}
}

// A user rule file turns an ad-hoc command's output line into an event.
func TestCustomRuleFileEndToEnd(t *testing.T) {
	vm, vl := backendtest.StartBoth(t)
	cfg := t.TempDir()
	os.MkdirAll(filepath.Join(cfg, "gtrun"), 0o700)
	os.WriteFile(filepath.Join(cfg, "gtrun", "rules.toml"), []byte(`
[[rule]]
name = "deploy"
command = "deploy"
lines = ['^deployed (?P<bead>gt-[a-z0-9]+) to (?P<target>\S+)$']
event = "sling"
attrs = { bead = "$bead", target = "$target" }
`), 0o600)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "deploy"), []byte("#!/bin/sh\necho building\necho deployed gt-a1b to prod-1\n"), 0o755)
	e := newEnv(t).set("GT_OTEL_LOGS_URL", vl.OTLPURL, "GT_OTEL_METRICS_URL", vm.OTLPURL, "GT_RUN", "run-rule",
		"XDG_CONFIG_HOME", cfg, "PATH", bin+":"+os.Getenv("PATH"))
	r := e.run("", "deploy")
	if r.code != 0 || r.stdout != "building\ndeployed gt-a1b to prod-1\n" {
		t.Fatalf("%+v", r)
	}
	recs := vl.WaitCount(t, `_msg:"sling" AND "run.id":="run-rule"`, 1, 20*time.Second)
	if recs[0]["bead"] != "gt-a1b" || recs[0]["target"] != "prod-1" {
		t.Fatalf("%v", recs[0])
	}
	vm.WaitValue(t, `sum(increase(gastown.sling.dispatches.total[1h]))`, 1, 20*time.Second)
	// A broken rule file: clear error naming file and line, command still runs.
	os.WriteFile(filepath.Join(cfg, "gtrun", "rules.toml"), []byte("[[rule]]\nname = \"bad\"\ncommand = \"deploy\"\nevent = \"slingg\"\nattrs = {}\n"), 0o600)
	r = e.run("", "deploy")
	if r.code != 0 || !strings.Contains(r.stdout, "deployed") || !strings.Contains(r.stderr, `rules.toml:1: rule "bad": unknown event "slingg"`) {
		t.Fatalf("%+v", r)
	}
}
