package parse

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gastown/gtrun/internal/event"
)

// Exact bytes of bd 1.0.5 (shared/bd-output-formats.md).
const (
	bdCreateHuman  = "✓ Created issue: gt-ehp — Fix login\n  Priority: P2\n  Status: open\n"
	bdCreateChild  = "✓ Created issue: gt-ehp.1 — Child task\n  Priority: P2\n  Status: open\n"
	bdCreateSilent = "gt-l2t\n"
	bdCreateJSON   = "{\n  \"created_at\": \"2026-11-25T01:56:44.379005232Z\",\n  \"created_by\": \"Test User\",\n  \"id\": \"gt-9cc\",\n  \"issue_type\": \"task\",\n  \"owner\": \"t@example.com\",\n  \"priority\": 2,\n  \"schema_version\": 1,\n  \"status\": \"open\",\n  \"title\": \"Y\",\n  \"updated_at\": \"2026-11-25T01:56:44.379005232Z\"\n}\n"
	bdWispHuman    = "✓ Created wisp: 3 issues\n  Root issue: gt-wisp-9hx\n  Phase: vapor (ephemeral, not synced via git)\n\nNext steps:\n  bd close gt-wisp-9hx.<step>       # Complete steps\n  bd mol squash gt-wisp-9hx         # Condense to digest (promotes to persistent)\n  bd mol burn gt-wisp-9hx           # Discard without creating digest\n"
	bdWispJSON     = "{\n  \"created\": 3,\n  \"id_mapping\": {\n    \"mol-patrol\": \"gt-wisp-pme\",\n    \"mol-patrol.report\": \"gt-wisp-pkq\",\n    \"mol-patrol.scan\": \"gt-wisp-tm5\"\n  },\n  \"new_epic_id\": \"gt-wisp-pme\",\n  \"phase\": \"vapor\",\n  \"schema_version\": 1\n}\n"
	bdSquash       = "✓ Squashed molecule: 2 children → 1 digest\n  Digest ID: gt-ne8\n  Deleted: 2 wisps\n  Root auto-closed: gt-wisp-9hx\n"
	bdBurnJSON     = "{\n  \"deleted_count\": 3,\n  \"deleted_ids\": [\n    \"gt-wisp-pme\",\n    \"gt-wisp-pkq\",\n    \"gt-wisp-tm5\"\n  ],\n  \"molecule_id\": \"gt-wisp-pme\",\n  \"schema_version\": 1\n}\n"
	bdErrJSON      = "{\n  \"error\": \"resolving ID nonexistent-id: no issue found matching \\\"nonexistent-id\\\"\",\n  \"schema_version\": 1\n}\n"
	bdList         = "○ gt-ehp ● P2 Fix login\n├── ○ gt-ehp.1 ● P2 Child task\n◐ gt-l2t ● P2 X\n\n--------------------------------------------------------------------------------\nTotal: 5 issues (4 open, 1 in progress)\n"
)

func args(s string) []string { return strings.Fields(s) }

