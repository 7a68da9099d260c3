package runbooks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
	"github.com/dcctl/dcctl/words"
)

// Hosts is the runbooks' boundary to the machines the nodes run on: their
// systemd units and installed files. Everything else a runbook needs goes
// over NATS. The CLI uses SystemdHosts (SSH); tests of the NATS side give an
// implementation over in-process servers, so that "is the unit active" and
// "start it" have real answers without systemd.
type Hosts interface {
	// UnitState reports node's unit as systemctl is-active does ("active",
	// "inactive", "failed", "activating", ...), or UnitUnreachable when its
	// host cannot be reached, which says nothing about the node: it may be
	// down or cut off by a partition. An error means the host answered but
	// the state is unknown.
	UnitState(ctx context.Context, node string) (string, error)
	// UnitCtl runs start, stop, restart or kill on node's unit.
	UnitCtl(ctx context.Context, node, action string) error
	// Retire stops and disables node's unit for good and leaves the removed
	// marker on its host, so that provision does not start it again while the
	// inventory still lists it (replace-peer --permanent).
	Retire(ctx context.Context, node string) error
	// Retired reports whether node is retired already: its unit down and
	// the removed marker on its host. A host that cannot be reached is not
	// (nothing says so).
	Retired(ctx context.Context, node string) (bool, error)
	// Drift lists what provision would change on node's host besides starting
	// the unit (files, directories, user, daemon-reload); empty when the
	// host matches the inventory.
	Drift(ctx context.Context, node string) ([]string, error)
	// Provision makes node's host match the inventory (provision for that
	// node alone; a standby node is installed but not started).
	Provision(ctx context.Context, node string) error
}

// UnitUnreachable is UnitState's answer for a host that cannot be reached.
const UnitUnreachable = "unreachable"

// SystemdHosts reaches hosts over the session's SSH connections.
type SystemdHosts struct {
	S *provision.Session
}

// UnitState asks systemd on the host (provision.Session.UnitState); a host
// that cannot be dialled is UnitUnreachable.
func (h SystemdHosts) UnitState(ctx context.Context, node string) (string, error) {
	if _, err := h.S.Client(ctx, node); err != nil {
		var unknown *inventory.UnknownNodeError
		if errors.As(err, &unknown) {
			return "", err
		}
		return UnitUnreachable, nil
	}
	u, err := h.S.UnitState(ctx, node)
	if err != nil {
		return "", err
	}
	return u.State(), nil
}

// UnitCtl delegates to provision, which knows how each action is done
// (kill is SIGKILL to the main process, stop goes through lame duck).
func (h SystemdHosts) UnitCtl(ctx context.Context, node, action string) error {
	return h.S.UnitCtl(ctx, node, action)
}

// Retire delegates to provision, which owns the marker provision reads.
func (h SystemdHosts) Retire(ctx context.Context, node string) error {
	return h.S.Retire(ctx, node)
}

// Retired reads the unit's state and the marker in one round trip.
func (h SystemdHosts) Retired(ctx context.Context, node string) (bool, error) {
	if _, err := h.S.Client(ctx, node); err != nil {
		var unknown *inventory.UnknownNodeError
		if errors.As(err, &unknown) {
			return false, err
		}
		return false, nil
	}
	u, err := h.S.UnitState(ctx, node)
	if err != nil {
		return false, err
	}
	return u.Retired(), nil
}

// Drift plans provision for node alone and keeps the changes to its files.
func (h SystemdHosts) Drift(ctx context.Context, node string) ([]string, error) {
	p, err := h.plan(ctx, node)
	if err != nil {
		return nil, err
	}
	var out []string
	if len(p.CleanTemp) > 0 {
		out = append(out, words.Count(len(p.CleanTemp), "leftover temp file"))
	}
	if p.CreateUser {
		out = append(out, "user "+h.S.Inv.NATS.User+" missing")
	}
	for _, d := range p.Parents {
		out = append(out, "dir "+d+" missing")
	}
	for _, d := range p.Dirs {
		out = append(out, "dir "+d.Path)
	}
	for _, f := range p.Files {
		out = append(out, f.Reason+" "+f.File.Path)
	}
	if p.DaemonReload {
		out = append(out, "daemon-reload")
	}
	return out, nil
}

// Provision plans and applies provision for node alone.
func (h SystemdHosts) Provision(ctx context.Context, node string) error {
	p, err := h.plan(ctx, node)
	if err != nil {
		return err
	}
	var log strings.Builder
	recap := provision.Apply(ctx, h.S, []*provision.HostPlan{p}, provision.ApplyOptions{Log: &log})
	if recap.Failed() {
		for _, r := range recap.Hosts {
			if r.Error != "" {
				return fmt.Errorf("provision %s: %s", node, r.Error)
			}
		}
		return fmt.Errorf("provision %s failed: %s", node, strings.TrimSpace(log.String()))
	}
	return nil
}

func (h SystemdHosts) plan(ctx context.Context, node string) (*provision.HostPlan, error) {
	n := h.S.Inv.Node(node)
	if n == nil {
		return nil, &inventory.UnknownNodeError{Name: node, Inventory: h.S.Inv.File}
	}
	plans, err := provision.Plan(ctx, h.S, []*inventory.Node{n})
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", node, err)
	}
	if len(plans) != 1 {
		return nil, fmt.Errorf("plan %s: got %d plans", node, len(plans))
	}
	p := plans[0]
	if p.Unreachable != nil {
		return nil, fmt.Errorf("%s is unreachable: %w", node, p.Unreachable)
	}
	if p.Err != nil {
		return nil, fmt.Errorf("plan %s: %w", node, p.Err)
	}
	// As provision: a node is never started on its host while a server of
	// its name runs on another (the inventory moved it).
	if err := provision.CheckNodesElsewhere(ctx, h.S, plans); err != nil {
		return nil, err
	}
	return p, nil
}
