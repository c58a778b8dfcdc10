package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/backendtest"
)

// freePorts returns n loopback ports nothing listens on now.
func freePorts(t *testing.T, n int) []int {
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// upScript runs scripts/up.sh with the test's state dir and ports.
func upScript(t *testing.T, vars []string, verb string) string {
	t.Helper()
	backendtest.Binary(t, "jaeger") // fails with the build hint when missing
	cmd := exec.Command("bash", filepath.Join(repo(t), "scripts", "up.sh"), verb)
	cmd.Env = append(os.Environ(), vars...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("up.sh %s: %v\n%s", verb, err, out)
	}
	return string(out)
}

// listeners returns the local addresses of the TCP sockets pid listens on
// (its socket inodes matched in /proc/net/tcp{,6}: no tool needed).
func listeners(t *testing.T, pid int) []string {
	inodes := map[string]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) > 9 && fs[3] == "0A" && inodes[fs[9]] { // 0A: LISTEN
				out = append(out, fs[1])
			}
		}
		fh.Close()
	}
	return out
}

// make up / make down: the servers on loopback only, idempotent, data kept
// across a restart, and the exports it prints work for gtrun.
func TestMakeUpDown(t *testing.T) {
	p := freePorts(t, 9)
	state := t.TempDir()
	vars := []string{"GTRUN_STATE_DIR=" + state}
	for i, k := range []string{"VM_PORT", "VL_PORT", "JAEGER_OTLP_PORT", "JAEGER_UI_PORT", "JAEGER_OTLP_GRPC_PORT",
		"JAEGER_COLLECTOR_HTTP_PORT", "JAEGER_COLLECTOR_GRPC_PORT", "JAEGER_QUERY_GRPC_PORT", "JAEGER_ADMIN_PORT"} {
		vars = append(vars, fmt.Sprintf("GTRUN_%s=%d", k, p[i]))
	}
	t.Cleanup(func() { upScript(t, vars, "down") })
	out := upScript(t, vars, "up")
	exports := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if kv, ok := strings.CutPrefix(l, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			exports[k] = v
		}
	}
	if len(exports) != 3 {
		t.Fatalf("exports printed: %v\n%s", exports, out)
	}
	for _, name := range []string{"victoria-metrics", "victoria-logs", "jaeger"} {
		b, _ := os.ReadFile(filepath.Join(state, "backends", name+".pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		ls := listeners(t, pid)
		if len(ls) == 0 {
			t.Fatalf("%s (pid %d) listens nowhere", name, pid)
		}
		for _, a := range ls {
			if !strings.HasPrefix(a, "0100007F:") && !strings.HasPrefix(a, "00000000000000000000000001000000:") {
				t.Errorf("%s listens on %s, not loopback", name, a)
			}
		}
	}
	if again := upScript(t, vars, "up"); strings.Count(again, "already running") != 3 {
		t.Fatalf("up twice:\n%s", again)
	}
	e := newEnv(t).set("GT_RUN", "made-up")
	for k, v := range exports {
		e.set(k, v)
	}
	e.run("", "bd", "list")
	e.run("", "flush")
	vl := &backendtest.VL{URL: strings.TrimSuffix(exports["GT_OTEL_LOGS_URL"], "/insert/opentelemetry/v1/logs")}
	vl.WaitCount(t, `"run.id":="made-up"`, 1, 30*time.Second)
	// Down and up again: the data is still there.
	if down := upScript(t, vars, "down"); strings.Count(down, "stopped") != 3 {
		t.Fatalf("down:\n%s", down)
	}
	upScript(t, vars, "up")
	vl.WaitCount(t, `"run.id":="made-up"`, 1, 30*time.Second)
}

// The systemd user units are valid units whose programs exist where the
// README installs them.
func TestSystemdUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is required to check deploy/systemd: apt-get install -y systemd (as .ci/run does)")
	}
	home := t.TempDir()
	bin := filepath.Join(home, ".local", "share", "gtrun", "bin")
	os.MkdirAll(bin, 0o755)
	for _, b := range []string{"victoria-metrics", "victoria-logs", "jaeger"} {
		os.Symlink(backendtest.Binary(t, b), filepath.Join(bin, b))
	}
	units, _ := filepath.Glob(filepath.Join(repo(t), "deploy", "systemd", "*.service"))
	if len(units) != 3 {
		t.Fatalf("units: %v", units)
	}
	cmd := exec.Command(sa, append([]string{"verify"}, units...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
