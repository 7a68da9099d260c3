package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	pretty "github.com/jedib0t/go-pretty/v6/table"
	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/runbooks"
)

func runbookCommand() *cli.Command {
	return &cli.Command{
		Name:  "runbook",
		Usage: "operator procedures: pre-checks, steps, post-checks, with a journal",
		Description: "Every runbook runs read-only pre-checks first: any failure refuses (exit 2) and\n" +
			"says why and what to do instead. Then its steps, each logged; destructive ones are\n" +
			"confirmed once before the first step (--yes skips the question; without a terminal\n" +
			"and without --yes the run is refused). Then post-checks prove the outcome (exit 1\n" +
			"if they cannot). --dry-run runs the pre-checks and lists the steps. Each run writes\n" +
			"a journal of JSON lines under <inventory dir>/.dcctl/journal/ (--json prints its\n" +
			"entries on stdout as they are written, the log then on stderr). Ctrl-C lets the\n" +
			"step under way finish (a restart with its health gate) and runs no further step\n" +
			"(exit 130; a second Ctrl-C aborts at once). A run interrupted halfway converges\n" +
			"when run again: steps already done are skipped. Runbooks act on the streams of\n" +
			"every JetStream account; one taking a stream name refuses a name two accounts\n" +
			"have until --account says which.\n" +
			"See docs/runbooks.md.",
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "describe every runbook",
				Flags:  []cli.Flag{jsonFlag()},
				Action: runRunbookList,
			},
			{
				Name:      "replace-peer",
				Usage:     summary(&runbooks.ReplacePeer{}),
				ArgsUsage: "NODE [INVENTORY]",
				Flags: runbookFlags(
					&cli.StringFlag{Name: "replacement", Usage: "provision and start `NEWNODE` (a node of the same cluster in the inventory, usually standby = true) first"},
					&cli.BoolFlag{Name: "permanent", Usage: "also remove NODE from the meta group (it is gone for good)"},
					&cli.BoolFlag{Name: "force", Usage: "do not require evidence that NODE is down (it answers pings, its unit is active, or its host cannot be reached and may be alive behind a partition); the risk is printed and journaled"},
				),
				Action: func(c *cli.Context) error {
					node, err := oneArg(c, "NODE")
					if err != nil {
						return err
					}
					return runRunbook(c, &runbooks.ReplacePeer{Node: node, Replacement: c.String("replacement"), Permanent: c.Bool("permanent"), Force: c.Bool("force")})
				},
			},
			{
				Name:      "expand-stream",
				Usage:     summary(&runbooks.ExpandStream{}),
				ArgsUsage: "STREAM [INVENTORY]",
				Flags: runbookFlags(
					domainFlag(true),
					accountFlag(findAccountUsage),
					&cli.IntFlag{Name: "replicas", Value: 3, Usage: "replica count `N` to reach"},
					tagFlag(),
				),
				Action: func(c *cli.Context) error {
					stream, err := oneArg(c, "STREAM")
					if err != nil {
						return err
					}
					return runRunbook(c, &runbooks.ExpandStream{Stream: stream, Domain: c.String("domain"), Account: c.String("account"), Replicas: c.Int("replicas"), Tags: c.StringSlice("tag")})
				},
			},
			runbookBackupCommand(),
			{
				Name:      "restore-stream",
				Usage:     summary(&runbooks.RestoreStream{}),
				ArgsUsage: "[INVENTORY]",
				Flags: runbookFlags(
					&cli.StringFlag{Name: "from", Required: true, Usage: "backup `DIR` written by dcctl backup"},
					&cli.StringFlag{Name: "as", Usage: "the restored stream's `NAME` (default: the backed-up stream's); a backup taken from nats-server v2.15 or later; the subjects stay the backup's"},
					domainFlag(false),
					accountFlag("the JetStream `ACCOUNT` to restore into (default: the backed-up stream's, as its manifest names it)"),
					&cli.IntFlag{Name: "replicas", Usage: "replica count `N` (default: the backed-up stream's); restored as R1, then scaled up; fewer than the backup's is confirmed as destructive"},
					tagFlag(),
				),
				Action: func(c *cli.Context) error {
					if err := optionalInventoryArg(c, 0); err != nil {
						return err
					}
					return runRunbook(c, &runbooks.RestoreStream{From: c.String("from"), As: c.String("as"), Domain: c.String("domain"), Account: c.String("account"), Replicas: c.Int("replicas"), Tags: c.StringSlice("tag")})
				},
			},
			{
				Name:      "restore-node",
				Usage:     summary(&runbooks.RestoreNode{}),
				ArgsUsage: "NODE [INVENTORY]",
				Flags: runbookFlags(
					&cli.BoolFlag{Name: "force", Usage: "go on although NODE's unit is active while it is not a current member of its cluster (cut off by a partition, or stuck): it may be re-provisioned while serving clients"},
				),
				Action: func(c *cli.Context) error {
					node, err := oneArg(c, "NODE")
					if err != nil {
						return err
					}
					return runRunbook(c, &runbooks.RestoreNode{Node: node, Force: c.Bool("force")})
				},
			},
			{
				Name:      "rolling-restart",
				Usage:     summary(&runbooks.RollingRestart{}),
				ArgsUsage: "[INVENTORY]",
				Flags:     runbookFlags(&cli.StringFlag{Name: "cluster", Usage: "only this `CLUSTER` (default: all, one cluster after the other)"}),
				Action: func(c *cli.Context) error {
					if err := optionalInventoryArg(c, 0); err != nil {
						return err
					}
					return runRunbook(c, &runbooks.RollingRestart{Cluster: c.String("cluster")})
				},
			},
			{
				Name:      "upgrade",
				Usage:     summary(&runbooks.Upgrade{}),
				ArgsUsage: "[INVENTORY]",
				Description: "Reads the new binary's release from its Go build information (it is not run\n" +
					"here) and refuses (exit 2) a release older by a minor or major release than a\n" +
					"running server's (/varz) unless --allow-downgrade, a binary whose architecture\n" +
					"is not every host's, a node whose unit is not active, a domain without meta\n" +
					"quorum or with a stream not current. Then stages the binary as\n" +
					"<install_path>.next on every host (verified, run with --version there; nothing\n" +
					"running is touched), and swaps one node at a time: hub clusters before their\n" +
					"leaves, each cluster's meta leader last after a step-down; per node the health\n" +
					"gate, lame-duck stop, the swap (the old binary kept as <install_path>.previous),\n" +
					"start, and the gate again, which also wants /varz to report the new release.\n" +
					"The first node that fails stops the rollout and says where (the journal too).\n" +
					"--rollback puts .previous back on every node that keeps one of another\n" +
					"release, leaves before their hub, gated the same way. Post-checks: every node\n" +
					"runs its release, every stream current with its recorded messages intact.\n" +
					"Point nats.binary at the release you keep, or the next provision changes it\n" +
					"again. See docs/runbooks.md.",
				Flags: runbookFlags(
					&cli.StringFlag{Name: "binary", Usage: "the new nats-server `FILE` (a Linux build for the hosts' architecture)"},
					&cli.StringFlag{Name: "cluster", Usage: "only this `CLUSTER` (default: all, hub clusters before their leaves)"},
					allowDowngradeFlag(),
					&cli.BoolFlag{Name: "rollback", Usage: "put <install_path>.previous back on the nodes that keep one of another release"},
				),
				Action: func(c *cli.Context) error {
					if err := optionalInventoryArg(c, 0); err != nil {
						return err
					}
					rb := &runbooks.Upgrade{Binary: c.String("binary"), Cluster: c.String("cluster"), AllowDowngrade: c.Bool("allow-downgrade"), Rollback: c.Bool("rollback")}
					switch {
					case rb.Rollback && rb.Binary != "":
						return usageError(fmt.Errorf("upgrade: --rollback puts the kept binary back; it takes no --binary"))
					case !rb.Rollback && rb.Binary == "":
						return usageError(fmt.Errorf("upgrade: missing --binary FILE (or --rollback)"))
					}
					inv, err := loadInventory(c, false)
					if err != nil {
						return err
					}
					if err := runRunbookWith(c, inv, rb); err != nil {
						return err
					}
					if note := rb.InventoryNote(inv); note != "" && !c.Bool("dry-run") {
						fmt.Fprintln(c.App.ErrWriter, note)
					}
					return nil
				},
			},
			{
				Name:      "rotate-passwords",
				Usage:     summary(&runbooks.RotatePasswords{}),
				ArgsUsage: "[INVENTORY]",
				Description: "Without --finish: new passwords are saved in the secrets file (the file as it was is\n" +
					"kept as <secrets>.previous), every server accepts a companion user <USER>-next with\n" +
					"the new password beside the unchanged one (a reload), and the leaf links move to\n" +
					"the companion (gated restarts of the leaf nodes). Clients keep working with the old\n" +
					"password. With --finish: the user's own name takes the new password (clients still\n" +
					"on the old one are disconnected: nats-server takes one password per user name),\n" +
					"the leaf links come back to the user's name, the companion is dropped.\n" +
					"See docs/runbooks.md.",
				Flags: runbookFlags(
					&cli.StringSliceFlag{Name: "user", Usage: "rotate only `USER` (repeatable; default: every user, or every rotating user with --finish)"},
					&cli.BoolFlag{Name: "finish", Usage: "switch the users to their new passwords and drop the old ones"},
					&cli.BoolFlag{Name: "replace-lost", Usage: "the passwords are lost (no secrets file, or users missing from it): generate new ones and roll them out at once; every client then needs them"},
				),
				Action: func(c *cli.Context) error {
					if err := optionalInventoryArg(c, 0); err != nil {
						return err
					}
					rb := &runbooks.RotatePasswords{Users: c.StringSlice("user"), Finish: c.Bool("finish"), ReplaceLost: c.Bool("replace-lost")}
					if !rb.ReplaceLost {
						return runRunbook(c, rb)
					}
					inv, err := loadInventory(c, false)
					if err != nil {
						return err
					}
					sec, err := inventory.PrepareSecrets(inv, os.Getenv)
					if err != nil {
						return refused(err)
					}
					if err := loadTLS(inv, sec); err != nil {
						return err
					}
					return runRunbookSecrets(c, inv, sec, rb)
				},
			},
			{
				Name:      "rotate-certs",
				Usage:     summary(&runbooks.RotateCerts{}),
				ArgsUsage: "[INVENTORY]",
				Description: "Without flags: every node gets a new key and certificate from the deployment's CA\n" +
					"(saved in <inventory>.tls/ first), then node by node, each cluster's meta leader last:\n" +
					"the files are uploaded, checked and installed as provision does, the node reloads\n" +
					"(nats-server takes new TLS files on its listeners at a reload and keeps its\n" +
					"connections; a leaf node restarts behind the gate, its leafnode remotes take new\n" +
					"files only then), and the run waits until the node is healthy and current and every\n" +
					"listener shows the new certificate.\n" +
					"With --new-ca: a new CA is created beside the old one and every server is made to\n" +
					"trust both, still showing its certificate from the old CA. Then give every client\n" +
					"<inventory>.tls/ca-bundle.pem (dcctl context export writes it into natscli contexts).\n" +
					"With --finish: every node gets a certificate from the new CA (clients trusting only\n" +
					"the old CA are refused from then on), every server trusts the new CA alone, and the\n" +
					"old CA's files move to <inventory>.tls/retired/.\n" +
					"Refused with the operator's own CA (tls.ca_file): renew those files and run\n" +
					"provision. An interrupted run continues where it stopped when run again.\n" +
					"See docs/runbooks.md and docs/security.md.",
				Flags: runbookFlags(
					&cli.BoolFlag{Name: "new-ca", Usage: "begin a move to a new CA: create it, every server trusts both"},
					&cli.BoolFlag{Name: "finish", Usage: "end the move to the new CA: certificates from it, the old CA dropped and retired"},
				),
				Action: func(c *cli.Context) error {
					if err := optionalInventoryArg(c, 0); err != nil {
						return err
					}
					return runRunbook(c, &runbooks.RotateCerts{NewCA: c.Bool("new-ca"), Finish: c.Bool("finish")})
				},
			},
		},
	}
}

