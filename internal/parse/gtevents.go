package parse

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gastown/gtrun/internal/event"
)

// The gt catalog from outside: the events real gt (gastown a8bd79bf,
// internal/telemetry/recorder.go) emits for a command, derived from what a
// wrapper sees — argv, the environment, stdout/stderr and the exit status —
// for a gt whose own telemetry is off. Where gt's own telemetry is on, gt
// reports these facts itself and gtrun records only the process (cmd.call).
// ../shared/gastown-real is the ground truth; TestGtCatalogMatchesRealGt
// replays it. docs/rules.md lists what cannot be seen from outside.

// gtCall is one finished gt call as the catalog sees it.
type gtCall struct {
	argv   *gtArgv
	cc     *callCtx
	getenv func(string) string
}

func (g *gtCall) arg(i int) string {
	if i < len(g.argv.args) {
		return g.argv.args[i]
	}
	return ""
}

// rec builds an event; a failed call's events carry its failure line.
func (g *gtCall) rec(name string, kv ...string) event.Record {
	r := event.Record{Name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Attrs = append(r.Attrs, event.String(kv[i], RedactText(kv[i+1])))
	}
	if g.cc.failed {
		r.Err = strings.TrimPrefix(g.cc.errMessage, "Error: ") // gt records its error's text
	}
	return r
}

// gtTree is gt's command tree, built once.
var gtTree = sync.OnceValue(func() *gtNode {
	mail := &gtNode{name: "mail", children: append(names(
		"announces", "channel", "check", "claim", "clear", "directory|dir|addresses", "drain", "group", "hook",
		"inbox", "mark-read|ack", "mark-unread", "peek", "queue", "read|show", "release", "reply", "search", "thread"),
		mailSend, mailClose("archive", 0, gtFlag{"stale", "", false}, gtFlag{"dry-run", "n", false}),
		mailClose("delete", 1))}
	polecat := &gtNode{name: "polecat", aliases: []string{"polecats"}, children: append(names(
		"check-recovery", "gc", "git-state", "identity|id", "list", "nuke", "pool-init", "prune", "stale", "status"),
		polecatAdd, polecatRemove)}
	session := &gtNode{name: "session", aliases: []string{"sess"}, children: names(
		"at|attach", "capture", "check", "inject", "list", "restart", "start", "status", "stop")}
	root := &gtNode{name: "gt", children: append(names(
		"account", "activity", "agent-log", "agents|ag", "assign", "audit", "bead|bd", "boot", "broadcast", "callbacks",
		"cat", "changelog", "checkpoint", "cleanup", "close", "commit", "compact", "completion", "config", "convoy",
		"costs", "crew", "cycle", "daemon", "dashboard", "deacon|dea", "directive|directives", "disable", "dnd",
		"doctor", "dog|dogs", "dolt", "down", "enable", "escalate", "estop", "feed", "forget", "formula|formulas",
		"git-init", "handoff", "health", "heartbeat", "help", "hook|work", "hooks", "info", "init", "install", "issue",
		"krc", "log", "maintain", "mayor|may", "memories", "metrics", "mol|molecule", "mountain", "mq|mr", "namepool",
		"notify", "nudge-poller", "orphans", "patrol", "peek", "plugin", "proxy-subcmds", "prune-branches", "quota",
		"ready", "reaper", "refinery|ref", "release", "repair", "resume", "rig", "role", "scheduler", "seance", "shell",
		"show", "shutdown", "signal", "stale", "start", "status|stat", "status-line", "synthesis|synth", "tap",
		"thanks", "thaw", "theme", "town", "trail|recent|recap", "uninstall", "unsling|unhook", "up", "upgrade",
		"version", "vitals", "warrant", "whoami", "witness", "wl", "worktree"),
		gtSling, gtNudge, gtDone, gtPrime, mail, polecat, session)}
	return root
})

