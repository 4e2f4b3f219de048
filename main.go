// Command embargo releases a coordinated security fix for a Rust project on
// time: see `embargo --help`.
package main

import (
	"os"

	"github.com/async-rs/embargo/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
