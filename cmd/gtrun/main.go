// Command gtrun wraps Gas Town's processes and exports their telemetry.
package main

import (
	"os"

	"github.com/gastown/gtrun/internal/cli"
)

func main() { os.Exit(cli.Main()) }
