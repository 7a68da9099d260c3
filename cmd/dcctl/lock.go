package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/lock"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/remote"
)

// breakLockFlag is taken by every command that changes the deployment.
func breakLockFlag() cli.Flag {
	return &cli.BoolFlag{Name: "break-lock", Usage: "remove another run's deployment lock first (only when you are sure that run is gone; see docs/reliability.md)"}
}

// withoutLockFlag lets a runbook run when it cannot lock a majority of an
// affected cluster's hosts (no SSH at all, NATS reached with --direct).
func withoutLockFlag() cli.Flag {
	return &cli.BoolFlag{Name: "without-lock", Usage: "run even when the deployment lock cannot be taken on a majority of each affected cluster's hosts (no SSH access): nothing then keeps a second operator out"}
}

// lockReleaseTimeout bounds releasing the lock when a run ends: the run's
// own context may be cancelled by then (Ctrl-C), and a hung host must not
// keep the operator waiting; its lock expires by itself.
const lockReleaseTimeout = 30 * time.Second

// takeLock connects to every host of the inventory and takes the deployment
// lock (package lock) on each one that answers, so that a second operator's
// run refuses. It is called before facts are read: a plan made while
// someone else applies theirs would be stale. Read-only commands (status,
// plan, validate, render, --dry-run, --check) never call it.
//
// A changed or revoked host key refuses the whole run here, before anything
// is touched anywhere (exit 2). A host that cannot be reached is left out
// (it cannot be changed by this run either), and said so. For each cluster
// in majorityOf (the clusters a runbook acts on) the lock must cover a
// majority of its hosts, or the run is refused (exit 2): two operators who
// each reach a different minority could otherwise both act on it.
//
// The facts of the nodes in plan (those the run is about to plan) are
// gathered in the same session as each host's take (lock.Options.Also,
// provision.Session.GivenFacts): one command per host for both, read once
// the host's lock is this run's.
//
// The returned context is the command's from then on: it is cancelled, with
// a *lock.LostError as its cause, if the run loses its lock (broken by
// another operator, or its heartbeat failing for over half the expiry), so
// that the run stops before its next step. release stops the heartbeat and
// removes the lock, with a fresh context (the run's may be cancelled).
func takeLock(c *cli.Context, s *provision.Session, inv *inventory.Inventory, majorityOf []string, plan []*inventory.Node) (ctx context.Context, release func(), err error) {
	ctx = c.Context
	warn := func(format string, a ...any) { fmt.Fprintf(c.App.ErrWriter, "dcctl: "+format+"\n", a...) }
	errs := s.Connect(ctx, inv.Nodes)
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	if err := hostKeyErrors(errs); err != nil {
		return nil, nil, refused(err)
	}
	var hosts []lock.Host
	var down []string
	reached := map[string]bool{}
	for _, n := range inv.Nodes {
		if errs[n.Name] != nil {
			down = append(down, n.Name)
			continue
		}
		cl, err := s.Client(ctx, n.Name)
		if err != nil {
			down = append(down, n.Name)
			continue
		}
		hosts = append(hosts, cl)
		reached[n.Name] = true
	}
	sort.Strings(down)
	if msg := unknownHostKeys(errs, down); msg != "" {
		warn("%s", msg)
	}
	if err := lockMajority(inv, majorityOf, reached); err != nil {
		if !c.Bool("without-lock") {
			return nil, nil, refused(err)
		}
		warn("WARNING: --without-lock: %v", err)
		majorityOf = nil
	}
	if len(hosts) == 0 {
		warn("WARNING: no host answered over SSH, so no deployment lock was taken: another operator's run would not be refused")
		return ctx, func() {}, nil
	}
	if len(down) > 0 {
		warn("deployment lock not taken on unreachable %s", strings.Join(down, ", "))
	}
	l, err := lock.Acquire(ctx, hosts, lock.Me(commandLine()), lock.Options{
		Concurrency: c.Int("concurrency"), // 0 where a command has no such flag: the default
		Break:       c.Bool("break-lock"),
		Notice:      func(msg string) { warn("lock: %s", msg) },
		Also:        factsAlso(s, plan),
		Redial: func(ctx context.Context, name string) (lock.Host, error) {
			s.Forget(name)
			return s.Client(ctx, name)
		},
		// A host that goes down mid-run leaves the lock while the others
		// still make the majority the take required.
		Enough: func(fresh []string) error {
			holding := map[string]bool{}
			for _, n := range fresh {
				holding[n] = true
			}
			return lockMajority(inv, majorityOf, holding)
		},
	})
	var held *lock.HeldError
	if errors.As(err, &held) {
		return nil, nil, refused(err)
	}
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := l.Context(ctx)
	return runCtx, func() {
		cancel()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
		defer rcancel()
		if err := l.Release(rctx); err != nil {
			warn("%v", err)
		}
	}, nil
}

