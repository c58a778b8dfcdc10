package wrap

// The torture tests: many runs on a real pseudo-terminal, the bytes the
// user sees compared exactly with the bare command's under the same
// harness. Each covers one of the defects the wrapper had; counts follow
// the "Done when" (GTRUN_TORTURE_N overrides, -short cuts them).

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var allModes = []string{"inherit", "pty", "capture"}

// blob is 100 KB of text with control bytes and no trailing newline.
func blob(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "blob")
	b := make([]byte, 100<<10)
	for i := range b {
		switch {
		case i%73 == 72:
			b[i] = '\n'
		case i%997 == 0:
			b[i] = '\t'
		default:
			b[i] = byte(' ' + (i*7+i/251)%95)
		}
	}
	os.WriteFile(p, b, 0o600)
	return p
}

// No stray byte: tty, stty size, printf and a 100 KB burst look on the
// terminal exactly as bare, in every mode.
func TestTortureNoStrayBytes(t *testing.T) {
	b := blob(t)
	cmds := map[string][]string{
		"tty":       {"tty"},
		"stty size": {"stty", "size"},
		"printf":    {"printf", `a\tb\r\nc\n\033[1mbold\033[0m\n`},
		"burst":     {"cat", b},
	}
	n := runs(200)
	for name, argv := range cmds {
		t.Run(name, func(t *testing.T) {
			want := map[*userTerm][]byte{}
			var mu chanMutex = make(chanMutex, 1)
			parallel(t, n, 3, func(ut *userTerm, i int) error {
				mu.lock()
				w, ok := want[ut]
				mu.unlock()
				if !ok {
					bare := ut.run(t, os.Environ(), session{}, argv...)
					if bare.code != 0 || bare.hung || bare.leftovers(outcome{}) != nil {
						return fmt.Errorf("bare: %v", bare)
					}
					w = bare.out
					mu.lock()
					want[ut] = w
					mu.unlock()
				}
				mode := allModes[i%len(allModes)]
				got := ut.run(t, modeEnv(t, mode), session{}, wrapped(argv...)...)
				if got.code != 0 || got.hung || !bytes.Equal(got.out, w) {
					return fmt.Errorf("%s: %v; %s", mode, got, diff(got.out, w))
				}
				if err := got.leftovers(outcome{}); err != nil {
					return fmt.Errorf("%s: %w", mode, err)
				}
				return nil
			})
		})
	}
}

// chanMutex is a one-slot channel used as a mutex in the worker closures.
type chanMutex chan struct{}

func (m chanMutex) lock()   { m <- struct{}{} }
func (m chanMutex) unlock() { <-m }

// A child that lets go of the terminal (redirects its stdio to /dev/null)
// and then exits 7 exits 7 under the wrapper, in the PTY modes, with and
// without a pause after letting go. The output PTY is no one's
// controlling terminal, so its end hangs no one up.
func TestTortureLetGoOfTerminal(t *testing.T) {
	for _, pause := range []string{"", "sleep 0.1; "} {
		t.Run(fmt.Sprintf("pause=%v", pause != ""), func(t *testing.T) {
			script := "exec </dev/null >/dev/null 2>&1; " + pause + "exit 7"
			parallel(t, runs(500), 4, func(ut *userTerm, i int) error {
				mode := []string{"pty", "capture"}[i%2]
				got := ut.run(t, modeEnv(t, mode), session{}, wrapped("sh", "-c", script)...)
				if got.code != 7 || got.hung || len(got.out) != 0 || got.leftovers(outcome{}) != nil {
					return fmt.Errorf("%s: %v", mode, got)
				}
				return nil
			})
		})
	}
}

