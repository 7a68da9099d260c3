package main

import (
	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/runbooks"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     summary(&runbooks.Backup{}),
		ArgsUsage: "STREAM [INVENTORY]",
		Description: "Runs the backup runbook: finds the stream in whichever JetStream account has it\n" +
			"(--account when two have one of that name), checks it is file-backed (nats-server\n" +
			"cannot snapshot memory streams), reads every message for a digest, snapshots the\n" +
			"stream with its consumers into DIR and writes dcctl-manifest.json beside the\n" +
			"archive. DIR must not hold a finished backup. If the stream changed while it was\n" +
			"backed up, the run fails (exit 1): stop its publishers, or back up a mirror.\n" +
			"Restore with `dcctl runbook restore-stream --from DIR`.",
		Flags: runbookFlags(
			domainFlag(true),
			accountFlag(findAccountUsage),
			&cli.StringFlag{Name: "out", Required: true, Usage: "backup `DIR` (created)"},
		),
		Action: func(c *cli.Context) error {
			stream, err := oneArg(c, "STREAM")
			if err != nil {
				return err
			}
			return runRunbook(c, &runbooks.Backup{Stream: stream, Domain: c.String("domain"), Account: c.String("account"), Dir: c.String("out")})
		},
	}
}
