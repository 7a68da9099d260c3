// Command dcctl provisions and operates a two-data-center NATS JetStream
// deployment over SSH. This package only wires the command line: flags,
// output format and exit codes. The work lives in the packages it imports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Output piped into a reader that went away (`dcctl ... | head -1`)
	// must not kill a run halfway and leave the deployment lock behind:
	// writes then fail and the run goes on.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := interruptible(context.Background(), os.Stderr)
	code := runContext(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "dcctl",
		Usage: "provision and operate a two-data-center NATS JetStream deployment over SSH",
		Description: "INVENTORY is the first argument of the commands that take one, or -i FILE, or\n" +
			"$DCCTL_INVENTORY, or ./inventory.toml.\n\n" +
			"Exit codes: 0 done, 1 failed, 2 refused by a pre-check or bad input,\n" +
			"130 interrupted. The first SIGINT (Ctrl-C) or SIGTERM lets the steps under way\n" +
			"finish (a restart with its health gate, each within its own timeout), starts no\n" +
			"new one, releases the deployment lock and exits; a second one, a second or more\n" +
			"later, aborts at once: the commands under way are cut short, the lock is still\n" +
			"released.",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     []cli.Flag{inventoryFlag()},
		// Each command lives in its own cmd_<verb>.go file.
		Commands: []*cli.Command{
			validateCommand(),
			renderCommand(),
			graphCommand(),
			planCommand(),
			provisionCommand(),
			runbookCommand(),
			backupCommand(),
			statusCommand(),
			nodeCommand(),
			contextCommand(),
		},
		// run() prints errors and picks the exit code; cli must not exit itself.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError(err)
		},
	}
	strictUsage(app)
	return app
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext runs dcctl under ctx; a cancelled ctx (the operator's signal)
// ends the command with its cause's exit code.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	var intr *interruptedError
	// An outcome already reported (status --watch's last frame) keeps its
	// code; any other error of an interrupted run is the interrupt's.
	if errors.As(graceful.Err(ctx), &intr) && err != nil && !errors.Is(err, errReported) {
		err = whyStopped(ctx, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dcctl: %v\n", err)
		return exitCode(err)
	}
	return 0
}
