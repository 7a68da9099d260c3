// Command stubnats stands in for nats-server on the simulated hosts of
// bench/sim, which cannot run 1000 real servers on one machine. It answers
// the two things provision asks of the binary itself: `--version`, and
// `-t -c FILE`, which it checks with nats-server's own configuration parser
// (includes resolved as nats-server resolves them). It never serves NATS:
// the simulated hosts answer the monitoring endpoints themselves.
package main

import (
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/conf"
)

const version = "nats-server: v2.15.2-sim (bench/sim stub, serves nothing)"

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 1 && (args[0] == "--version" || args[0] == "-v"):
		fmt.Println(version)
	case len(args) == 3 && args[0] == "-t" && args[1] == "-c":
		if _, err := conf.ParseFileWithChecks(args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "nats-server: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("nats-server: configuration file %s test is successful\n", args[2])
	default:
		fmt.Fprintf(os.Stderr, "stub nats-server: %q is not simulated\n", args)
		os.Exit(2)
	}
}
