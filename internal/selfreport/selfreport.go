// Package selfreport decides whether a wrapped program reports its own
// Gas Town catalog events, so that gtrun does not report them a second time
// (one fact, one record).
//
// Real gt (gastown since its in-process telemetry) exports its catalog
// itself when GT_OTEL_METRICS_URL or GT_OTEL_LOGS_URL is set in its
// environment (internal/telemetry/telemetry.go IsActive). Older gt binaries
// ignore those variables. So a call decides from two facts:
//
//   - the switch: the child's environment names a gt telemetry endpoint;
//   - the capability: the gt binary reads that variable, i.e. contains the
//     string "GT_OTEL_LOGS_URL". The scan of a binary (~30 ms for 60 MB)
//     is done once per binary and cached in the state directory under the
//     binary's path, size and modification time, so a call pays one stat
//     and one small read.
//
// No exec of the program (a version probe would run gt's start-up, which
// touches the town) and nothing on the network.
package selfreport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gastown/gtrun/internal/state"
)

// Marker is set in the environment of a program that reports its own
// catalog (value: the program's name), so gtrun shims of the programs it
// runs (gt's bd calls) add no catalog events of their own: gt reports those
// facts. Their bd.call records stay (one per bd process).
const Marker = "GTRUN_REPORTER"

// gtSwitch lists gt's telemetry switches.
var gtSwitch = []string{"GT_OTEL_METRICS_URL", "GT_OTEL_LOGS_URL"}

// Gt reports whether the gt at path, run with getenv's environment,
// exports its own catalog.
func Gt(path string, getenv func(string) string) bool {
	on := false
	for _, k := range gtSwitch {
		on = on || getenv(k) != ""
	}
	return on && capable(path, []byte("GT_OTEL_LOGS_URL"))
}

// capable reports whether the binary at path contains needle, cached.
func capable(path string, needle []byte) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	key := fmt.Sprintf("%s %d %d", needle, fi.Size(), fi.ModTime().UnixNano())
	sum := sha256.Sum256([]byte(abs))
	cache, cerr := state.Path("probe", hex.EncodeToString(sum[:8]))
	if cerr == nil {
		if b, err := os.ReadFile(cache); err == nil {
			if v, ok := strings.CutPrefix(string(b), key+" "); ok {
				return v == "yes"
			}
		}
	}
	found := contains(abs, needle)
	if cerr == nil && state.MkdirAll(filepath.Dir(cache)) == nil {
		ans := "no"
		if found {
			ans = "yes"
		}
		_ = state.WriteFileAtomic(cache, []byte(key+" "+ans))
	}
	return found
}

// contains scans the file in chunks (overlapping by len(needle)-1).
func contains(path string, needle []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	keep := 0
	for {
		n, err := io.ReadFull(f, buf[keep:])
		total := keep + n
		if bytes.Contains(buf[:total], needle) {
			return true
		}
		if err != nil {
			return false
		}
		keep = min(len(needle)-1, total)
		copy(buf, buf[total-keep:total])
	}
}