// Keys typed in the first 60 ms reach cat exactly as bare: ^D alone, and
// "abc⏎^D". No hang, exit 0, the same echo and output.
func TestTortureEarlyKeys(t *testing.T) {
	r := rng(t)
	for _, input := range []string{"\x04", "abc\r\x04"} {
		t.Run(fmt.Sprintf("%q", input), func(t *testing.T) {
			delays := make([]time.Duration, runs(200))
			for i := range delays {
				delays[i] = time.Duration(r.IntN(61)) * time.Millisecond
			}
			parallel(t, len(delays), 4, func(ut *userTerm, i int) error {
				s := session{keys: []key{{delays[i], []byte(input)}}, timeout: 5 * time.Second}
				bare := ut.run(t, os.Environ(), s, "cat")
				if bare.code != 0 || bare.hung || bare.leftovers(outcome{}) != nil {
					return fmt.Errorf("bare: %v", bare)
				}
				mode := allModes[i%len(allModes)]
				got := ut.run(t, modeEnv(t, mode), s, wrapped("cat")...)
				if got.code != 0 || got.hung || !bytes.Equal(got.out, bare.out) {
					return fmt.Errorf("%s, key at %v: %v; bare %v", mode, delays[i], got, bare)
				}
				if err := got.leftovers(bare); err != nil {
					return fmt.Errorf("%s, key at %v: %w", mode, delays[i], err)
				}
				return nil
			})
		})
	}
}

// Typeahead: a line typed while a wrapped command that does not read its
// input runs is read by the next program, as bare. The commands: sleep,
// true, and a stand-in for bd with output rules (Capture, PTY mode).
func TestTortureTypeahead(t *testing.T) {
	r := rng(t)
	self := os.Args[0]
	cases := []struct {
		name, mode, cmd string
		window          int // ms during which the line is typed
	}{
		{"sleep", "inherit", "sleep 0.2", 150},
		{"true", "inherit", "true", 20},
		{"bd with rules", "capture", "sh -c 'echo listing'", 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := runs(100)
			delays := make([]time.Duration, n)
			for i := range delays {
				delays[i] = time.Duration(r.IntN(c.window+1)) * time.Millisecond
			}
			parallel(t, n, 4, func(ut *userTerm, i int) error {
				s := session{keys: []key{{delays[i], []byte("abc\r")}}, timeout: 5 * time.Second}
				script := "%s; read x; echo got:$x"
				bare := ut.run(t, os.Environ(), s, "sh", "-c", fmt.Sprintf(script, c.cmd))
				got := ut.run(t, modeEnv(t, c.mode), s, "sh", "-c", fmt.Sprintf(script, self+" "+c.cmd))
				if !bytes.Contains(bare.out, []byte("got:abc\r\n")) {
					return fmt.Errorf("bare did not read the line: %v", bare)
				}
				// The echo of the typed line lands wherever the typing falls
				// in the output; compare without it.
				echo := []byte("abc\r\n")
				if got.code != 0 || got.hung || !bytes.Equal(bytes.Replace(got.out, echo, nil, 1), bytes.Replace(bare.out, echo, nil, 1)) {
					return fmt.Errorf("key at %v: %v; bare %v", delays[i], got, bare)
				}
				if err := got.leftovers(bare); err != nil {
					return fmt.Errorf("key at %v: %w", delays[i], err)
				}
				return nil
			})
		})
	}
}

// A slow terminal: the reader pauses 0.5 s while the child prints 100 KB;
// every byte arrives, in every mode that copies the output.
func TestTortureSlowReader(t *testing.T) {
	b := blob(t)
	n := runs(100)
	want := make(chan []byte, 1)
	{
		ut := newUserTerm(t)
		bare := ut.run(t, os.Environ(), session{}, "cat", b)
		want <- bare.out
	}
	w := <-want
	parallel(t, n, 8, func(ut *userTerm, i int) error {
		mode := []string{"pty", "capture", "pipes"}[i%3]
		got := ut.run(t, modeEnv(t, mode), session{readDelay: 500 * time.Millisecond}, wrapped("cat", b)...)
		if got.code != 0 || got.hung || !bytes.Equal(got.out, w) {
			return fmt.Errorf("%s: code=%d hung=%v: %s", mode, got.code, got.hung, diff(got.out, w))
		}
		if err := got.leftovers(outcome{}); err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		return nil
	})
}
