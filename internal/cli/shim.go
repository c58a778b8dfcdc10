package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gastown/gtrun/internal/wrap"
)

// shimPIDVar marks a child started by a shim, so a shim that finds itself
// again (a copy of gtrun named bd further down PATH) refuses to recurse.
const shimPIDVar = "GTRUN_SHIM_PID"

// runShim is gtrun invoked through a link named NAME (e.g. bd): it wraps
// the real NAME found on PATH after skipping gtrun itself.
func runShim(ctx context.Context, name string, args []string, ios IOStreams) (int, *wrap.Result) {
	if os.Getenv(shimPIDVar) == strconv.Itoa(os.Getppid()) {
		fmt.Fprintf(ios.Err, "gtrun: shim %s: the %s found on PATH is gtrun again (recursion); put the real %s on PATH after the shim directory\n", name, name, name)
		return 127, nil
	}
	path, err := findReal(name)
	if err != nil {
		fmt.Fprintf(ios.Err, "gtrun: shim %s: %v\n", name, err)
		return 127, nil
	}
	res := runWrapped(ctx, ios, &runOptions{
		argv:     append([]string{name}, args...),
		path:     path,
		extraEnv: []string{shimPIDVar + "=" + strconv.Itoa(os.Getpid())},
	})
	return res.ExitCode, &res
}

// findReal looks NAME up on PATH, skipping every entry that is gtrun itself
// (the shim link, a hard link or a symlink to the running binary).
func findReal(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	selfFI, err := os.Stat(self)
	if err != nil {
		return "", err
	}
	skipped := 0
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if os.SameFile(fi, selfFI) {
			skipped++
			continue
		}
		return p, nil
	}
	if skipped > 0 {
		return "", fmt.Errorf("no real %s on PATH: every %s found is this gtrun shim (recursion refused)", name, name)
	}
	return "", fmt.Errorf("%s: command not found", name)
}

// isSelf reports whether path is this gtrun (a shim link to it).
func isSelf(path string) bool {
	self, err := os.Executable()
	if err != nil {
		return false
	}
	a, err1 := os.Stat(self)
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func newShimCmd(ios IOStreams) *cobra.Command {
	cmd := &cobra.Command{Use: "shim", Short: "Manage shim links (bd → gtrun)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "install DIR [NAME...]",
		Short: "Create shim links (default: bd) in DIR and print the PATH line to add",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dir, names := args[0], args[1:]
			if len(names) == 0 {
				names = []string{"bd"}
			}
			self, err := os.Executable()
			if err != nil {
				return exitf(1, "shim: %v", err)
			}
			if self, err = filepath.EvalSymlinks(self); err != nil {
				return exitf(1, "shim: %v", err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return exitf(1, "shim: %v", err)
			}
			abs, _ := filepath.Abs(dir)
			for _, n := range names {
				if strings.ContainsRune(n, '/') || n == "gtrun" {
					return usageErr("shim: bad name %q", n)
				}
				link := filepath.Join(abs, n)
				if cur, err := os.Readlink(link); err == nil && cur == self {
					fmt.Fprintf(ios.Out, "%s -> %s (already there)\n", link, self)
					continue
				}
				if _, err := os.Lstat(link); err == nil {
					return exitf(1, "shim: %s exists and is not a gtrun shim; not replacing it", link)
				}
				if err := os.Symlink(self, link); err != nil {
					return exitf(1, "shim: %v", err)
				}
				fmt.Fprintf(ios.Out, "%s -> %s\n", link, self)
			}
			fmt.Fprintf(ios.Out, "Add to your shell profile:\n  export PATH=%q:\"$PATH\"\n", abs)
			return nil
		},
	})
	return cmd
}