// summary renders records for comparison: name status attrs… [error].
func summary(recs []event.Record) string {
	var parts []string
	for _, r := range recs {
		s := r.Name + " " + r.Status()
		for _, a := range r.Attrs {
			s += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		}
		if r.Err != "" {
			s += " err=" + r.Err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n")
}

func TestDefaultRules(t *testing.T) {
	pty, err := os.ReadFile("testdata/rules/bd-create-pty.bytes")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call Call
		want string
	}{
		{"create human", Call{Command: "bd", Args: args("create Fix login"), Stdout: []byte(bdCreateHuman)}, ""},
		{"create child human", Call{Command: "bd", Args: []string{"create", "Child task", "--parent", "gt-ehp"}, Stdout: []byte(bdCreateChild)}, ""},
		{"create silent", Call{Command: "bd", Args: args("create X --silent"), Stdout: []byte(bdCreateSilent)}, ""},
		{"q", Call{Command: "bd", Args: args("q X"), Stdout: []byte(bdCreateSilent)}, ""},
		{"create json", Call{Command: "bd", Args: args("create Y --json"), Stdout: []byte(bdCreateJSON)}, ""},
		{"create on a pty (OSC queries, colour, CRLF)", Call{Command: "bd", Args: args("create Fix login"), Combined: pty}, ""},
		{"create dotted child silent", Call{Command: "bd", Args: args("create c --silent"), Stdout: []byte("gt-ehp.3\n")}, ""},
		{"create error on stderr", Call{Command: "bd", Args: args("create"), ExitCode: 1, Stderr: []byte("Error: title required (or use --file to create from markdown)\n")}, ""},
		{"create json error on stderr", Call{Command: "bd", Args: args("create --json"), ExitCode: 1, Stderr: []byte("{\n  \"error\": \"title required\",\n  \"schema_version\": 1\n}\n")}, ""},
		{"wisp human", Call{Command: "bd", Args: args("mol wisp mol-patrol --var target=rig"), Stdout: []byte(bdWispHuman)}, ""},
		{"wisp json", Call{Command: "bd", Args: args("mol wisp mol-patrol --json"), Stdout: []byte(bdWispJSON)}, ""},
		{"squash", Call{Command: "bd", Args: args("mol squash gt-wisp-9hx"), Stdout: []byte(bdSquash)},
			"mol.squash ok mol_id=gt-wisp-9hx done_steps=2 total_steps=2 digest_created=true"},
		{"squash no digest", Call{Command: "bd", Args: args("mol squash gt-wisp-9hx --no-digest"), Stdout: []byte(bdSquash)},
			"mol.squash ok mol_id=gt-wisp-9hx done_steps=2 total_steps=2 digest_created=false"},
		{"burn json", Call{Command: "bd", Args: args("mol burn gt-wisp-pme --json"), Stdout: []byte(bdBurnJSON)},
			"mol.burn ok mol_id=gt-wisp-pme children_closed=3"},
		{"burn canceled", Call{Command: "bd", Args: args("mol burn gt-wisp-pme"), Stdout: []byte("Continue? [y/N] Canceled.\n")}, ""},
		{"cook", Call{Command: "bd", Args: args("cook mol-patrol")}, ""},
		{"close json error on stdout: no bead event", Call{Command: "bd", Args: args("close nonexistent-id --json"), ExitCode: 1, Stdout: []byte(bdErrJSON)}, ""},
		{"list: nothing", Call{Command: "bd", Args: args("list"), Stdout: []byte(bdList)}, ""},
		{"create with garbage output", Call{Command: "bd", Args: args("create x"), Stdout: []byte("\x00\xff✓ Created\n{{{")}, ""},
		{"create json malformed", Call{Command: "bd", Args: args("create x --json"), Stdout: []byte("{\"id\": ")}, ""},
		// gt's catalog (gtevents.go) on gt's real syntax; the corpus test
		// (TestGtCatalogMatchesRealGt) holds the rest.
		{"gt sling", Call{Command: "gt", Args: args("sling gt-abc gastown")}, "sling ok bead=gt-abc target=gastown"},
		{"gt sling failed", Call{Command: "gt", Args: args("sling gt-abc Toast"), ExitCode: 1, Stderr: []byte("Error: no such polecat\n")}, "sling error bead=gt-abc target=Toast err=no such polecat"},
		{"gt nudge", Call{Command: "gt", Args: args("nudge -f mayor hello")}, "nudge ok target=mayor"},
		{"gt done default", Call{Command: "gt", Args: args("done")}, "done ok exit_type=COMPLETED"},
		{"gt done escalated", Call{Command: "gt", Args: args("done --status escalated")}, "done ok exit_type=ESCALATED"},
		{"gt done --exit: cobra rejects it", Call{Command: "gt", Args: args("done --exit ESCALATED"), ExitCode: 1, Stderr: []byte("Error: unknown flag: --exit\n")}, ""},
		{"gt mail send", Call{Command: "gt", Args: []string{"mail", "send", "--to", "mayor/", "-s", "status report"}}, "mail ok operation=send msg.from=overseer msg.to=mayor/ msg.subject=status report msg.priority=normal msg.type=notification"},
		{"gt mail read: no event", Call{Command: "gt", Args: args("mail read m-42")}, ""},
		{"gt mail archive", Call{Command: "gt", Args: args("mail archive m-42 m-43")}, "mail ok operation=read msg.id=m-42 msg.to=overseer\nmail ok operation=read msg.id=m-43 msg.to=overseer"},
		{"gt prime", Call{Command: "gt", Args: args("prime --hook")}, "prime ok role= hook_mode=true"},
		{"gt polecat add", Call{Command: "gt", Args: args("polecat add demo Toast")}, "polecat.spawn ok name=Toast"},
		{"gt polecat remove", Call{Command: "gt", Args: args("polecat remove demo/Toast"), Stdout: []byte("Removing polecat demo/Toast...\n  ✓ removed\n")}, "polecat.remove ok name=Toast"},
		{"gt convoy create: gt emits none", Call{Command: "gt", Args: args("convoy create gt-cv1")}, ""},
		{"bd mol cook: bd has no such command", Call{Command: "bd", Args: args("mol cook mol-x"), Stdout: []byte("Usage:\n  bd mol [command]\n")}, ""},
		{"other command", Call{Command: "ls", Args: args("-la")}, ""},
	}
	rs := DefaultRules()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := summary(rs.Events(c.call))
			if got != c.want {
				t.Fatalf("got\n  %s\nwant\n  %s", got, c.want)
			}
		})
	}
	if !rs.WantsOutput("bd", []string{"mol", "squash", "x"}) || rs.WantsOutput("ls", nil) {
		t.Fatal("WantsOutput: bd mol squash needs capture, ls does not")
	}
}

