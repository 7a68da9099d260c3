package main

import (
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags before its positional arguments.
// urfave/cli stops parsing flags at the first positional, but operators write
// `dcctl provision inventory.toml --check` as they would with ansible or git.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// `dcctl help runbook expand-stream` is read as git and go read it:
	// the help of that command.
	if args[1] == "help" {
		return append(append([]string{args[0]}, args[2:]...), "--help")
	}
	out := []string{args[0]}
	rest := args[1:]
	// Walk down the command tree: global flags, then command names.
	cmds := app.Commands
	flags := app.Flags
	var cmd *cli.Command
	for len(rest) > 0 {
		a := rest[0]
		if strings.HasPrefix(a, "-") {
			n := flagArity(flags, a)
			if n > len(rest) {
				n = len(rest)
			}
			out = append(out, rest[:n]...)
			rest = rest[n:]
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		cmd = next
		out = append(out, a)
		rest = rest[1:]
		cmds, flags = cmd.Subcommands, cmd.Flags
	}
	if cmd == nil {
		return args
	}
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			n := flagArity(flags, a)
			end := i + n
			if end > len(rest) {
				end = len(rest)
			}
			fl = append(fl, rest[i:end]...)
			i = end - 1
			continue
		}
		pos = append(pos, a)
	}
	out = append(out, fl...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// flagArity is 1 for a boolean flag or -f=value, 2 for a flag taking a value.
func flagArity(flags []cli.Flag, arg string) int {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return 1
			}
			return 2
		}
	}
	// help and version are added by cli itself
	return 1
}

// inventoryLast moves INVENTORY after a command's n other arguments when it
// was written before them, as `dcctl provision inventory.toml` has it:
// `dcctl node inventory.toml stop bb_1`, `dcctl runbook replace-peer
// inventory.toml bb_1`. It is told apart from a node or stream name by being
// the one argument that is an existing file named *.toml.
func inventoryLast(args []string, n int) []string {
	if len(args) != n+1 {
		return args
	}
	at := -1
	for i, a := range args {
		if isTOMLFile(a) {
			if at >= 0 {
				return args
			}
			at = i
		}
	}
	if at < 0 || at == n {
		return args
	}
	out := append(append([]string{}, args[:at]...), args[at+1:]...)
	return append(out, args[at])
}

func isTOMLFile(p string) bool {
	if !strings.HasSuffix(p, ".toml") {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
