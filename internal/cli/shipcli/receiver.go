package shipcli

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/gastown/gtrun/internal/export"
	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/shipper"
)

// ListenFD is the descriptor a call hands its bound receiver socket on
// (exec.Cmd.ExtraFiles[0]).
const ListenFD = 3

// handedListener returns the socket the starting call bound, if any.
func handedListener(on bool) net.Listener {
	if !on {
		return nil
	}
	f := os.NewFile(ListenFD, "receiver")
	if f == nil {
		return nil
	}
	defer f.Close() // FileListener dups it
	ln, err := net.FileListener(f)
	if err != nil {
		return nil
	}
	return ln
}

// receiveHandler is the OTLP receiver's HTTP side for the agent in dir.
func receiveHandler(j *journal.Journal, dir string, logw io.Writer) *export.Receive {
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "%s %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	m, err := shipper.NewMerger(dir)
	if err != nil {
		logf("receiver: merge state unreadable (%v): starting empty", err)
	}
	return &export.Receive{Journal: j, Dir: dir, Merger: m, Version: version(), Logf: logf}
}