func TestTypedValues(t *testing.T) {
	recs := DefaultRules().Events(Call{Command: "bd", Args: args("mol squash gt-wisp-9hx"), Stdout: []byte(bdSquash)})
	if _, ok := recs[0].Get("done_steps").(int64); !ok {
		t.Fatalf("done_steps is %T", recs[0].Get("done_steps"))
	}
	if _, ok := recs[0].Get("digest_created").(bool); !ok {
		t.Fatalf("digest_created is %T", recs[0].Get("digest_created"))
	}
}

func TestUserRules(t *testing.T) {
	user := `
[[rule]]
name = "deploy.done"
command = "deploy.sh"
lines = ['^deployed (?P<bead>gt-[a-z0-9]+) to (?P<target>\S+)$']
event = "sling"
attrs = { bead = "$bead", target = "$target" }

[[rule]]
name = "bd.mol.burn.json"   # overrides the default of the same name
command = "bd"
args = ["mol", "burn"]
flag = "--json"
json = true
event = "mol.burn"
attrs = { mol_id = "'everything'" }
`
	u, err := LoadRules("rules.toml", []byte(user))
	if err != nil {
		t.Fatal(err)
	}
	rs := DefaultRules().Merge(u)
	got := summary(rs.Events(Call{Command: "deploy.sh", Stdout: []byte("building\ndeployed gt-a1b to prod-1\n")}))
	if got != "sling ok bead=gt-a1b target=prod-1" {
		t.Fatalf("user rule: %q", got)
	}
	if got := summary(rs.Events(Call{Command: "bd", Args: args("mol burn m --json"), Stdout: []byte(bdBurnJSON)})); got != "mol.burn ok mol_id=everything" {
		t.Fatalf("override: %q", got)
	}
	if len(rs.Rules()) != len(DefaultRules().Rules())+1 {
		t.Fatalf("merge: %d rules", len(rs.Rules()))
	}
	if !rs.WantsOutput("deploy.sh", nil) {
		t.Fatal("user rule output not captured")
	}
}

