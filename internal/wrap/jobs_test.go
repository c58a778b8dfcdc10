package wrap

// Signals and job control as a shell sees them: Ctrl-C in a loop, signal
// dispositions inherited from the caller, grandchildren left holding the
// output.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C during `for i in 1 2 3; do CMD; echo next$i; done` stops the
// loop, as bare: the wrapper dies of the child's SIGINT (ExitLike), which
// is what makes the shell stop. Compared byte for byte with bare, for the
// terminal handed to the child and for gtrun keeping it (PTY mode).
func TestCtrlCStopsLoop(t *testing.T) {
	for _, mode := range []string{"bare", "inherit", "capture"} {
		t.Run(mode, func(t *testing.T) {
			ut := newUserTerm(t)
			dir := t.TempDir()
			cmd := `sh -c "echo \$\$ > ` + dir + `/pid.$i; exec sleep 5"`
			env := os.Environ()
			if mode != "bare" {
				cmd = os.Args[0] + " " + cmd
				env = modeEnv(t, mode)
			}
			loop := fmt.Sprintf(`for i in 1 2 3; do %s; echo next$i; done; echo end`, cmd)
			done := make(chan outcome, 1)
			go func() { done <- ut.run(t, env, session{timeout: 10 * time.Second}, "bash", "-c", loop) }()
			waitFile(t, filepath.Join(dir, "pid.1"), func(s string) bool { return s != "" })
			ut.master.Write([]byte{3})
			o := <-done
			if o.hung || bytes.Contains(o.out, []byte("next")) || bytes.Contains(o.out, []byte("end")) {
				t.Fatalf("the loop went on after Ctrl-C: %v", o)
			}
			if o.sig != syscall.SIGINT {
				t.Fatalf("the shell should die of SIGINT, as bare: %v", o)
			}
			if string(o.out) != "^C" {
				t.Fatalf("screen %q, want the echo of ^C only", o.out)
			}
		})
	}
}

// A signal ignored when the wrapper started stays ignored for the child:
// the child's SigIgn mask is the bare command's, for every signal whose
// start disposition a Go program can know (see signals.go), and nohup
// still protects the child.
func TestIgnoredSignalsStayIgnored(t *testing.T) {
	traps := []string{"INT", "HUP", "TSTP", "TTIN", "TTOU", "INT HUP TSTP TTIN TTOU"}
	for _, sigs := range traps {
		t.Run(sigs, func(t *testing.T) {
			mask := func(prefix string) string {
				out, err := exec.Command("bash", "-c", "trap '' "+sigs+"; "+prefix+"grep SigIgn /proc/self/status").CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				return string(out)
			}
			bare := mask("")
			for _, env := range []string{"GTRUN_WRAP_HELPER=1 " + noExitSleep + " ", "GTRUN_WRAP_HELPER=1 " + noExitSleep + " GTRUN_WRAP_PTY=on "} {
				if got := mask(env + os.Args[0] + " "); got != bare {
					t.Fatalf("%swrapped: %q, bare: %q", env, got, bare)
				}
			}
		})
	}
	t.Run("nohup", func(t *testing.T) {
		cmd := exec.Command("nohup", os.Args[0], "sh", "-c", "kill -HUP $$; echo alive")
		cmd.Env = append(os.Environ(), "GTRUN_WRAP_HELPER=1", noExitSleep)
		out, err := cmd.Output()
		if err != nil || string(out) != "alive\n" {
			t.Fatalf("nohup: %q, %v (want alive)", out, err)
		}
	})
}

// A child that leaves a background process holding its output returns as
// fast as bare: gtrun drains what the child wrote and does not wait for
// the grandchild. In pipe mode and in PTY mode.
func TestGrandchildHoldingOutput(t *testing.T) {
	for _, mode := range []string{"bare", "pipes", "pty"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			out, err := os.Create(filepath.Join(dir, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			script := fmt.Sprintf(`sleep 5 & echo $! > %s/bg; echo done`, dir)
			argv := []string{"sh", "-c", script}
			env := os.Environ()
			switch mode {
			case "pipes":
				argv = append([]string{os.Args[0]}, argv...)
				env = append(env, "GTRUN_WRAP_HELPER=1", noExitSleep, "GTRUN_WRAP_CAPTURE="+filepath.Join(dir, "cap"))
			case "pty":
				argv = append([]string{os.Args[0]}, argv...)
				env = append(env, "GTRUN_WRAP_HELPER=1", noExitSleep, "GTRUN_WRAP_PTY=on", "GTRUN_WRAP_CAPTURE="+filepath.Join(dir, "cap"))
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
			start := time.Now()
			err = cmd.Run()
			took := time.Since(start)
			if b, _ := os.ReadFile(filepath.Join(dir, "bg")); len(b) > 0 {
				if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(out.Name()); string(got) != "done\n" {
				t.Fatalf("output %q", got)
			}
			if mode != "bare" {
				if caps, _ := os.ReadFile(filepath.Join(dir, "cap")); !strings.Contains(string(caps), ":done\n") {
					t.Fatalf("capture %q", caps)
				}
			}
			// Bare takes a few ms; the wrapper adds its start (a -race
			// binary) and, on a PTY, a 100 ms quiet period. The grandchild
			// lives 5 s.
			if took > 2*time.Second {
				t.Fatalf("took %v: the wrapper waited for the grandchild", took)
			}
			t.Logf("%s: %v", mode, took.Round(time.Millisecond))
		})
	}
}
