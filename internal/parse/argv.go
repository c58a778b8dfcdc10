package parse

import "strings"

// bd's argv, parsed as bd (a cobra program) parses it.
//
// Global (persistent) flags come before the subcommand; which of them take
// a value decides what the subcommand is. The tables are bd's root
// persistent flags in cmd/bd/main.go of steveyegge/beads (1.0.x:
// --db, --actor, --dolt-auto-commit, hidden --format take a value; --json,
// --sandbox, --readonly, --profile, -v/--verbose, -q/--quiet are booleans;
// the root's own -V/--version), plus the flags of older 0.x releases still
// seen in scripts (--lock-timeout takes a duration; --no-daemon,
// --no-auto-flush, --no-auto-import, --allow-stale, --no-db are booleans).

var bdGlobalValue = map[string]bool{
	"--db": true, "--actor": true, "--dolt-auto-commit": true, "--format": true, "--lock-timeout": true,
}

var bdGlobalBool = map[string]bool{
	"--json": true, "--sandbox": true, "--readonly": true, "--profile": true,
	"--verbose": true, "-v": true, "--quiet": true, "-q": true, "--version": true, "-V": true,
	"--help": true, "-h": true,
	"--no-daemon": true, "--no-auto-flush": true, "--no-auto-import": true, "--allow-stale": true, "--no-db": true,
}

// bdValueFlags are the subcommands' flags (bd's and gt's) that take a
// separate value, so the value is not mistaken for a positional argument.
// Short forms are bd's: -s --status, -t --type, -p --priority, -a
// --assignee, -d --description, -l --label(s), -f --file, -n --limit
// (bd list: IntP("limit", "n")), -m --message; gt mail send: -s --subject.
// bd list's -r (--reverse) and -w (--watch) are booleans and not listed.
var bdValueFlags = map[string]bool{
	"--db": true, "--actor": true, "--parent": true, "--reason": true, "--status": true, "-s": true,
	"--var": true, "--on": true, "--to": true, "--subject": true, "--exit": true, "--role": true,
	"--hook": true, "--title": true, "-t": true, "-p": true, "--priority": true, "--type": true,
	"--assignee": true, "-a": true, "--description": true, "-d": true, "--labels": true, "--label": true, "-l": true,
	"--file": true, "-f": true, "--body": true, "-m": true, "--message": true, "--formula": true,
	"--target": true, "--id": true, "--limit": true, "-n": true, "--sort": true, "--format": true,
	"--thread": true, "--hook-mode": true, "--bead": true, "--lock-timeout": true, "--dolt-auto-commit": true,
}

// knownCommands are bd's top-level commands and the gt commands the
// default rules read. They only settle "--unknown-flag WORD": a known
// command after an unknown flag is taken for the command (the flag for a
// boolean); any other word is the flag's value, as cobra takes it.
var knownCommands = map[string]bool{
	// bd
	"create": true, "q": true, "list": true, "show": true, "update": true, "close": true, "reopen": true,
	"ready": true, "blocked": true, "dep": true, "mol": true, "formula": true, "cook": true, "init": true,
	"version": true, "help": true, "stats": true, "search": true, "count": true, "graph": true, "label": true,
	"comment": true, "comments": true, "delete": true, "edit": true, "sync": true, "doctor": true,
	"prime": true, "config": true, "export": true, "import": true, "hooks": true, "hook": true, "onboard": true,
	"quickstart": true, "setup": true, "where": true, "info": true, "status": true, "epic": true,
	"duplicates": true, "compact": true, "migrate": true, "restore": true, "rename-prefix": true,
	"repair-deps": true, "validate": true, "admin": true, "agent": true, "assign": true, "audit": true,
	"backup": true, "bootstrap": true, "branch": true, "children": true, "cleanup": true, "dolt": true,
	"gate": true, "human": true, "merge": true, "slot": true, "swarm": true, "template": true, "vc": true,
	"completion": true, "wisp": true, "defer": true, "undefer": true, "pin": true, "unpin": true,
	// gt
	"sling": true, "nudge": true, "done": true, "mail": true, "polecat": true, "convoy": true,
}

// leadingFlag reports how many arguments the flag args[i], seen before
// the subcommand, takes up (1 or 2).
func leadingFlag(args []string, i int) int {
	a := args[i]
	if strings.IndexByte(a, '=') >= 0 || bdGlobalBool[a] {
		return 1
	}
	if bdGlobalValue[a] || bdValueFlags[a] {
		return 2
	}
	long := strings.HasPrefix(a, "--")
	if !long && len(a) != 2 || i+1 >= len(args) {
		return 1 // -vq: combined booleans
	}
	// An unknown flag: cobra takes the next word for its value unless the
	// flag is a known boolean. A credential flag always has a value; a known
	// command name is the command; a word that is not a safe command name
	// (a secret, a path, a URL) is never the command.
	next := args[i+1]
	if secretKey(strings.TrimLeft(a, "-")) {
		return 2
	}
	if knownCommands[next] {
		return 1
	}
	return 2
}

// positionals returns the non-flag arguments in order, skipping values of
// known value-taking flags. Before the subcommand, flags are read as bd
// reads its global flags (leadingFlag); after it, an unknown flag is a
// boolean unless it names a credential. "--" ends flags.
func positionals(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if len(a) > 1 && a[0] == '-' {
			if len(out) == 0 {
				i += leadingFlag(args, i) - 1
				continue
			}
			if strings.IndexByte(a, '=') < 0 && i+1 < len(args) && (bdValueFlags[a] || secretKey(strings.TrimLeft(a, "-"))) {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// Subcommand returns bd's subcommand: the first argument that is not a
// global flag or a flag's value, when it is a safe label (a lowercase word
// such as create, mol, rename-prefix); "" otherwise. A credential passed
// before the subcommand is never returned: the result is a metric label.
func Subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "" // cobra stops looking for the command at "--"
		case a == "":
		case len(a) > 1 && a[0] == '-':
			i += leadingFlag(args, i) - 1
		default:
			if safeCommand(a) {
				return a
			}
			return ""
		}
	}
	return ""
}

// safeCommand reports whether w can be a command name and a label: a
// lowercase word [a-z][a-z0-9-]* of at most 32 bytes that does not look
// like a credential (a token prefix, or many digits).
func safeCommand(w string) bool {
	if knownCommands[w] {
		return true
	}
	if len(w) == 0 || len(w) > 32 || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	digits := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z', c == '-':
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	if digits > 2 || strings.HasPrefix(w, "sk-") || strings.HasPrefix(w, "xox") || strings.HasPrefix(w, "glpat-") {
		return false
	}
	return true
}

// flagValue returns the value of --name (as "--name v" or "--name=v").
func flagValue(args []string, names ...string) (string, bool) {
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		for _, n := range names {
			if args[i] == n && i+1 < len(args) {
				return args[i+1], true
			}
			if strings.HasPrefix(args[i], n+"=") {
				return args[i][len(n)+1:], true
			}
		}
	}
	return "", false
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}
