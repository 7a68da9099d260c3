package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/provision"
)

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "node",
		Usage:     "systemd control of one node: start, stop, restart, kill (SIGKILL, for drills)",
		ArgsUsage: "start|stop|restart|kill NODE [INVENTORY]",
		Description: "Runs systemctl on NODE's host over SSH and checks the outcome.\n" +
			"stop goes through lame duck mode (leadership moves away first) and records\n" +
			"on the host that the node was stopped on purpose: provision then leaves it\n" +
			"stopped (it still updates its files), the unit is disabled so a reboot\n" +
			"does not start it, and status says so; start and restart clear the mark.\n" +
			"stop on a node replace-peer --permanent retired changes nothing and says so\n" +
			"(the mark keeps saying it was removed for good); start and restart refuse\n" +
			"such a node (exit 2): `dcctl runbook restore-node NODE` brings it back on\n" +
			"purpose, or remove it from the inventory.\n" +
			"kill sends SIGKILL, as a crash would, and keeps systemd from restarting\n" +
			"the server (the unit has Restart=on-failure), so the node stays down until\n" +
			"`dcctl node start NODE` or the next provision, which starts a crashed node.\n" +
			"stop and kill ask for confirmation, showing what\n" +
			"the cluster would lose; --yes skips the question, and without a terminal\n" +
			"and without --yes they refuse (exit 2) before changing anything.",
		Flags:  append([]cli.Flag{inventoryFlag(), yesFlag(), jsonFlag(), breakLockFlag()}, sshFlags()...),
		Action: runNode,
	}
}

func runNode(c *cli.Context) error {
	args := inventoryLast(c.Args().Slice(), 2)
	if len(args) < 2 || len(args) > 3 {
		return usageError(fmt.Errorf("node: want ACTION NODE [INVENTORY], ACTION one of %s", strings.Join(provision.UnitActions, ", ")))
	}
	action, name := args[0], args[1]
	if !slices.Contains(provision.UnitActions, action) {
		return usageError(fmt.Errorf("node: unknown action %q: want one of %s", action, strings.Join(provision.UnitActions, ", ")))
	}
	if len(args) == 3 {
		if err := c.Set("inventory", args[2]); err != nil {
			return err
		}
	}
	inv, err := loadInventory(c, false)
	if err != nil {
		return err
	}
	n := inv.Node(name)
	if n == nil {
		return refused(&inventory.UnknownNodeError{Name: name, Inventory: inv.File})
	}
	sec, err := loadSecrets(inv)
	if err != nil {
		return err
	}
	s := newSession(c, inv, sec, nil)
	defer s.Close()
	ctx := c.Context

	if action != provision.UnitKill {
		// A node replace-peer --permanent retired is stopped for good
		// already: a stop would only blur why, and a start would let it
		// rejoin its meta group as one peer too many while the group still
		// remembers it. restore-node is the way back on purpose.
		if st, err := s.UnitState(ctx, n.Name); err == nil && st.Retired() {
			if action == provision.UnitStop {
				return writeRetired(c, n.Name, st)
			}
			return refused(retiredStartError(inv, n.Name, action, st.StoppedBy))
		}
	}
	if action == provision.UnitStop || action == provision.UnitKill {
		unit := inv.NATS.Service + ".service"
		q := fmt.Sprintf("%s %s on %s (%s)?", action, unit, n.Name, n.Host)
		if action == provision.UnitKill {
			q = fmt.Sprintf("kill %s on %s (%s) with SIGKILL? It stays down until `dcctl node start %s`.", unit, n.Name, n.Host, n.Name)
		}
		// Without a terminal and without --yes confirm refuses anyway: do
		// not spend seconds on NATS first.
		if c.Bool("yes") || isTerminal(c.App.Reader) {
			if risk := lossRisk(ctx, s, inv, n); risk != "" {
				fmt.Fprintf(c.App.ErrWriter, "WARNING: %s\n", risk)
			}
		}
		if err := confirm(c, q); err != nil {
			return err
		}
	}
	ctx, release, err := takeLock(c, s, inv, nil, nil)
	if err != nil {
		return err
	}
	defer release()
	if err := graceful.Err(ctx); err != nil {
		return whyStopped(ctx, err)
	}
	_, end := graceful.Begin(ctx, action+" of "+n.Name)
	err = s.UnitCtl(ctx, n.Name, action)
	end()
	if err != nil {
		return whyStopped(ctx, err)
	}
	st, err := s.UnitState(ctx, n.Name)
	if err != nil {
		return fmt.Errorf("%s done on %s, but reading the unit state failed: %w", action, n.Name, err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Node   string              `json:"node"`
			Action string              `json:"action"`
			Unit   provision.UnitState `json:"unit"`
		}{n.Name, action, st})
	}
	fmt.Fprintf(c.App.Writer, "%s: %s %s: %s\n", n.Name, action, st.Unit, st)
	if action == provision.UnitStop {
		fmt.Fprintf(c.App.Writer, "it stays stopped (provision and reboots leave it so) until: dcctl node start %s %s\n", n.Name, inv.File)
	}
	if action == provision.UnitStart || action == provision.UnitRestart {
		fmt.Fprintf(c.App.Writer, "check that it rejoined: dcctl status %s --domain %s\n", inv.File, inv.Domain(n))
	}
	return nil
}