// sling.go:26, flags :141-165, MinimumNArgs(1) :108. It fires for dry runs
// and for RunE errors too (deferred emit, sling.go:209).
var gtSling = &gtNode{name: "sling", minArgs: 1, maxArgs: -1, flags: []gtFlag{
	{"subject", "s", true}, {"message", "m", true}, {"dry-run", "n", false}, {"on", "", true}, {"var", "", true},
	{"args", "a", true}, {"stdin", "", false}, {"create", "", false}, {"force", "", false}, {"account", "", true},
	{"agent", "", true}, {"no-convoy", "", false}, {"owned", "", false}, {"hook-raw-bead", "", false},
	{"no-merge", "", false}, {"merge", "", true}, {"no-boot", "", false}, {"max-concurrent", "", true},
	{"base-branch", "", true}, {"ralph", "", false}, {"formula", "", true}, {"crew", "", true}, {"review-only", "", false},
}, events: slingEvents}

// nudge.go:63-68, RangeArgs(1, 2) :129.
var gtNudge = &gtNode{name: "nudge", minArgs: 1, maxArgs: 2, flags: []gtFlag{
	{"message", "m", true}, {"force", "f", false}, {"stdin", "", false}, {"if-fresh", "", false},
	{"mode", "", true}, {"priority", "", true},
}, events: func(g *gtCall) []event.Record { return []event.Record{g.rec("nudge", "target", g.arg(0))} }}

// done.go:89-95: --status COMPLETED|ESCALATED|DEFERRED, upper-cased.
var gtDone = &gtNode{name: "done", maxArgs: -1, flags: []gtFlag{
	{"issue", "", true}, {"priority", "p", true}, {"status", "", true}, {"cleanup-status", "", true},
	{"resume", "", false}, {"pre-verified", "", false}, {"target", "", true},
}, events: func(g *gtCall) []event.Record {
	st, ok := g.argv.flag("status")
	if !ok {
		st = "COMPLETED"
	}
	return []event.Record{g.rec("done", "exit_type", strings.ToUpper(st))}
}}

// prime.go:99-107; role is $GT_ROLE verbatim (prime.go:117).
var gtPrime = &gtNode{name: "prime", flags: []gtFlag{
	{"hook", "", false}, {"dry-run", "", false}, {"state", "", false}, {"json", "", false}, {"explain", "", false},
}, events: func(g *gtCall) []event.Record {
	return []event.Record{g.rec("prime", "role", g.getenv("GT_ROLE"), "hook_mode", strconv.FormatBool(g.argv.has("hook")))}
}}

// polecat.go:81, ExactArgs(2): `gt polecat add <rig> <name>`.
var polecatAdd = &gtNode{name: "add", minArgs: 2, maxArgs: 2, events: func(g *gtCall) []event.Record {
	if g.cc.failed {
		return nil // failures before the manager is reached emit nothing: unknowable here
	}
	return []event.Record{g.rec("polecat.spawn", "name", g.arg(1))}
}}

// polecat.go:99, :331-332: one event per polecat removed, from the output.
var polecatRemove = &gtNode{name: "remove", minArgs: 1, maxArgs: -1, flags: []gtFlag{
	{"force", "f", false}, {"all", "", false},
}, events: polecatRemoveEvents}

var polecatRemoveRE = sync.OnceValue(func() [2]*regexp.Regexp {
	return [2]*regexp.Regexp{regexp.MustCompile(`^Removing polecat (\S+?)\.\.\.$`), regexp.MustCompile(`^\s+- (\S+): (.+)$`)}
})

func polecatRemoveEvents(g *gtCall) []event.Record {
	re := polecatRemoveRE()
	failed := map[string]string{}
	var targets []string
	for _, l := range g.cc.outLines() {
		if m := re[0].FindStringSubmatch(l); m != nil {
			targets = append(targets, m[1])
		} else if m := re[1].FindStringSubmatch(l); m != nil {
			failed[m[1]] = m[2]
		}
	}
	var out []event.Record
	for _, t := range targets {
		_, name, _ := strings.Cut(t, "/")
		r := event.Record{Name: "polecat.remove", Attrs: []event.Attr{event.String("name", RedactText(name))}}
		if msg, ok := failed[t]; ok {
			r.Err = RedactText(msg)
		}
		out = append(out, r)
	}
	return out
}

