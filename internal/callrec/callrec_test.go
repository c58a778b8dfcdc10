package callrec

import (
	"syscall"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/wrap"
)

func TestRecord(t *testing.T) {
	start := time.Now()
	res := wrap.Result{ExitCode: 1, Start: start, End: start.Add(1500 * time.Millisecond)}
	out := &Output{}
	out.Add("stderr", []byte("Error: no issue found matching \"gt-x\""))
	r := Record("bd", []string{"--token", "sk-ant-api03-SECRET", "close", "gt-x"}, res, out, Options{})
	if r.Name != "bd.call" || r.GetString("subcommand") != "close" || r.Get("duration_ms") != int64(1500) ||
		r.Err != `Error: no issue found matching "gt-x"` || r.GetString("args") != "--token [REDACTED] close gt-x" {
		t.Fatalf("%+v", r)
	}
	killed := wrap.Result{ExitCode: 143, Signal: syscall.SIGTERM, Start: start, End: start}
	r = Record("sh", []string{"-c", "kill -TERM $$"}, killed, &Output{}, Options{})
	if r.Name != "cmd.call" || r.GetString("command") != "sh" || r.Err != "killed by SIGTERM" || r.GetString("signal") != "SIGTERM" {
		t.Fatalf("%+v", r)
	}
	r = Record("bd", []string{"show", "x"}, wrap.Result{Start: start, End: start}, &Output{Stdout: []byte("token: ghp_0123456789abcdef0123456789abcdef0123")},
		Options{LogOutput: true, ContentLimit: 64})
	if s := r.GetString("stdout"); s == "" || len(s) > 64+3 || r.Err != "" {
		t.Fatalf("stdout %q", s)
	}
}
