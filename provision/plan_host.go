package provision

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

// planHost compares what node needs with its facts, in steps that each
// decide one part of the plan from the facts and the steps before them:
// the user, the directories, the files, the unit's state, the action, and
// files installed but not yet in effect. fetch reads the current content of
// a config file that differs, for the diff and the reload decision.
func planHost(ctx context.Context, inv *inventory.Inventory, sec *inventory.Secrets, node *inventory.Node, dirs, files []templates.File, facts *Facts, fetch func(ctx context.Context, path string) ([]byte, error)) (*HostPlan, error) {
	if !facts.Systemd {
		return nil, fmt.Errorf("%s: systemd is not running on the host (os %s %s): dcctl manages nats-server as a systemd unit", node.Name, facts.OS, facts.Arch)
	}
	pl := &planning{inv: inv, sec: sec, dirs: dirs, files: files, facts: facts, fetch: fetch,
		p: &HostPlan{Node: node, Facts: facts, Desired: files}}
	pl.arch()
	pl.userAndDirs()
	if err := pl.fileChanges(ctx); err != nil {
		return nil, err
	}
	pl.unitState()
	pl.action()
	pl.passwordNote()
	pl.notYetInEffect()
	p := pl.p
	sort.SliceStable(p.Files, func(i, j int) bool { return p.Files[i].File.Kind == "binary" && p.Files[j].File.Kind != "binary" })
	return p, nil
}

// planning is one host's plan while planHost builds it.
type planning struct {
	inv   *inventory.Inventory
	sec   *inventory.Secrets
	dirs  []templates.File
	files []templates.File
	facts *Facts
	fetch func(ctx context.Context, path string) ([]byte, error)
	p     *HostPlan

	// what fileChanges found, for action
	binaryChanged, unitChanged, remotesChanged, configChanged bool
	tlsChanged                                                bool
	// tlsRemotesStale: a change a leaf node's leafnode remotes must take
	// (its certificate or key, or a CA dropped from its trust), which
	// they do only at a restart. A CA only added to the trust is not one:
	// nothing shows a certificate from it until the nodes get new ones.
	tlsRemotesStale      bool
	configOld, configNew []byte
	running              bool
}

// arch notes a host architecture dcctl cannot check the binary against
// before the upload (checkArch refuses the known mismatches).
func (pl *planning) arch() {
	if _, known := unameTargets[pl.facts.Arch]; !known {
		pl.p.Why = append(pl.p.Why, "host architecture "+pl.facts.Arch+" unknown to dcctl: nats.binary is only checked by running it there before it is installed")
	}
}

// userAndDirs: the service user, missing parent directories, owned
// directories missing or with another mode or owner, and leftover
// temporary files.
func (pl *planning) userAndDirs() {
	p, facts := pl.p, pl.facts
	p.CreateUser = !facts.User
	for _, d := range parentDirs(pl.dirs, pl.files) {
		if !facts.Dirs[d].Exists {
			p.Parents = append(p.Parents, d)
		}
	}
	for _, d := range pl.dirs {
		ff := facts.Dirs[d.Path]
		if !ff.Exists || ff.Mode != d.Mode || ff.Owner != d.Owner || ff.Group != d.Group {
			p.Dirs = append(p.Dirs, d)
		}
	}
	p.CleanTemp = facts.LeftoverTemp
}

// fileChanges lists the files to create, update or fix the mode of, with a
// redacted diff of each changed text file, and notes what kind of change
// each is for action.
func (pl *planning) fileChanges(ctx context.Context) error {
	p, facts := pl.p, pl.facts
	paths := templates.PathsFor(pl.inv)
	for _, f := range pl.files {
		ff := facts.Files[f.Path]
		switch {
		case !ff.Exists:
			p.Files = append(p.Files, FileChange{File: f, Reason: "create"})
		case ff.SHA256 != f.SHA256:
			fc := FileChange{File: f, Reason: "update"}
			switch f.Kind {
			case templates.KindKey:
				// never a diff of a private key, not even redacted
				fc.Diff = "--- " + f.Path + ": private key changed (not shown)\n"
				pl.tlsRemotesStale = true
			case templates.KindCert:
				old, err := pl.fetch(ctx, f.Path)
				if err != nil {
					return fmt.Errorf("%s: read current %s: %w", p.Node.Name, f.Path, err)
				}
				fc.Diff = certDiff(f.Path, old, f.Content)
				if f.Path != paths.TLSCA || !pki.Includes(f.Content, old) {
					pl.tlsRemotesStale = true
				}
			case "binary":
			default:
				old, err := pl.fetch(ctx, f.Path)
				if err != nil {
					return fmt.Errorf("%s: read current %s: %w", p.Node.Name, f.Path, err)
				}
				fc.OldConfig = old
				fc.Diff = pl.sec.Redact(redactConfig(unifiedDiff(f.Path, old, f.Content)))
				if f.Path == paths.Config {
					pl.configOld, pl.configNew, pl.configChanged = old, f.Content, true
				}
			}
			p.Files = append(p.Files, fc)
		case ff.Mode != f.Mode || ff.Owner != f.Owner || ff.Group != f.Group:
			p.Files = append(p.Files, FileChange{File: f, Reason: fmt.Sprintf("mode/owner %o %s:%s -> %o %s:%s", ff.Mode, ff.Owner, ff.Group, f.Mode, f.Owner, f.Group), ModeOnly: true})
			continue
		default:
			continue
		}
		switch {
		case f.Kind == "binary":
			pl.binaryChanged = true
		case f.Kind == "unit":
			pl.unitChanged = true
		case f.Path == paths.LeafRemotes:
			pl.remotesChanged = true
		case f.Kind == templates.KindCert || f.Kind == templates.KindKey:
			pl.tlsChanged = true
		case f.Path == paths.Config && !ff.Exists:
			pl.configChanged = true
		}
	}
	return nil
}