// mail.go:99, flags :462-480 (subject required), MaximumNArgs(1). One
// event per recipient (router.go:1171 sendToSingle), only for a send that
// succeeded: a failure may come before or after the router, which the
// outside cannot tell. msg.id and msg.thread_id are made by gt and never
// printed: not reported from outside.
var mailSend = &gtNode{name: "send", maxArgs: 1, required: []string{"subject"}, flags: []gtFlag{
	{"subject", "s", true}, {"message", "m", true}, {"body", "", true}, {"stdin", "", false},
	{"priority", "", true}, {"urgent", "", false}, {"type", "", true}, {"reply-to", "", true},
	{"notify", "n", false}, {"no-notify", "", false}, {"pinned", "", false}, {"wisp", "", false},
	{"permanent", "", false}, {"to", "", true}, {"from", "", true}, {"self", "", false}, {"cc", "", true},
}, events: mailSendEvents}

func mailSendEvents(g *gtCall) []event.Record {
	if g.cc.failed {
		return nil
	}
	a := g.argv
	from, _ := a.flag("from")
	if from == "" {
		from = gtIdentity(g.getenv)
	}
	to := g.arg(0)
	if v, ok := a.flag("to"); ok && to == "" {
		to = v
	}
	if a.has("self") && to == "" {
		to = from
	}
	subject, _ := a.flag("subject")
	typ, ok := a.flag("type")
	if !ok {
		typ = "notification" // mail.go:468
	}
	var out []event.Record
	for _, rcpt := range append([]string{to}, a.flags["cc"]...) {
		out = append(out, g.rec("mail", "operation", "send", "msg.from", from, "msg.to", rcpt,
			"msg.subject", subject, "msg.priority", mailPriority(a), "msg.type", typ))
	}
	return out
}

// mailPriority is mail_send.go:84-90 and PriorityFromInt (internal/mail
// types.go:517): --urgent is 0; --notify bumps normal to high.
func mailPriority(a *gtArgv) string {
	p := 2
	if v, ok := a.flag("priority"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			p = n
		}
	}
	if a.has("urgent") {
		p = 0
	}
	if a.has("notify") && p == 2 {
		p = 1
	}
	switch {
	case p <= 0:
		return "urgent"
	case p == 1:
		return "high"
	case p == 2:
		return "normal"
	}
	return "low"
}

// mailClose is `gt mail archive|delete ID...`: closing a message emits
// operation=read for it (mailbox.go:564, store.go:123), one per id.
func mailClose(name string, min int, flags ...gtFlag) *gtNode {
	return &gtNode{name: name, minArgs: min, maxArgs: -1, flags: flags, events: func(g *gtCall) []event.Record {
		if g.cc.failed || g.argv.has("dry-run") || g.argv.has("stale") {
			return nil // nothing closed, or ids not on the command line
		}
		var out []event.Record
		for _, id := range g.argv.args {
			out = append(out, g.rec("mail", "operation", "read", "msg.id", id, "msg.to", gtIdentity(g.getenv)))
		}
		return out
	}}
}

// gtIdentity is gt's detectSenderFromRole (mail_identity.go:88): the
// address the environment names, "overseer" without GT_ROLE, "" where gt
// would look at the working directory.
func gtIdentity(getenv func(string) string) string {
	role, rig := getenv("GT_ROLE"), getenv("GT_RIG")
	join := func(parts ...string) string {
		for _, p := range parts {
			if p == "" {
				return ""
			}
		}
		return strings.Join(parts, "/")
	}
	switch {
	case role == "":
		return "overseer"
	case strings.Contains(role, "/"):
		return role
	case role == "mayor" || role == "deacon":
		return role + "/"
	case role == "polecat":
		return join(rig, getenv("GT_POLECAT"))
	case role == "crew":
		return join(rig, "crew", getenv("GT_CREW"))
	case role == "witness" || role == "refinery":
		return join(rig, role)
	case role == "dog":
		return join("deacon", "dogs", getenv("GT_DOG_NAME"))
	}
	return ""
}

