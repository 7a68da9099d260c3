package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/status"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "per domain: servers, meta group, streams, leafnode links, units, warnings (exit 1 when degraded)",
		ArgsUsage: "[INVENTORY]",
		Description: "Asks NATS (through SSH, or straight with --direct) and systemd on every host,\n" +
			"all in parallel and each with a deadline: hosts that are down are reported as\n" +
			"offline or unreachable within a few seconds. Every server's /healthz verdict\n" +
			"is read too (a 503 is shown with the server's reason). Exit 0 when everything is\n" +
			"healthy, 1 when anything is degraded or unreachable. --json prints the\n" +
			"report documented in docs/status.md; --watch redraws it every second until\n" +
			"Ctrl-C (with --json: one report per line).",
		Flags: append([]cli.Flag{
			inventoryFlag(), jsonFlag(),
			&cli.StringFlag{Name: "domain", Usage: "only this JetStream `DOMAIN`"},
			&cli.BoolFlag{Name: "watch", Usage: "redraw every second until Ctrl-C"},
			&cli.BoolFlag{Name: "no-units", Usage: "do not ask systemd over SSH for the unit states"},
			&cli.StringFlag{Name: "from-dc", Usage: "ask NATS through a server of data center `DC` when one answers: across a cut between DCs, the view from that side"},
		}, statusSSHFlags()...),
		Action: runStatus,
	}
}

// statusSSHFlags are sshFlags with a shorter dial timeout: status must
// answer within seconds, and a host that takes longer to accept SSH is
// reported unreachable rather than waited for.
func statusSSHFlags() []cli.Flag {
	flags := sshFlags()
	for _, f := range flags {
		if df, ok := f.(*cli.DurationFlag); ok && df.Name == "ssh-timeout" {
			df.Value = 3 * time.Second
		}
	}
	return flags
}

func runStatus(c *cli.Context) error {
	inv, err := loadInventory(c, true)
	if err != nil {
		return err
	}
	if d := c.String("domain"); d != "" && inv.ClusterByDomain(d) == nil {
		return refused(fmt.Errorf("domain %q is not in inventory %s", d, inv.File))
	}
	if dc := c.String("from-dc"); dc != "" && !slices.Contains(inv.DCs(), dc) {
		return refused(fmt.Errorf("--from-dc %q: no node of inventory %s is in that data center (DCs: %s)", dc, inv.File, strings.Join(inv.DCs(), ", ")))
	}
	sec, err := loadSecrets(inv)
	if err != nil {
		return err
	}
	s := newSession(c, inv, sec, nil)
	defer s.Close()
	for _, u := range sec.Rotating() {
		// On stderr: the report itself (and --json) stays what the servers say.
		fmt.Fprintf(c.App.ErrWriter, "dcctl: the password rotation of %s is under way (stage %s): clients can log in as %s%s with the new password; end it with dcctl runbook rotate-passwords --finish --user %s\n",
			u, sec.Rotation(u), u, inventory.CompanionSuffix, u)
	}
	if note := certRotationNote(inv); note != "" {
		fmt.Fprintln(c.App.ErrWriter, note)
	}
	// --no-units with --direct asks nothing through SSH.
	opts := status.Options{Domain: c.String("domain"), Units: !c.Bool("no-units"), Routes: !c.Bool("no-units") || !c.Bool("direct")}
	if c.Bool("watch") {
		return watchStatus(c, s, opts)
	}
	// Read-only: an interrupt ends it at once.
	ctx, cancel := graceful.Cut(c.Context)
	defer cancel()
	r, err := status.Collect(ctx, s, opts)
	if err != nil {
		return refused(err)
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
	} else {
		r.Write(c.App.Writer)
	}
	return statusExit(r)
}

// statusExit is exit 0 for a healthy report, 1 otherwise, so that scripts
// and monitors can use dcctl status as a check.
func statusExit(r *status.Report) error {
	if r.Healthy {
		return nil
	}
	return errNotHealthy
}

// errNotHealthy ends a status that found problems: exit 1, like a failed
// command, but "dcctl: failed" after a complete report read as if status
// itself had failed to collect it.
var errNotHealthy = errors.New("the deployment is not healthy (exit 1): see the warnings")

// watchStatus redraws the report every second, the way operators watch
// `nats server report jetstream`. The whole frame is rendered first and then
// written with one clear-screen, so the screen does not flicker. Ctrl-C ends
// it; the exit code is that of the last report.
func watchStatus(c *cli.Context, s *provision.Session, opts status.Options) error {
	ctx, cancel := graceful.Cut(c.Context)
	defer cancel()
	const interval = time.Second
	var last *status.Report
	for {
		began := time.Now()
		r, err := status.Collect(ctx, s, opts)
		if ctx.Err() != nil {
			break // interrupted while collecting: keep the last full frame
		}
		if err != nil {
			return refused(err)
		}
		last = r
		var frame bytes.Buffer
		if c.Bool("json") {
			if err := json.NewEncoder(&frame).Encode(r); err != nil {
				return err
			}
		} else {
			frame.WriteString("\033[H\033[2J")
			fmt.Fprintf(&frame, "dcctl status %s (every %s, Ctrl-C to stop)\n\n", s.Inv.File, interval)
			r.Write(&frame)
		}
		if _, err := c.App.Writer.Write(frame.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(began.Add(interval))):
			continue
		}
		break
	}
	if last == nil {
		return errors.New("interrupted before the first report")
	}
	return statusExit(last)
}
