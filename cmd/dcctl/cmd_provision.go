package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
)

func limitFlag() cli.Flag {
	// Repeatable as well: `--limit a --limit b` must not silently mean b alone.
	return &cli.StringSliceFlag{Name: "limit", Usage: "only these `NODES` (comma-separated server names; repeatable)"}
}

func concurrencyFlag() cli.Flag {
	return &cli.IntFlag{Name: "concurrency", Value: 16, Usage: "hosts worked on at once"}
}

func allowDowngradeFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-downgrade", Usage: "let a new nats.binary be older by a minor or major release than a running server"}
}

func provisionCommand() *cli.Command {
	return &cli.Command{
		Name:      "provision",
		Usage:     "make every host match the inventory: binary, config, unit; rolling restarts behind health gates",
		ArgsUsage: "[INVENTORY]",
		Description: "Gathers facts from every host in one round trip each, plans, and applies:\n" +
			"refuses (exit 2, nothing uploaded) a nats.binary built for another\n" +
			"architecture than a host's, creates the nats user and directories\n" +
			"(config_dir and store_dir get their mode and owner; a missing parent, such\n" +
			"as the binary's directory, is created and an existing one left as it is),\n" +
			"uploads only files whose sha256 differs (over SFTP, or exec with\n" +
			"transfer = \"exec\"; to <path>.dcctl-tmp, verified,\n" +
			"then renamed; the new binary must run there before it replaces the\n" +
			"installed one), checks a new config with the binary that will run it\n" +
			"(`nats-server -t`; --version alone when no config changes) before\n" +
			"installing it, starts first installs, reloads\n" +
			"when every changed option is hot-reloadable and otherwise restarts one node\n" +
			"at a time per cluster behind the health gate. A second run changes nothing.\n" +
			"A changed nats.binary on a running node is an upgrade, as `dcctl runbook\n" +
			"upgrade` does it: refused (exit 2) when its release cannot be read from its Go\n" +
			"build information, or is older by a minor release than a server runs (unless\n" +
			"--allow-downgrade); staged as\n" +
			"<install_path>.next on every host first, then swapped in one node at a time,\n" +
			"hub clusters before their leaves, each cluster's meta leader last; the first\n" +
			"node that fails its gate stops the rollout.\n" +
			"Ends with a recap; exit 1 if any host failed or was unreachable. Ctrl-C lets\n" +
			"the nodes under way finish (a restart with its health gate) and restarts no\n" +
			"further node (exit 130; a second Ctrl-C aborts at once); losing the deployment\n" +
			"lock stops it at once. No file is ever left half-installed.\n\n" +
			"Passwords: provision creates the secrets file (random passwords) only when no\n" +
			"host has a config from dcctl yet and every host answers, and adds a password\n" +
			"for a user new to the inventory; otherwise a missing password is refused\n" +
			"(exit 2) with the ways to recover. The health gate reads the monitoring\n" +
			"endpoints over SSH: it needs no NATS password.\n\n" +
			"TLS (on unless [tls] enabled = false): provision creates a private CA in\n" +
			"<inventory>.tls/ (key mode 0600; only when no host has a CA file from dcctl yet)\n" +
			"and issues each node a certificate for its server name and addresses; it\n" +
			"issues again only a missing certificate, one whose names changed, or one\n" +
			"within 30 days of its end. Plans show certificates by fingerprint, never\n" +
			"keys. A running plaintext deployment is not moved to TLS node by node (a\n" +
			"cluster half on TLS is two clusters): provision refuses and says how, with\n" +
			"--tls-cutover restarting every node at once (docs/security.md). The same holds\n" +
			"for a new cluster_port (a node restarted on it would reach none of its peers)\n" +
			"and a renamed cluster or domain (nats-server refuses routes naming another\n" +
			"cluster; a server under another domain never joins its cluster's meta group).\n" +
			"Refused outright, with the way to do it by hand: a new store_dir on running\n" +
			"nodes (they would start on an empty store), a renamed service (the new unit\n" +
			"would start beside the old one), an account dropped while it has streams,\n" +
			"and a node to start on a host while a server of its name runs elsewhere (a\n" +
			"node moved to another host, or its old host given to another node: a running\n" +
			"peer's /routez names it at its old address): two servers of one name are one\n" +
			"JetStream peer. Stop the old server first (docs/runbooks.md, \"Moving a node\n" +
			"to another host\"). Refused too: a node renamed on its own host while its\n" +
			"server runs (it would restart under the new name on the old name's store, the\n" +
			"old name left an offline meta peer): retire the old name first, or keep it\n" +
			"(docs/runbooks.md, \"Renaming a node\"). plan prints each refusal as a warning.\n\n" +
			"DCCTL_TRACE=1 in the environment writes to stderr when each phase started on\n" +
			"each host and how long it took, to see where a run's time goes\n" +
			"(docs/performance.md).",
		Flags: append([]cli.Flag{
			inventoryFlag(), limitFlag(), concurrencyFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "check", Usage: "only show the plan; change nothing"},
			&cli.BoolFlag{Name: "diff", Usage: "show unified diffs of changed text files (secrets redacted)"},
			&cli.DurationFlag{Name: "gate-timeout", Value: 3 * time.Minute, Usage: "bound on each health-gate wait"},
			allowDowngradeFlag(),
			&cli.BoolFlag{Name: "tls-cutover", Usage: "restart every node that needs it at once, without the gate before: to turn TLS on (or off), change cluster_port or rename a cluster or its domain, in a running deployment, which cannot roll (see docs/security.md)"},
			breakLockFlag(),
		}, sshFlags()...),
		Action: func(c *cli.Context) error { return runProvision(c, c.Bool("check")) },
	}
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what provision would change, per host (read-only)",
		ArgsUsage: "[INVENTORY]",
		Description: "Gathers every host's facts as provision does and prints, per host, the changes\n" +
			"and the action (start, reload, restart) with why. A password changed in the\n" +
			"secrets file is said as such: clients still using the old one are refused\n" +
			"from the reload on; `dcctl runbook rotate-passwords --user U` is the way\n" +
			"without that cut. What provision would refuse is said on stderr, and with\n" +
			"--json as the refusals (key, reason) of each node it concerns (docs/architecture.md):\n" +
			"a node moved to another host while its old server still runs is named, with\n" +
			"the address it runs at and its new host; a node renamed on its own host\n" +
			"while its server runs, with the host and the old and new names.",
		Flags: append([]cli.Flag{
			inventoryFlag(), limitFlag(), concurrencyFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "diff", Usage: "show unified diffs of changed text files (secrets redacted)"},
			allowDowngradeFlag(),
		}, sshFlags()...),
		Action: func(c *cli.Context) error { return runProvision(c, true) },
	}
}

