package parse

import (
	"strings"

	"github.com/gastown/gtrun/internal/event"
)

// gt's command line, parsed as gt (a cobra program with prefix matching on,
// internal/cmd/root.go:333 of steveyegge/gastown a8bd79bf) parses it.
//
// The tree holds every command name of gt's root and of the parents whose
// children the catalog reads (mail, polecat, session), so a prefix resolves
// — or is ambiguous — exactly as in gt; flag tables only for the commands
// the catalog reads, from their init() functions (file:line below). A
// command line cobra would reject (unknown command or flag, a missing
// value, a missing required flag, a wrong argument count) parses to
// gtReject: gt runs nothing for it and emits no event, so neither do we.

type gtFlag struct {
	long, short string
	value       bool // takes a value (string, int, stringArray)
}

type gtNode struct {
	name     string
	aliases  []string
	flags    []gtFlag
	required []string // long names (MarkFlagRequired)
	minArgs  int
	maxArgs  int // -1: any
	children []*gtNode
	// events builds the catalog events of a finished call of this command
	// (nil: the command emits none).
	events func(*gtCall) []event.Record
	// output reports whether events read stdout beyond the failure line.
	output func(*gtArgv) bool
}

// gtArgv is a command line resolved against the tree.
type gtArgv struct {
	node  *gtNode
	path  []string // canonical names, e.g. ["mail", "send"]
	flags map[string][]string
	args  []string
	bad   bool // cobra rejects it
}

func (a *gtArgv) flag(long string) (string, bool) {
	v, ok := a.flags[long]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return v[len(v)-1], true
}

func (a *gtArgv) has(long string) bool { _, ok := a.flags[long]; return ok }

// names lists commands that exist in gt but emit nothing here: they only
// take part in prefix matching.
func names(ns ...string) []*gtNode {
	out := make([]*gtNode, 0, len(ns))
	for _, n := range ns {
		name, alias, _ := strings.Cut(n, "|")
		node := &gtNode{name: name, maxArgs: -1}
		if alias != "" {
			node.aliases = strings.Split(alias, "|")
		}
		out = append(out, node)
	}
	return out
}

// resolve walks argv down the tree as cobra's Find does, then parses the
// leaf's flags as pflag does (interspersed, "--" ends flags).
func (root *gtNode) resolve(args []string) *gtArgv {
	node, path, rest := root, []string(nil), args
	for {
		i := firstWord(rest)
		if i < 0 || len(node.children) == 0 {
			break
		}
		next := matchChild(node, rest[i])
		if next == nil {
			break // a leaf's argument, or an unknown command (no events either way)
		}
		node, path = next, append(path, next.name)
		rest = append(append([]string(nil), rest[:i]...), rest[i+1:]...)
	}
	a := &gtArgv{node: node, path: path, flags: map[string][]string{}}
	a.bad = node == root || !a.parseFlags(rest)
	if a.bad {
		return a
	}
	for _, r := range node.required {
		if !a.has(r) {
			a.bad = true
		}
	}
	if len(a.args) < node.minArgs || node.maxArgs >= 0 && len(a.args) > node.maxArgs {
		a.bad = true
	}
	return a
}

// firstWord is the index of the first argument that is not a flag; a
// flag's value is not skipped, as cobra's stripFlags does not know the
// leaf's flags either (gt has no persistent flags that take a value).
func firstWord(args []string) int {
	for i, a := range args {
		if a == "--" {
			return -1
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
	}
	return -1
}

// matchChild finds a child by name or alias, else by a unique prefix of
// one (cobra.EnablePrefixMatching).
func matchChild(n *gtNode, w string) *gtNode {
	var match *gtNode
	count := 0
	for _, c := range n.children {
		if c.name == w {
			return c
		}
		for _, al := range c.aliases {
			if al == w {
				return c
			}
		}
		hit := strings.HasPrefix(c.name, w)
		for _, al := range c.aliases {
			hit = hit || strings.HasPrefix(al, w)
		}
		if hit {
			match, count = c, count+1
		}
	}
	if count == 1 {
		return match
	}
	return nil
}

func (n *gtNode) lookup(name string, short bool) (gtFlag, bool) {
	if !short && name == "help" || short && name == "h" {
		return gtFlag{long: "help"}, true
	}
	for _, f := range n.flags {
		if !short && f.long == name || short && f.short != "" && f.short == name {
			return f, true
		}
	}
	return gtFlag{}, false
}

// parseFlags fills a.flags and a.args; false when pflag would fail.
func (a *gtArgv) parseFlags(args []string) bool {
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			a.args = append(a.args, args[i+1:]...)
			return true
		case strings.HasPrefix(s, "--"):
			name, val, hasVal := strings.Cut(s[2:], "=")
			f, ok := a.node.lookup(name, false)
			if !ok {
				return false
			}
			if f.value && !hasVal {
				if i+1 >= len(args) {
					return false
				}
				i++
				val = args[i]
			}
			a.flags[f.long] = append(a.flags[f.long], val)
		case strings.HasPrefix(s, "-") && len(s) > 1:
			n, ok := a.shorts(args, i)
			if !ok {
				return false
			}
			i += n
		default:
			a.args = append(a.args, s)
		}
	}
	return true
}

// shorts parses "-abc", "-mVALUE", "-m VALUE"; it returns how many extra
// arguments it consumed.
func (a *gtArgv) shorts(args []string, i int) (int, bool) {
	s := args[i][1:]
	for j := 0; j < len(s); j++ {
		f, ok := a.node.lookup(s[j:j+1], true)
		if !ok {
			return 0, false
		}
		if !f.value {
			a.flags[f.long] = append(a.flags[f.long], "true")
			continue
		}
		if rest := strings.TrimPrefix(s[j+1:], "="); j+1 < len(s) {
			a.flags[f.long] = append(a.flags[f.long], rest)
			return 0, true
		}
		if i+1 >= len(args) {
			return 0, false
		}
		a.flags[f.long] = append(a.flags[f.long], args[i+1])
		return 1, true
	}
	return 0, true
}

// cobraRejected reports whether gt's failure message is one cobra or pflag
// raise before the command runs (a flag table here may be older or newer
// than the gt that ran: its own word decides).
func cobraRejected(errLine string) bool {
	for _, p := range []string{
		"unknown flag: ", "unknown shorthand flag: ", "unknown command ", "required flag(s) ",
		"flag needs an argument: ", "invalid argument ", "accepts ", "requires at least ",
		"requires at most ", "if any flags in the group ", "bad flag syntax: ",
	} {
		if strings.HasPrefix(errLine, p) {
			return true
		}
	}
	return false
}