// What sling prints for each step it takes (sling.go, sling_helpers.go):
// the polecat it spawned, the auto-convoy, the formula it instantiated.
var slingRE = sync.OnceValue(func() map[string]*regexp.Regexp {
	return map[string]*regexp.Regexp{
		"spawn":   regexp.MustCompile(`^Created polecat: (\S+)$`),
		"convoy":  regexp.MustCompile(`^→ Created convoy \S* ?(\S+)$`),
		"track":   regexp.MustCompile(`^\s+Tracking: (\S+)$`),
		"formula": regexp.MustCompile(`^\s*Instantiating formula (\S+?)\.\.\.$`),
		"wisp":    regexp.MustCompile(`^✓ Formula wisp created: (\S+)$`),
	}
})

// slingEvents emits, in real gt's order, polecat.spawn, convoy.create,
// mol.cook, mol.wisp and formula.instantiate for the steps sling reported
// done, then sling itself. A dry run reports only sling.
func slingEvents(g *gtCall) []event.Record {
	bead, target := g.arg(0), ""
	if n := len(g.argv.args); n > 1 {
		target = g.argv.args[n-1]
	}
	var out []event.Record
	if !g.argv.has("dry-run") {
		out = slingSteps(g, bead)
	}
	return append(out, g.rec("sling", "bead", bead, "target", target))
}

func slingSteps(g *gtCall, bead string) []event.Record {
	re := slingRE()
	seen := map[string]string{}
	for _, l := range g.cc.outLines() {
		for k, r := range re {
			if m := r.FindStringSubmatch(l); m != nil && seen[k] == "" {
				seen[k] = m[1]
			}
		}
	}
	ok := func(name string, kv ...string) event.Record {
		r := g.rec(name, kv...)
		r.Err = "" // the step printed its success; a later step failed
		return r
	}
	var out []event.Record
	if seen["spawn"] != "" {
		out = append(out, ok("polecat.spawn", "name", seen["spawn"]))
	}
	if seen["convoy"] != "" {
		tracked := seen["track"]
		if tracked == "" {
			tracked = bead
		}
		out = append(out, ok("convoy.create", "bead_id", tracked))
	}
	if f, w := seen["formula"], seen["wisp"]; f != "" && w != "" {
		out = append(out, ok("mol.cook", "formula_name", f),
			ok("mol.wisp", "formula_name", f, "wisp_root_id", w, "bead_id", bead),
			ok("formula.instantiate", "formula_name", f, "bead_id", bead))
	}
	return out
}

// outLines are the cleaned lines of stdout (or of the merged PTY output).
func (cc *callCtx) outLines() []string {
	if len(cc.c.Combined) > 0 {
		return cc.lines["combined"]
	}
	return cc.lines["stdout"]
}

// gtResolve parses a gt command line; nil when it names no catalog command.
func gtResolve(args []string) *gtArgv {
	a := gtTree().resolve(args)
	if a.bad || a.node.events == nil {
		return nil
	}
	return a
}

// GtWantsOutput reports whether gt's catalog reads this call's output (its
// failure line at least): decided from argv alone, before the child starts.
func GtWantsOutput(args []string) bool { return gtResolve(args) != nil }

// GtEvents returns the catalog events real gt would emit for this call;
// none for a command line cobra rejects (by our tables or by gt's word).
func GtEvents(c Call, getenv func(string) string) (recs []event.Record) {
	a := gtResolve(c.Args)
	if a == nil {
		return nil
	}
	defer func() {
		if recover() != nil {
			recs = nil // the catalog must never take the wrapped command down
		}
	}()
	cc := newCallCtx(c)
	if cc.failed && cobraRejected(strings.TrimPrefix(cc.errMessage, "Error: ")) {
		return nil
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return a.node.events(&gtCall{argv: a, cc: cc, getenv: getenv})
}