// runbookBackupCommand is `dcctl backup` under the name of the runbook it
// runs, for an operator who looks for it among the runbooks, and as
// backup-stream beside its pair restore-stream.
func runbookBackupCommand() *cli.Command {
	cmd := backupCommand()
	cmd.Hidden = true
	cmd.Aliases = []string{"backup-stream"}
	cmd.Usage += " (the same as dcctl backup)"
	return cmd
}

// summary is a runbook's one line, as it describes itself: the CLI's help,
// `runbook list` and docs/runbooks.md say the same (TestRunbooksDescribeThemselves).
func summary(rb runbooks.Runbook) string { return rb.Describe().Short }

// runbookFlags are the flags every runbook takes, then its own.
func runbookFlags(own ...cli.Flag) []cli.Flag {
	flags := append([]cli.Flag{inventoryFlag(), yesFlag(),
		&cli.BoolFlag{Name: "json", Usage: "print the run as JSON lines on stdout, one per journal entry (the log goes to stderr)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "run the pre-checks and list the steps; change nothing"},
		&cli.DurationFlag{Name: "timeout", Value: 3 * time.Minute, Usage: "bound on each wait (replica catch-up, meta peer, health)"},
		breakLockFlag(), withoutLockFlag(),
	}, own...)
	return append(flags, sshFlags()...)
}

func domainFlag(required bool) cli.Flag {
	return &cli.StringFlag{Name: "domain", Required: required, Usage: "JetStream `DOMAIN`"}
}

// accountFlag picks the JetStream account of a stream named by its name:
// two accounts may each have one of that name.
func accountFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "account", Usage: usage}
}

