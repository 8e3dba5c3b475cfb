// Command parley is Parley's single binary: run "parley serve" to start a
// node, "parley --help" for the other commands.
package main

import (
	"os"

	"github.com/parleyhq/parley/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}))
}