// factsAlso has the lock's take gather the facts of the nodes in plan (nil
// for none). Without the scripts (a nats.binary that cannot be read: Plan
// says so next) the take gathers nothing and Plan asks the hosts itself.
func factsAlso(s *provision.Session, plan []*inventory.Node) func(host string) (string, func([]byte)) {
	if len(plan) == 0 {
		return nil
	}
	scripts, err := s.FactsScripts(plan)
	if err != nil {
		return nil
	}
	return func(host string) (string, func([]byte)) {
		script := scripts[host]
		return script, func(out []byte) { s.GivenFacts(host, script, out) }
	}
}

// lockMajority checks that the hosts reached are a majority of each named
// cluster's nodes.
func lockMajority(inv *inventory.Inventory, clusters []string, reached map[string]bool) error {
	var errs []error
	for _, name := range clusters {
		cl := inv.Cluster(name)
		if cl == nil {
			continue
		}
		var missing []string
		for _, n := range cl.Nodes {
			if !reached[n.Name] {
				missing = append(missing, n.Name)
			}
		}
		got := len(cl.Nodes) - len(missing)
		if got*2 > len(cl.Nodes) {
			continue
		}
		errs = append(errs, fmt.Errorf("cannot take the deployment lock on a majority of cluster %s's hosts: %d of %d answered over SSH (unreachable: %s); "+
			"another operator who reaches the others could act on the cluster at the same time. Restore SSH access to them, "+
			"or, if no one else can be operating it, run again with --without-lock", name, got, len(cl.Nodes), strings.Join(missing, ", ")))
	}
	return errors.Join(errs...)
}

// hostKeyErrors joins the dial errors that are about host keys: those are
// never "just unreachable".
func hostKeyErrors(errs map[string]error) error {
	var names []string
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []error
	for _, n := range names {
		var changed *remote.HostKeyChangedError
		var revoked *remote.RevokedHostKeyError
		if errors.As(errs[n], &changed) || errors.As(errs[n], &revoked) {
			out = append(out, errs[n])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return fmt.Errorf("refusing to touch any host: %w", errors.Join(out...))
}

// unknownHostKeys says which of the hosts in down were reached but refused
// for a host key known_hosts lacks, and what to do: otherwise they read as
// merely unreachable, and a later refusal (provision's CA check on a first
// install) hides why.
func unknownHostKeys(errs map[string]error, down []string) string {
	var names []string
	file := ""
	for _, n := range down {
		var unknown *remote.UnknownHostKeyError
		if errors.As(errs[n], &unknown) {
			names = append(names, n)
			file = unknown.KnownHosts
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("the host key of %s is not in %s: check the fingerprints on the hosts (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and rerun with --accept-new-host-keys to trust them (it prints each key it adds)",
		strings.Join(names, ", "), file)
}

// commandLine is what the lock records as the holder's command. dcctl never
// takes a secret as an argument (passwords come from the secrets file or the
// environment), so the arguments are safe to show.
func commandLine() string {
	return "dcctl " + strings.Join(os.Args[1:], " ")
}