const findAccountUsage = "the JetStream `ACCOUNT` the stream is in (default: whichever account has it; required when two have a stream of that name)"

// oneArg takes the runbook's subject (NODE, STREAM) and an optional
// INVENTORY after it (or before it: inventoryLast).
func oneArg(c *cli.Context, what string) (string, error) {
	args := inventoryLast(c.Args().Slice(), 1)
	if len(args) < 1 {
		return "", usageError(fmt.Errorf("%s: missing %s", c.Command.Name, what))
	}
	if err := inventoryArgAt(c, args, 1); err != nil {
		return "", err
	}
	return args[0], nil
}

// optionalInventoryArg accepts INVENTORY as the positional argument at index i.
func optionalInventoryArg(c *cli.Context, i int) error {
	return inventoryArgAt(c, c.Args().Slice(), i)
}

func inventoryArgAt(c *cli.Context, args []string, i int) error {
	switch n := len(args); {
	case n == i:
		return nil
	case n == i+1:
		return c.Set("inventory", args[i])
	default:
		return usageError(fmt.Errorf("%s: unexpected arguments %s", c.Command.Name, strings.Join(args[i:], " ")))
	}
}

// runRunbook wires a runbook to the inventory, a session and the terminal.
func runRunbook(c *cli.Context, rb runbooks.Runbook) error {
	inv, err := loadInventory(c, false)
	if err != nil {
		return err
	}
	return runRunbookWith(c, inv, rb)
}

