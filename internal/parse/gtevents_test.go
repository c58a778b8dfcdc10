package parse

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gastown/gtrun/internal/gtcorpus"
)

// The corpus in testdata/gastown-real is ../shared/gastown-real of a real
// town's run (gastown a8bd79bf, bd v1.0.0; licenses beside it): every gt
// and bd process with argv, environment, exit code and output, and every
// record real gt emitted itself.

func corpus[T any](t *testing.T, name string) []T {
	t.Helper()
	out, err := gtcorpus.Lines[T]("testdata/gastown-real/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gtKeys are the attributes compared per event: what identifies the fact.
// msg.id/msg.thread_id of a send are made by gt and never printed.
var gtKeys = map[string][]string{
	"sling": {"bead", "target"}, "nudge": {"target"}, "done": {"exit_type"},
	"mail":  {"operation", "msg.to", "msg.from", "msg.subject", "msg.priority", "msg.type", "msg.id"},
	"prime": {"role", "hook_mode"}, "polecat.spawn": {"name"}, "polecat.remove": {"name"},
	"convoy.create": {"bead_id"}, "formula.instantiate": {"formula_name", "bead_id"},
	"mol.cook": {"formula_name"}, "mol.wisp": {"formula_name", "wisp_root_id", "bead_id"},
}

// notFromOutside are the events real gt emits that argv, output and exit
// status do not show (docs/rules.md says why); they come from gt's own
// telemetry through the receiver.
var notFromOutside = map[string]bool{"bd.call": true, "agent.state_change": true, "agent.instantiate": true, "session.stop": true}

func gtKey(name string, get func(string) string, status, errText string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%s", name, status)
	for _, k := range gtKeys[name] {
		if name == "mail" && k == "msg.id" && get("operation") == "send" {
			continue
		}
		fmt.Fprintf(&b, " %s=%q", k, get(k))
	}
	if errText != "" {
		fmt.Fprintf(&b, " error=%q", errText)
	}
	return b.String()
}

// TestGtCatalogMatchesRealGt replays every gt process of the real run
// through the catalog and compares, run by run and event by event, with
// what real gt emitted itself.
func TestGtCatalogMatchesRealGt(t *testing.T) {
	calls := corpus[gtcorpus.Call](t, "calls.jsonl")
	got := map[string][]string{}
	for _, c := range calls {
		if c.Prog != "gt" {
			continue
		}
		env := c.Env
		recs := GtEvents(Call{Command: "gt", Args: c.Argv, ExitCode: c.ExitCode,
			Stdout: gtcorpus.Stream(c.Stdout), Stderr: gtcorpus.Stream(c.Stderr)}, func(k string) string { return env[k] })
		for _, r := range recs {
			got[env["GT_RUN"]] = append(got[env["GT_RUN"]], gtKey(r.Name, r.GetString, r.Status(), r.Err))
		}
	}
	want := map[string][]string{}
	kinds := map[string]int{}
	for _, e := range corpus[map[string]string](t, "gt-events.jsonl") {
		name := e["_msg"]
		if notFromOutside[name] || name == "mail" && strings.HasPrefix(e["operation"], "bd.") {
			continue
		}
		kinds[name]++
		want[e["run.id"]] = append(want[e["run.id"]], gtKey(name, func(k string) string { return e[k] }, e["status"], e["error"]))
	}
	if len(kinds) < 10 {
		t.Fatalf("corpus: only %d event kinds to compare: %v", len(kinds), kinds)
	}
	for run := range union(got, want) {
		g, w := got[run], want[run]
		sort.Strings(g)
		sort.Strings(w)
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("run %s:\n got: %s\nwant: %s", run, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
		}
	}
	t.Logf("compared %v", kinds)
}

func union(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestGtArgvLikeCobra(t *testing.T) {
	for _, tc := range []struct {
		argv string
		want string // canonical path, "" when cobra rejects it or it emits nothing
		args string
	}{
		{"sling dm-1 demo --no-boot", "sling", "dm-1 demo"},
		{"sli dm-1 demo --dry-run", "sling", "dm-1 demo"},
		{"s dm-1", "", ""}, // ambiguous prefix: sling, session, status, …
		{"sling -n dm-1 demo", "sling", "dm-1 demo"},
		{"sling dm-1 --args patch", "sling", "dm-1"},
		{"sling --target x dm-1", "", ""}, // no such flag
		{"sling", "", ""},                 // MinimumNArgs(1)
		{"nudge -f demo/Toast msg", "nudge", "demo/Toast msg"},
		{"nudge --mode queue demo/Toast msg", "nudge", "demo/Toast msg"},
		{"nudge a b c", "", ""},
		{"done --exit COMPLETED", "", ""},
		{"done --status deferred", "done", ""},
		{"mail send mayor/ -m x", "", ""}, // required flag "subject"
		{"mail send -n mayor/ -s s -m y", "mail send", "mayor/"},
		{"mail send -s x -- -weird", "mail send", "-weird"},
		{"mail send -sSUBJ mayor/", "mail send", "mayor/"},
		{"mail sen -s x a", "mail send", "a"},
		{"mail read x", "", ""},
		{"mol cook f", "", ""},
		{"polecats add demo Toast", "polecat add", "demo Toast"},
		{"polecat add demo", "", ""},
		{"convoy create x y", "", ""},
		{"prime --hook", "prime", ""},
		{"prime --role x", "", ""},
	} {
		a := gtResolve(strings.Fields(tc.argv))
		got, args := "", ""
		if a != nil {
			got, args = strings.Join(a.path, " "), strings.Join(a.args, " ")
		}
		if got != tc.want || args != tc.args {
			t.Errorf("gt %s: got %q args %q, want %q args %q", tc.argv, got, args, tc.want, tc.args)
		}
	}
}

func TestGtNothingForCobraRejection(t *testing.T) {
	// A flag table older than the gt that ran: gt's own usage error decides.
	c := Call{Command: "gt", Args: []string{"nudge", "t"}, ExitCode: 1,
		Stderr: []byte("Error: unknown flag: --new-flag\nUsage:\n  gt nudge <target> [message] [flags]\n")}
	if recs := GtEvents(c, nil); len(recs) != 0 {
		t.Fatalf("cobra rejection produced %v", recs)
	}
	c.Stderr = []byte("Error: session \"dm-t\" not found\nUsage:\n")
	recs := GtEvents(c, nil)
	if len(recs) != 1 || recs[0].Err != `session "dm-t" not found` {
		t.Fatalf("RunE error: %+v", recs)
	}
}

func TestGtMailFanOut(t *testing.T) {
	c := Call{Command: "gt", Args: []string{"mail", "send", "a/", "--cc", "b/", "--cc", "c/", "-s", "s", "--urgent"}}
	env := map[string]string{"GT_ROLE": "polecat", "GT_RIG": "demo", "GT_POLECAT": "rust"}
	recs := GtEvents(c, func(k string) string { return env[k] })
	var to []string
	for _, r := range recs {
		to = append(to, r.GetString("msg.to"))
		if r.GetString("msg.from") != "demo/rust" || r.GetString("msg.priority") != "urgent" {
			t.Errorf("record %v", r.Attrs)
		}
	}
	if strings.Join(to, ",") != "a/,b/,c/" {
		t.Fatalf("recipients %v", to)
	}
}
