package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

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

// takeLock connects to every host of the inventory and takes the deployment
// lock (package lock) on each one that answers, so that a second operator's
// run refuses. It is called before facts are read: a plan made while
// someone else applies theirs would be stale. Read-only commands (status,
// plan, validate, render, --dry-run, --check) never call it.
//
// A changed or revoked host key refuses the whole run here, before anything
// is touched anywhere (exit 2). A host that cannot be reached is left out
// (it cannot be changed by this run either), and said so.
func takeLock(c *cli.Context, s *provision.Session, inv *inventory.Inventory) (release func(), err error) {
	ctx := c.Context
	warn := func(format string, a ...any) { fmt.Fprintf(c.App.ErrWriter, "dcctl: "+format+"\n", a...) }
	errs := s.Connect(ctx, inv.Nodes)
	if err := hostKeyErrors(errs); err != nil {
		return nil, refused(err)
	}
	var hosts []lock.Host
	var down []string
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
	}
	sort.Strings(down)
	if len(hosts) == 0 {
		warn("WARNING: no host answered over SSH, so no deployment lock was taken: another operator's run would not be refused")
		return func() {}, nil
	}
	if len(down) > 0 {
		warn("deployment lock not taken on unreachable %s", strings.Join(down, ", "))
	}
	l, err := lock.Acquire(ctx, hosts, lock.Me(commandLine()), lock.Options{
		Break:  c.Bool("break-lock"),
		Notice: func(msg string) { warn("lock: %s", msg) },
		Redial: func(ctx context.Context, name string) (lock.Host, error) {
			s.Forget(name)
			return s.Client(ctx, name)
		},
	})
	var held *lock.HeldError
	if errors.As(err, &held) {
		return nil, refused(err)
	}
	if err != nil {
		return nil, err
	}
	return func() {
		if err := l.Release(context.WithoutCancel(ctx)); err != nil {
			warn("%v", err)
		}
	}, nil
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

// commandLine is what the lock records as the holder's command. dcctl never
// takes a secret as an argument (passwords come from the secrets file or the
// environment), so the arguments are safe to show.
func commandLine() string {
	return "dcctl " + strings.Join(os.Args[1:], " ")
}