func runRunbookWith(c *cli.Context, inv *inventory.Inventory, rb runbooks.Runbook) error {
	// An unknown name is the operator's mistake: said before any secret is read.
	if err := runbooks.KnownNames(inv, rb); err != nil {
		return refused(err)
	}
	sec, err := loadSecrets(inv)
	if err != nil {
		return err
	}
	return runRunbookSecrets(c, inv, sec, rb)
}

func runRunbookSecrets(c *cli.Context, inv *inventory.Inventory, sec *inventory.Secrets, rb runbooks.Runbook) error {
	// With --json stdout carries the journal's entries alone, as JSON lines;
	// the log an operator reads goes to stderr.
	out, events := c.App.Writer, io.Writer(nil)
	if c.Bool("json") {
		out, events = c.App.ErrWriter, c.App.Writer
	}
	bars := newHostBars(out)
	s := newSession(c, inv, sec, bars)
	defer s.Close()
	ctx := c.Context
	if !c.Bool("dry-run") {
		lctx, release, err := takeLock(c, s, inv, runbooks.Clusters(inv, rb), nil)
		if err != nil {
			return err
		}
		defer release()
		ctx = lctx
	}
	if bars != nil {
		out = bars
		defer bars.done()
	}
	e := &runbooks.Env{
		Inv: inv, Session: s, Hosts: runbooks.SystemdHosts{S: s},
		Out:     out,
		Events:  events,
		Timeout: c.Duration("timeout"),
		DryRun:  c.Bool("dry-run"),
		Confirm: func(q string) error { return confirm(c, q) },
		Version: version,
	}
	err := runbooks.Run(ctx, e, rb)
	var r *runbooks.RefusedError
	if errors.As(err, &r) && graceful.Err(ctx) == nil {
		return refused(err)
	}
	return whyStopped(ctx, err)
}

func runRunbookList(c *cli.Context) error {
	cat := runbooks.Catalog()
	if c.Bool("json") {
		return writeJSON(c.App.Writer, cat)
	}
	w := c.App.Writer
	for i, d := range cat {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s %s\n  %s\n", d.Command, d.Usage, d.Short)
		tw := pretty.NewWriter()
		st := pretty.StyleDefault
		st.Options = pretty.OptionsNoBordersAndSeparators
		st.Options.SeparateColumns = true
		st.Box.PaddingLeft, st.Box.PaddingRight, st.Box.MiddleVertical = "", "", " "
		tw.SetStyle(st)
		tw.SuppressTrailingSpaces()
		for _, sec := range []struct {
			title string
			items []string
		}{{"pre-checks", d.Pre}, {"steps", d.Steps}, {"post-checks", d.Post}} {
			for j, it := range sec.items {
				title := ""
				if j == 0 {
					title = "  " + sec.title + ":"
				}
				tw.AppendRow(pretty.Row{title, it})
			}
		}
		fmt.Fprintln(w, tw.Render())
	}
	return nil
}

// tagFlag places a stream's replicas by server tag (JetStream placement):
// every node carries dc:<dc>, plus the inventory's server_tags.
func tagFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "tag", Usage: "place every replica on servers carrying `TAG` (repeatable: all of them); every node carries dc:<its dc>, e.g. --tag dc:us"}
}