// writeRetired says that node is retired and that the stop changed nothing.
func writeRetired(c *cli.Context, node string, st provision.UnitState) error {
	note := provision.StoppedNote(node, st.StoppedBy)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Node    string              `json:"node"`
			Action  string              `json:"action"`
			Unit    provision.UnitState `json:"unit"`
			Changed bool                `json:"changed"`
			Note    string              `json:"note"`
		}{node, provision.UnitStop, st, false, note})
	}
	fmt.Fprintf(c.App.Writer, "%s: not stopped again, nothing changed: it is %s\n", node, note)
	return nil
}

// retiredStartError is node start's (or restart's) refusal of a node
// replace-peer --permanent retired: who retired it and when, and the two
// ways on.
func retiredStartError(inv *inventory.Inventory, node, action, by string) error {
	when, _ := strings.CutPrefix(by, provision.RemovedTag)
	return fmt.Errorf("%s: not %sed: it was removed from its meta group for good by `dcctl runbook replace-peer %s --permanent` (%s); "+
		"started on its own it would rejoin as one peer too many while the meta group remembers it. "+
		"To bring it back on purpose: dcctl runbook restore-node %s %s (it starts the node and waits until it is a current peer); "+
		"if it is gone for good, remove [nodes.%s] from %s",
		node, action, node, when, node, inv.File, node, inv.File)
}

// lossRisk says what losing n now would cost its domain (meta quorum,
// streams without current replicas), or "" when nothing or when that cannot
// be found out quickly: a drill may break quorum on purpose, so this informs
// the question rather than refusing.
func lossRisk(ctx context.Context, s *provision.Session, inv *inventory.Inventory, n *inventory.Node) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nc, err := s.NATS(ctx)
	if err != nil {
		return ""
	}
	return settledRisk(ctx, riskSettle, riskPoll, func() error { return nc.CanLose(ctx, inv.Domain(n), n.Name) })
}

// How long lossRisk asks again before it warns: a follower of a stream
// that takes writes is one message behind at many an instant, and one
// sample of that made `node stop` say the node "cannot be taken down
// safely" on a healthy cluster.
const (
	riskSettle = 3 * time.Second
	riskPoll   = 200 * time.Millisecond
)

// settledRisk asks canLose until it passes or settle has gone by, and
// returns its last unsafe answer, or "" (passed, or no answer at all).
func settledRisk(ctx context.Context, settle, interval time.Duration, canLose func() error) string {
	var last error
	_ = jetstream.PollFor(ctx, settle, interval, func() error {
		err := canLose()
		if err != nil && !jetstream.IsUnsafe(err) {
			return nil // cannot be found out: say nothing
		}
		last = err
		return err
	})
	if last == nil {
		return ""
	}
	return last.Error()
}
