package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// strictUsage makes every mistake on the command line bad input: exit 2,
// one line on stderr, nothing done. Left to itself urfave/cli exits 1 for an
// unknown flag or a missing required flag of a command (3 for an unknown
// command) and prints the whole help on stdout, where a script reading the
// output does not expect it.
func strictUsage(app *cli.App) {
	app.Action = unknownCommand
	strictCommands(app.Commands)
}

func strictCommands(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError(err) }
		if required := takeRequired(cmd.Flags); len(required) > 0 {
			cmd.Before = requireFlags(required, cmd.Before)
		}
		if positive := positiveFlags(cmd.Flags); len(positive) > 0 {
			cmd.Before = requirePositive(positive, cmd.Before)
		}
		if len(cmd.Subcommands) > 0 {
			if cmd.Action == nil {
				cmd.Action = unknownCommand
			}
			strictCommands(cmd.Subcommands)
		}
	}
}

// takeRequired lists the flags declared Required and lets requireFlags check
// them instead of urfave/cli.
func takeRequired(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
			sf.Required = false
			names = append(names, sf.Name)
		}
	}
	return names
}

func requireFlags(names []string, next cli.BeforeFunc) cli.BeforeFunc {
	return func(c *cli.Context) error {
		var missing []string
		for _, n := range names {
			if c.String(n) == "" {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			return usageError(fmt.Errorf("%s: missing %s", commandName(c), strings.Join(missing, ", ")))
		}
		if next != nil {
			return next(c)
		}
		return nil
	}
}

// positiveFlags are the flags that bound something (timeouts) or size it
// (--concurrency): zero or less would silently mean the default.
func positiveFlags(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.DurationFlag:
			names = append(names, f.Name)
		case *cli.IntFlag:
			if f.Name == "concurrency" {
				names = append(names, f.Name)
			}
		}
	}
	return names
}

func requirePositive(names []string, next cli.BeforeFunc) cli.BeforeFunc {
	return func(c *cli.Context) error {
		for _, n := range names {
			if !c.IsSet(n) {
				continue
			}
			var bad bool
			switch v := c.Value(n).(type) {
			case time.Duration:
				bad = v <= 0
			case int:
				bad = v <= 0
			}
			if bad {
				return usageError(fmt.Errorf("%s: --%s must be more than 0", commandName(c), n))
			}
		}
		if next != nil {
			return next(c)
		}
		return nil
	}
}

// unknownCommand is the action of dcctl and of each command that only groups
// others (runbook, context): help when called alone, bad input otherwise.
func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowSubcommandHelp(c)
	}
	if name := commandName(c); name != "" {
		return usageError(fmt.Errorf("%s: unknown command %q", name, c.Args().First()))
	}
	return usageError(fmt.Errorf("unknown command %q", c.Args().First()))
}

// commandName is the command as typed after dcctl ("runbook expand-stream"),
// empty for dcctl itself.
func commandName(c *cli.Context) string {
	if c.Command == nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(c.Command.HelpName, c.App.Name), " ")
}