// unitState: a daemon-reload for a changed unit, whether the node runs,
// whether an operator stopped it, whether its unit needs enabling, and the
// monitoring port its running server answers on until it restarts, when
// the new config moves it.
func (pl *planning) unitState() {
	p, facts, node := pl.p, pl.facts, pl.p.Node
	p.DaemonReload = pl.unitChanged
	pl.running = facts.UnitActive == "active" || facts.UnitActive == "activating" || facts.UnitActive == "reloading"
	// A running node is what counts: a stop marker beside a running server
	// (started by hand) no longer says what the operator wants.
	// A node replace-peer --permanent removed stays down even when the
	// inventory still calls it a standby.
	removed := strings.HasPrefix(facts.StoppedBy, RemovedTag)
	p.LeftStopped = facts.Stopped && !pl.running && (!node.Standby || removed)
	if !node.Standby && facts.UnitEnabled != "enabled" && !p.LeftStopped {
		p.Enable = true
	}
	if old, cur := monitorEndpoint(pl.configOld), monitorEndpoint(pl.configNew); pl.running && old != "" && old != cur {
		p.ServingMonitor = old
	}
}

// action decides what happens to the unit, and why: start a node that is
// down, restart for what cannot be reloaded, reload for what can.
func (pl *planning) action() {
	p, facts := pl.p, pl.facts
	switch {
	case p.LeftStopped:
		p.Why = append(p.Why, StoppedNote(p.Node.Name, facts.StoppedBy))
	case !pl.running && p.Node.Standby:
		p.Why = append(p.Why, "standby node: installed, not started")
	case !pl.running:
		p.Action = ActionStart
		if facts.UnitEnabled == "not-found" || facts.UnitEnabled == "" {
			p.Why = append(p.Why, "first install")
		} else {
			p.Why = append(p.Why, "unit is "+facts.UnitActive)
		}
	case pl.binaryChanged || pl.unitChanged || pl.remotesChanged || (pl.tlsRemotesStale && len(pl.inv.LeafRemotes(p.Node)) > 0):
		p.Action = ActionRestart
		if pl.binaryChanged {
			p.Upgrade = true
			p.Why = append(p.Why, "binary changed: staged as "+path.Base(pl.inv.NATS.InstallPath)+NextSuffix+", swapped in behind the gate (upgrade order, meta leader last)")
		}
		if pl.unitChanged {
			p.Why = append(p.Why, "unit changed")
		}
		if pl.configChanged {
			// The restart would hide what else changes with it: a new
			// store_dir or domain reads "unit changed" alone (the unit
			// names both), which says nothing of the data.
			if keys, _ := configChange(pl.configOld, pl.configNew); len(keys) > 0 {
				p.Why = append(p.Why, "config changed: "+strings.Join(keys, ", "))
			}
		}
		if pl.remotesChanged {
			p.Why = append(p.Why, "leafnode remotes changed (not hot-reloadable)")
		}
		if pl.tlsRemotesStale && len(pl.inv.LeafRemotes(p.Node)) > 0 {
			p.Why = append(p.Why, "TLS files changed (a leaf node's leafnode remotes take a new certificate, or a CA dropped, only at a restart)")
		}
	case pl.configChanged || pl.tlsChanged:
		// nats-server takes new certificates, keys and CAs on its listeners
		// at a reload, keeping every connection (templates/tls_reload_test.go)
		var keys []string
		reloadable := true
		if pl.configChanged {
			keys, reloadable = configChange(pl.configOld, pl.configNew)
		}
		if pl.tlsChanged {
			keys = append(keys, "TLS files")
		}
		if len(keys) == 0 {
			p.Why = append(p.Why, "config changed in comments or layout only: nothing to reload")
			break
		}
		if reloadable {
			p.Action = ActionReload
			p.Why = append(p.Why, "config changed, hot-reloadable: "+strings.Join(keys, ", "))
		} else {
			p.Action = ActionRestart
			p.Why = append(p.Why, "config changed, needs restart: "+strings.Join(keys, ", "))
		}
	}
}

// notYetInEffect restarts a running node whose installed files are not
// those the applied marker says it runs with: an earlier run stopped
// between installing them and the restart (or its restart was refused). A
// reload planned for a newer change does not do: the change it compares
// against was never applied, and may need the restart (a reload would then
// record it as applied and it would never take effect).
func (pl *planning) notYetInEffect() {
	p, facts := pl.p, pl.facts
	if !pl.running || (p.Action != ActionNone && p.Action != ActionReload) || len(facts.Applied) == 0 {
		return
	}
	var pending []string
	for _, f := range pl.files {
		if cur := facts.Files[f.Path]; cur.Exists && facts.Applied[f.Path] != cur.SHA256 {
			pending = append(pending, f.Path)
		}
	}
	if len(pending) > 0 {
		p.Action = ActionRestart
		p.Why = append(p.Why, "installed but not yet in effect (an earlier run stopped before restarting): "+strings.Join(pending, ", "))
	}
}
