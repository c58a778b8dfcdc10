package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteImplicitRun(t *testing.T) {
	root := newRoot(IOStreams{Out: &strings.Builder{}, Err: &strings.Builder{}})
	for in, want := range map[string]string{
		"bd create x":                "run -- bd create x",
		"bd --help":                  "run -- bd --help",
		"--no-pty bd list":           "run --no-pty -- bd list",
		"--name b --pty sh -c x":     "run --name b --pty -- sh -c x",
		"emit sling bead=a target=b": "emit sling bead=a target=b",
		"run -- ls":                  "run -- ls",
		"--help":                     "--help",
		"version":                    "version",
		"-- ls -la":                  "run -- ls -la",
		"trace":                      "trace",
	} {
		got := strings.Join(rewriteImplicitRun(root, strings.Fields(in)), " ")
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestShimFindsRealBinaryAfterItself(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shimDir, realDir := t.TempDir(), t.TempDir()
	os.Symlink(self, filepath.Join(shimDir, "bd"))
	os.WriteFile(filepath.Join(realDir, "bd"), []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", shimDir+":"+realDir)
	got, err := findReal("bd")
	if err != nil || got != filepath.Join(realDir, "bd") {
		t.Fatalf("%q %v", got, err)
	}
	// Only the shim on PATH: recursion is refused with a clear error.
	t.Setenv("PATH", shimDir)
	if _, err := findReal("bd"); err == nil || !strings.Contains(err.Error(), "recursion refused") {
		t.Fatalf("%v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := findReal("bd"); err == nil || !strings.Contains(err.Error(), "command not found") {
		t.Fatalf("%v", err)
	}
}

func TestShimInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shims")
	var out strings.Builder
	ios := IOStreams{Out: &out, Err: &out}
	root := newRoot(ios)
	root.SetArgs([]string{"shim", "install", dir, "bd", "gt"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bd", "gt"} {
		if _, err := os.Readlink(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if !strings.Contains(out.String(), "export PATH=") {
		t.Fatalf("%s", out.String())
	}
}

// The hot path's list of subcommands is the command tree's.
func TestIsCommandMatchesTree(t *testing.T) {
	root := newRoot(IOStreams{Out: &strings.Builder{}, Err: &strings.Builder{}})
	for _, c := range root.Commands() {
		if !isCommand(c.Name()) {
			t.Errorf("%s is a command but the hot path would wrap it", c.Name())
		}
	}
	for _, w := range []string{"bd", "ls", "sh", "make"} {
		if isCommand(w) {
			t.Errorf("%s would not be wrapped", w)
		}
	}
}
