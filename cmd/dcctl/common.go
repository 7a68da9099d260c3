package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// Exit codes, as README.md and every command's --help state them.
const (
	exitFailed  = 1
	exitRefused = 2
)

// codedError carries the exit code an error should end dcctl with.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// refused marks bad input or a failed pre-check: exit 2, nothing was changed.
func refused(err error) error { return &codedError{exitRefused, err} }

func usageError(err error) error { return refused(fmt.Errorf("%w (see --help)", err)) }

// failed marks an error already reported (a recap, a table): exit 1 quietly.
var errReported = errors.New("failed (see above)")

func exitCode(err error) int {
	if code := stopCode(err); code != 0 {
		return code
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	var ie *inventory.Error
	if errors.As(err, &ie) {
		return exitRefused
	}
	// urfave/cli's own "No help topic for ..." (`dcctl runbook help nosuch`),
	// which it gives exit code 3: a usage mistake like any other.
	var cliErr cli.ExitCoder
	if errors.As(err, &cliErr) && cliErr.ExitCode() == 3 {
		return exitRefused
	}
	return exitFailed
}

func inventoryFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "inventory",
		Aliases: []string{"i"},
		Usage:   "inventory `FILE` (default: first argument, $DCCTL_INVENTORY, ./inventory.toml)",
		EnvVars: []string{"DCCTL_INVENTORY"},
	}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
}

// inventoryPath resolves INVENTORY: positional argument, -i, $DCCTL_INVENTORY,
// ./inventory.toml, in that order. -i may come after the command or before
// it (`dcctl -i FILE provision`); the nearer one wins.
func inventoryPath(c *cli.Context, positional bool) string {
	if positional && c.Args().Len() > 0 {
		return c.Args().First()
	}
	// Every level of the command line has its own -i, each defaulting to
	// $DCCTL_INVENTORY: a value other than that one was given as -i.
	env := os.Getenv("DCCTL_INVENTORY")
	for _, cc := range c.Lineage() {
		if p := cc.String("inventory"); p != "" && p != env {
			return p
		}
	}
	if env != "" {
		return env
	}
	return "inventory.toml"
}

// loadInventory reads and validates the inventory; a problem is bad input (exit 2).
func loadInventory(c *cli.Context, positional bool) (*inventory.Inventory, error) {
	if positional {
		if err := atMostInventoryArg(c); err != nil {
			return nil, err
		}
	}
	path := inventoryPath(c, positional)
	if _, err := os.Stat(path); err != nil {
		return nil, refused(fmt.Errorf("inventory %s: %w", path, errors.Unwrap(err)))
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, refused(err)
	}
	return inv, nil
}

// atMostInventoryArg refuses arguments after INVENTORY: `dcctl status
// inventory.toml bb_1` must not run as if bb_1 had not been typed.
func atMostInventoryArg(c *cli.Context) error {
	if c.Args().Len() > 1 {
		return usageError(fmt.Errorf("%s: unexpected arguments %s (only INVENTORY)", commandName(c), strings.Join(c.Args().Slice()[1:], " ")))
	}
	return nil
}

// loadSecrets returns the users' passwords. It refuses (exit 2) when any is
// missing: only provision may create passwords.
func loadSecrets(inv *inventory.Inventory) (*inventory.Secrets, error) {
	sec, err := inventory.LoadSecrets(inv, os.Getenv)
	if err != nil {
		return nil, refused(err)
	}
	if err := loadTLS(inv, sec); err != nil {
		return nil, err
	}
	return sec, nil
}

// loadTLS gives the secrets the deployment's CA and node certificates from
// the TLS directory beside the inventory; it creates none (only provision
// does). A command that needs them and finds none says so itself.
func loadTLS(inv *inventory.Inventory, sec *inventory.Secrets) error {
	m, err := pki.Load(inv)
	if err != nil {
		return refused(err)
	}
	m.Apply(sec)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