func TestBrokenRuleFiles(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"toml syntax", "[[rule]]\nname = \"x\"\ncommand = \n", "my.toml:3:"},
		{"bad regexp", "[[rule]]\nname = \"r1\"\ncommand = \"x\"\nevent = \"nudge\"\nlines = ['(']\nattrs = { target = \"'a'\" }\n", `my.toml:1: rule "r1": bad regexp`},
		{"unknown event", "\n[[rule]]\nname = \"r2\"\ncommand = \"x\"\nevent = \"nudg\"\nattrs = {}\n", `my.toml:2: rule "r2": unknown event "nudg" (did you mean "nudge"?)`},
		{"unknown attr", "[[rule]]\nname = \"r3\"\ncommand = \"x\"\nevent = \"nudge\"\nattrs = { target = \"$1\", color = \"'red'\" }\n", `rule "r3": event nudge has no attribute "color"`},
		{"missing required", "[[rule]]\nname = \"r4\"\ncommand = \"x\"\nevent = \"sling\"\nattrs = { bead = \"$1\" }\n", `rule "r4": event sling needs attribute "target"`},
		{"bad expression", "[[rule]]\nname = \"r5\"\ncommand = \"x\"\nevent = \"nudge\"\nattrs = { target = \"oops\" }\n", `rule "r5": attrs.target: bad expression "oops"`},
		{"unknown key", "[[rule]]\nname = \"r6\"\ncommand = \"x\"\nevent = \"nudge\"\ncolour = 1\nattrs = { target = \"$1\" }\n", `unknown key "rule.colour"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadRules("my.toml", []byte(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestSubcommand(t *testing.T) {
	for in, want := range map[string]string{
		"create x": "create", "--db /tmp/x list": "list", "--json show gt-1": "show", "": "", "--version": "", "--actor=me ready": "ready",
	} {
		if got := Subcommand(args(in)); got != want {
			t.Errorf("Subcommand(%q) = %q want %q", in, got, want)
		}
	}
}

func TestRedaction(t *testing.T) {
	got := strings.Join(RedactArgs([]string{"create", "--token=abc123", "--password", "hunter2", "API_KEY=sk-1", "GITHUB_TOKEN=ghp_x", "title", "--title", "my token story", "PATH=/bin"}), " ")
	want := "create --token=[REDACTED] --password [REDACTED] API_KEY=[REDACTED] GITHUB_TOKEN=[REDACTED] title --title my token story PATH=/bin"
	if got != want {
		t.Fatalf("args:\n%s\n%s", got, want)
	}
	for in, want := range map[string]string{
		"Authorization: Bearer abc.def":    "Authorization: Bearer [REDACTED]",
		"export API_KEY=sk-live-1 && run":  "export API_KEY=[REDACTED] && run",
		`{"password": "hunter2", "ok": 1}`: `{"password": "[REDACTED]", "ok": 1}`,
		"curl --api-key s3cr3t http://x":   "curl --api-key [REDACTED] http://x",
		"nothing secret here: gt-abc done": "nothing secret here: gt-abc done",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q) = %q want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := TruncateBytes("héllo", 2); got != "h…" {
		t.Fatalf("%q", got)
	}
	if got := TruncateBytes("héllo", 3); got != "hé…" {
		t.Fatalf("%q", got)
	}
	if got := TruncateBytes("abc", 3); got != "abc" {
		t.Fatalf("%q", got)
	}
}

func FuzzEvents(f *testing.F) {
	f.Add("create x --json", bdCreateJSON, 0)
	f.Add("mol wisp f", bdWispHuman, 0)
	f.Add("close x", "Error: x", 1)
	f.Fuzz(func(t *testing.T, a, out string, code int) {
		DefaultRules().Events(Call{Command: "bd", Args: strings.Fields(a), ExitCode: code, Stdout: []byte(out), Stderr: []byte(out), Combined: []byte(out)})
		DefaultRules().Events(Call{Command: "gt", Args: strings.Fields(a), ExitCode: code})
	})
}

// Only the calls some rule reads are captured: the others inherit the
// user's terminal (issue: the terminal is the user's).
func TestWantsOutputPerSubcommand(t *testing.T) {
	rs := DefaultRules()
	for _, c := range []struct {
		cmd, args string
		want      bool
	}{
		{"bd", "create x", false}, {"bd", "--db /x mol squash y", true}, {"bd", "q x", false},
		{"bd", "mol wisp f", false}, {"bd", "mol burn m --json", true},
		{"gt", "done --exit x", false}, {"gt", "mail read x", false}, {"gt", "nudge t", true},
		{"bd", "list", false}, {"bd", "show gt-abc", false}, {"bd", "", false},
		{"gt", "sling gt-abc x", true}, {"ls", "-la", false},
	} {
		if got := rs.WantsOutput(c.cmd, strings.Fields(c.args)); got != c.want {
			t.Errorf("%s %s: WantsOutput %v, want %v", c.cmd, c.args, got, c.want)
		}
	}
}