func runProvision(c *cli.Context, checkOnly bool) error {
	inv, err := loadInventory(c, true)
	if err != nil {
		return err
	}
	nodes, err := inv.Select(splitList(strings.Join(c.StringSlice("limit"), ",")))
	if err != nil {
		return refused(err)
	}
	sec, err := inventory.PrepareSecrets(inv, os.Getenv)
	if err != nil {
		return refused(err)
	}
	mat, err := pki.Prepare(inv, time.Now())
	if err != nil {
		return refused(err)
	}
	// The operator's own certificates are checked before any connection.
	certProblems, certWarnings := pki.Check(inv, time.Now())
	if len(certProblems) > 0 {
		return refused(&inventory.Error{Problems: certProblems})
	}
	for _, w := range certWarnings {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
	mat.Apply(sec)
	// Bars go where the log goes: stderr under --json.
	logw := c.App.Writer
	if c.Bool("json") {
		logw = c.App.ErrWriter
	}
	var bars *hostBars
	if !checkOnly {
		bars = newHostBars(logw)
	}
	s := newSession(c, inv, sec, bars)
	defer s.Close()
	ctx := c.Context
	if !checkOnly {
		lctx, release, err := takeLock(c, s, inv, nil, nodes)
		if err != nil {
			return err
		}
		defer release()
		ctx = lctx
	}
	out := c.App.Writer
	// Until Apply nothing changes: an interrupt ends the planning at once.
	planCtx, cancelPlan := graceful.Cut(ctx)
	defer cancelPlan()
	plans, err := provision.Plan(planCtx, s, nodes)
	if err == nil {
		plans, err = provision.AdoptRoutePassword(planCtx, s, plans, nodes)
	}
	if err != nil {
		if graceful.Err(ctx) != nil {
			return whyStopped(ctx, err)
		}
		return refused(err)
	}
	if w := provision.ClockWarnings(plans); w != "" {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
	if err := provision.CheckUpgrade(planCtx, s, plans, c.Bool("allow-downgrade")); err != nil {
		if graceful.Err(ctx) != nil {
			return whyStopped(ctx, err)
		}
		return refused(err)
	}
	// Every refusal before anything is saved; plan only warns of them.
	would := planRefusals{}
	if err := checkTLS(c, s, mat, plans, len(nodes), checkOnly, would); err != nil {
		return err
	}
	if err := checkRoutePorts(c, s, plans, len(nodes), checkOnly, would); err != nil {
		return err
	}
	if err := checkClusterRename(c, s, plans, len(nodes), checkOnly, would); err != nil {
		return err
	}
	if err := provision.CheckDroppedAccounts(planCtx, s, plans); err != nil {
		if graceful.Err(ctx) != nil {
			return whyStopped(ctx, err)
		}
		if !checkOnly {
			return refused(err)
		}
		var dropped *provision.DroppedAccountError
		errors.As(err, &dropped)
		var on []string
		if dropped != nil {
			on = dropped.Nodes
		}
		would.warn(c, refuseDroppedAccount, on, err)
	}
	if err := provision.ServiceRenamed(s.Inv, plans); err != nil {
		if !checkOnly {
			return refused(err)
		}
		would.warn(c, refuseService, err.Nodes, err)
	}
	if err := provision.StoreDirMove(s.Inv, plans); err != nil {
		if !checkOnly {
			return refused(err)
		}
		would.warn(c, refuseStoreDir, err.Nodes, err)
	}
	if err := provision.NodesRenamed(s.Inv, plans); err != nil {
		if !checkOnly {
			return refused(err)
		}
		would.warn(c, refuseNodeRenamed, err.NodeNames(), err)
	}
	if err := provision.CheckNodesElsewhere(planCtx, s, plans); err != nil {
		if graceful.Err(ctx) != nil {
			return whyStopped(ctx, err)
		}
		if !checkOnly {
			return refused(err)
		}
		var elsewhere *provision.NodeElsewhereError
		errors.As(err, &elsewhere)
		var on []string
		if elsewhere != nil {
			on = elsewhere.NodeNames()
		}
		would.warn(c, refuseNodeElsewhere, on, err)
	}
	if err := newPasswords(c, s, plans, len(nodes), checkOnly); err != nil {
		return err
	}
	if err := saveTLS(c, mat, checkOnly); err != nil {
		return err
	}
	if checkOnly {
		if c.Bool("json") {
			return writeJSON(out, plansJSON(plans, c.Bool("diff"), would))
		}
		provision.PrintPlans(out, plans, c.Bool("diff"))
		for _, p := range plans {
			if p.Unreachable != nil || p.Err != nil {
				return errReported
			}
		}
		return nil
	}
	if !c.Bool("json") {
		provision.PrintPlans(out, plans, c.Bool("diff"))
		fmt.Fprintln(out)
	}
	opts := provision.ApplyOptions{
		Concurrency: c.Int("concurrency"),
		GateTimeout: c.Duration("gate-timeout"),
		Log:         logw,
		Cutover:     c.Bool("tls-cutover"),
	}
	if os.Getenv("DCCTL_TRACE") == "1" {
		// Each phase's start and duration on each host, for measuring
		// (docs/performance.md).
		opts.Trace = c.App.ErrWriter
	}
	if bars != nil {
		opts.Upload = bars.upload
		opts.Log = bars
	}
	if err := graceful.Err(ctx); err != nil {
		return whyStopped(ctx, err)
	}
	recap := provision.Apply(ctx, s, plans, opts)
	bars.done()
	if c.Bool("json") {
		if err := writeJSON(out, recap); err != nil {
			return err
		}
	} else {
		recap.Print(out)
	}
	if recap.Failed() {
		return whyStopped(ctx, errReported)
	}
	return nil
}

// checkTLS refuses a new CA unless it is known to be the only one
// (provision.CheckNewCA), a new route password that servers may not know,
// and a switch of TLS node by node unless --tls-cutover says to restart all
// at once (plan only warns of it). plans covers the selected nodes; the CA
// check needs every node.
func checkTLS(c *cli.Context, s *provision.Session, mat *pki.Material, plans []*provision.HostPlan, selected int, checkOnly bool, would planRefusals) error {
	all := plans
	if mat.CreatedCA() && selected < len(s.Inv.Nodes) {
		var err error
		if all, err = provision.Plan(c.Context, s, s.Inv.Nodes); err != nil {
			return refused(err)
		}
	}
	if err := provision.CheckNewCA(s.Inv, mat, all); err != nil {
		return refused(err)
	}
	if sw := provision.TLSSwitch(s.Inv, plans); len(sw) > 0 && c.Bool("tls-cutover") && selected < len(s.Inv.Nodes) {
		return refused(fmt.Errorf("--tls-cutover with --limit: every node must move at once (the nodes outside --limit would stay on the other side of %s); run it without --limit", strings.Join(sw, ", ")))
	} else if len(sw) > 0 && !c.Bool("tls-cutover") {
		err := &provision.TLSSwitchRefusedError{Nodes: sw, On: s.Inv.TLS.Enabled}
		if checkOnly {
			would.warn(c, refuseTLS, sw, err)
			return nil
		}
		return refused(err)
	}
	return nil
}

// checkRoutePorts refuses to roll a change of a cluster's route port node by
// node (provision.RoutePortSwitch) unless --tls-cutover says to restart all
// at once; plan only warns of it.
func checkRoutePorts(c *cli.Context, s *provision.Session, plans []*provision.HostPlan, selected int, checkOnly bool, would planRefusals) error {
	sw := provision.RoutePortSwitch(s.Inv, plans)
	return refuseRolling(c, s, sw, selected, checkOnly, "every node must move to the new cluster_port at once", "on the old one",
		&provision.RoutePortSwitchRefusedError{Nodes: sw}, func(err error) { would.warn(c, refuseClusterPort, sw, err) })
}

// checkClusterRename refuses to roll a cluster's new name node by node
// (provision.ClusterRenamed) unless --tls-cutover says to restart all at
// once; plan only warns of it.
func checkClusterRename(c *cli.Context, s *provision.Session, plans []*provision.HostPlan, selected int, checkOnly bool, would planRefusals) error {
	renamed := provision.ClusterRenamed(s.Inv, plans)
	return refuseRolling(c, s, renamed, selected, checkOnly, "every node of a renamed cluster must restart at once", "under the old name",
		&provision.ClusterRenameRefusedError{Nodes: renamed}, func(err error) { would.warn(c, refuseClusterRename, renamed, err) })
}

// refuseRolling refuses a change that nodes cannot take one at a time (their
// routes would reach no peer left as it was) unless --tls-cutover restarts
// every node at once, and then not with --limit; plan (checkOnly) only warns.
func refuseRolling(c *cli.Context, s *provision.Session, nodes []string, selected int, checkOnly bool, atOnce, left string, refusal error, warn func(error)) error {
	switch {
	case len(nodes) == 0:
		return nil
	case c.Bool("tls-cutover") && selected < len(s.Inv.Nodes):
		return refused(fmt.Errorf("--tls-cutover with --limit: %s (%s would route to peers left %s); run it without --limit", atOnce, strings.Join(nodes, ", "), left))
	case c.Bool("tls-cutover"):
		return nil
	}
	if checkOnly {
		warn(refusal)
		return nil
	}
	return refused(refusal)
}

// saveTLS writes the CA and certificates pki.Prepare created and says so.
func saveTLS(c *cli.Context, mat *pki.Material, checkOnly bool) error {
	issued := mat.Issued()
	if checkOnly {
		if mat.CreatedCA() {
			fmt.Fprintf(c.App.ErrWriter, "provision would create a CA in %s\n", mat.Dir())
		}
		for _, i := range issued {
			fmt.Fprintf(c.App.ErrWriter, "provision would issue a certificate to %s\n", i)
		}
		return nil
	}
	created := mat.CreatedCA()
	if err := mat.Save(); err != nil {
		return err
	}
	if created {
		fmt.Fprintf(c.App.ErrWriter, "created a CA in %s (key mode 0600; keep a backup)\n", mat.Dir())
	}
	for _, i := range issued {
		fmt.Fprintf(c.App.ErrWriter, "issued a certificate to %s\n", i)
	}
	return nil
}

// newPasswords lets provision create the passwords PrepareSecrets generated
// only where no server can be running with others (see
// provision.CheckNewPasswords), and saves them before anything is applied.
// plans covers the selected nodes; the check needs every node.
func newPasswords(c *cli.Context, s *provision.Session, plans []*provision.HostPlan, selected int, checkOnly bool) error {
	gen := s.Secrets.Generated()
	if len(gen) == 0 {
		if s.Secrets.RouteGenerated() {
			if checkOnly {
				fmt.Fprintf(c.App.ErrWriter, "provision would generate the route password in %s\n", s.Secrets.File())
				return nil
			}
			fmt.Fprintf(c.App.ErrWriter, "generated the route password in %s (keep a backup)\n", s.Secrets.File())
		}
		return s.Secrets.Save() // hashes of edited or environment passwords, if any
	}
	all := plans
	if selected < len(s.Inv.Nodes) {
		var err error
		if all, err = provision.Plan(c.Context, s, s.Inv.Nodes); err != nil {
			return refused(err)
		}
	}
	if err := provision.CheckNewPasswords(s.Inv, s.Secrets, all); err != nil {
		return refused(err)
	}
	what, why := "new users "+strings.Join(gen, ", ")+" in", "no server's config names them yet"
	if !s.Secrets.FileExists() {
		what, why = "every user, in a new", "no server runs with others yet"
	}
	if checkOnly {
		fmt.Fprintf(c.App.ErrWriter, "provision would generate passwords for %s secrets file %s (%s)\n", what, s.Secrets.File(), why)
		return nil
	}
	if err := s.Secrets.Save(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "generated passwords for %s secrets file %s (mode 0600; keep a backup)\n", what, s.Secrets.File())
	return nil
}

type planJSON struct {
	Node        string   `json:"node"`
	Host        string   `json:"host"`
	Unreachable string   `json:"unreachable,omitempty"`
	Error       string   `json:"error,omitempty"`
	Changed     bool     `json:"changed"`
	Changes     []string `json:"changes"`
	Action      string   `json:"action,omitempty"`
	Why         []string `json:"why,omitempty"`
	Diffs       []string `json:"diffs,omitempty"`
	// Refusals are what provision would refuse that concerns the node
	// (plan says them on stderr too): provision would change nothing.
	Refusals []refusal `json:"refusals,omitempty"`
}

func plansJSON(plans []*provision.HostPlan, diff bool, would planRefusals) []planJSON {
	var out []planJSON
	for _, p := range plans {
		j := planJSON{Node: p.Node.Name, Host: p.Node.Host, Changed: p.Changed(), Changes: p.Summary(), Action: string(p.Action), Why: p.Why,
			Refusals: would.of(p.Node.Name)}
		if p.Unreachable != nil {
			j.Unreachable = p.Unreachable.Error()
		}
		if p.Err != nil {
			j.Error = p.Err.Error()
		}
		if diff {
			for _, f := range p.Files {
				if f.Diff != "" {
					j.Diffs = append(j.Diffs, f.Diff)
				}
			}
		}
		if j.Changes == nil {
			j.Changes = []string{}
		}
		out = append(out, j)
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
