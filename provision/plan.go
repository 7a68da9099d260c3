package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// Action is what happens to a node's unit.
type Action string

const (
	ActionNone    Action = ""
	ActionStart   Action = "start"   // enable --now: first install, or not running
	ActionReload  Action = "reload"  // SIGHUP: every changed option is hot-reloadable
	ActionRestart Action = "restart" // rolling, behind the health gate
)

// FileChange is one file to install or fix on a host.
type FileChange struct {
	File      templates.File
	Reason    string // "create", "update", "mode", "owner"
	ModeOnly  bool   // content is right; only mode/owner need fixing
	Diff      string `json:",omitempty"` // unified diff, secrets redacted
	OldConfig []byte `json:"-"`
}

// HostPlan is what provision will do on one node's host.
type HostPlan struct {
	Node         *inventory.Node
	Unreachable  error
	Err          error // the host was reached but cannot be planned (no systemd, ...)
	Facts        *Facts
	CreateUser   bool
	Dirs         []templates.File // owned directories to create or fix (Content nil)
	Parents      []string         // missing directories to create, never chmod'ed or chown'ed
	Files        []FileChange
	CleanTemp    []string // leftover .dcctl-tmp files from an interrupted run
	DaemonReload bool
	Enable       bool
	Action       Action
	Why          []string
	Desired      []templates.File // every file the node should have, for the applied marker
	// LeftStopped: an operator stopped the node (`dcctl node stop`); its
	// files are kept up to date but it is neither enabled nor started.
	LeftStopped bool
	// ServingHTTPPort is the monitoring port the running server answers
	// on until it restarts, when the new config changes it; 0 otherwise.
	ServingHTTPPort int `json:",omitempty"`
}

// Changed reports whether the plan changes anything on the host.
func (p *HostPlan) Changed() bool {
	return p.CreateUser || len(p.Dirs) > 0 || len(p.Parents) > 0 || len(p.Files) > 0 || len(p.CleanTemp) > 0 ||
		p.DaemonReload || p.Enable || p.Action != ActionNone
}

// binaryFile describes the local nats-server binary as the file to install.
func binaryFile(inv *inventory.Inventory) (templates.File, error) {
	f, err := os.Open(inv.NATS.Binary)
	if err != nil {
		return templates.File{}, fmt.Errorf("nats.binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return templates.File{}, fmt.Errorf("nats.binary %s: %w", inv.NATS.Binary, err)
	}
	return templates.File{Path: inv.NATS.InstallPath, Mode: 0o755, Owner: "root", Group: "root",
		Kind: "binary", Content: nil, Secret: false, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// desired lists everything a node must have: the directories dcctl owns
// (mode and owner enforced), then files.
func desired(inv *inventory.Inventory, sec *inventory.Secrets, bin templates.File, node string) (dirs, files []templates.File, err error) {
	dirs = ownedDirs(inv)
	rendered, err := templates.Render(inv, sec, node)
	if err != nil {
		return nil, nil, err
	}
	for i := range rendered {
		rendered[i].SHA256 = sha256Hex(rendered[i].Content)
	}
	return dirs, append([]templates.File{bin}, rendered...), nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// planHost compares what node needs with its facts. fetch reads the current
// content of a config file that differs, for the diff and the reload
// decision.
func planHost(ctx context.Context, inv *inventory.Inventory, sec *inventory.Secrets, node *inventory.Node, dirs, files []templates.File, facts *Facts, fetch func(ctx context.Context, path string) ([]byte, error)) (*HostPlan, error) {
	p := &HostPlan{Node: node, Facts: facts, Desired: files}
	if !facts.Systemd {
		return nil, fmt.Errorf("%s: systemd is not running on the host (os %s %s): dcctl manages nats-server as a systemd unit", node.Name, facts.OS, facts.Arch)
	}
	if _, known := unameTargets[facts.Arch]; !known {
		p.Why = append(p.Why, "host architecture "+facts.Arch+" unknown to dcctl: nats.binary is only checked by running it there before it is installed")
	}
	p.CreateUser = !facts.User
	for _, d := range parentDirs(dirs, files) {
		if !facts.Dirs[d].Exists {
			p.Parents = append(p.Parents, d)
		}
	}
	for _, d := range dirs {
		ff := facts.Dirs[d.Path]
		if !ff.Exists || ff.Mode != d.Mode || ff.Owner != d.Owner || ff.Group != d.Group {
			p.Dirs = append(p.Dirs, d)
		}
	}
	p.CleanTemp = facts.LeftoverTemp
	var binaryChanged, unitChanged, remotesChanged bool
	var configOld, configNew []byte
	configChanged := false
	for _, f := range files {
		ff := facts.Files[f.Path]
		switch {
		case !ff.Exists:
			p.Files = append(p.Files, FileChange{File: f, Reason: "create"})
		case ff.SHA256 != f.SHA256:
			fc := FileChange{File: f, Reason: "update"}
			if f.Kind != "binary" {
				old, err := fetch(ctx, f.Path)
				if err != nil {
					return nil, fmt.Errorf("%s: read current %s: %w", node.Name, f.Path, err)
				}
				fc.OldConfig = old
				fc.Diff = sec.Redact(redactConfig(unifiedDiff(f.Path, old, f.Content)))
				if f.Path == templates.PathsFor(inv).Config {
					configOld, configNew, configChanged = old, f.Content, true
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
			binaryChanged = true
		case f.Kind == "unit":
			unitChanged = true
		case f.Path == templates.PathsFor(inv).LeafRemotes:
			remotesChanged = true
		case f.Path == templates.PathsFor(inv).Config && !ff.Exists:
			configChanged = true
		}
	}
	p.DaemonReload = unitChanged
	running := facts.UnitActive == "active" || facts.UnitActive == "activating" || facts.UnitActive == "reloading"
	// A running node is what counts: a stop marker beside a running server
	// (started by hand) no longer says what the operator wants.
	p.LeftStopped = facts.Stopped && !running && !node.Standby
	if !node.Standby && facts.UnitEnabled != "enabled" && !p.LeftStopped {
		p.Enable = true
	}
	if old, cur := httpPort(configOld), httpPort(configNew); running && old != 0 && old != cur {
		p.ServingHTTPPort = old
	}
	switch {
	case !running && node.Standby:
		p.Why = append(p.Why, "standby node: installed, not started")
	case p.LeftStopped:
		p.Why = append(p.Why, StoppedNote(node.Name, facts.StoppedBy))
	case !running:
		p.Action = ActionStart
		if facts.UnitEnabled == "not-found" || facts.UnitEnabled == "" {
			p.Why = append(p.Why, "first install")
		} else {
			p.Why = append(p.Why, "unit is "+facts.UnitActive)
		}
	case binaryChanged || unitChanged || remotesChanged:
		p.Action = ActionRestart
		if binaryChanged {
			p.Why = append(p.Why, "binary changed")
		}
		if unitChanged {
			p.Why = append(p.Why, "unit changed")
		}
		if remotesChanged {
			p.Why = append(p.Why, "leafnode remotes changed (not hot-reloadable)")
		}
	case configChanged:
		keys, reloadable := configChange(configOld, configNew)
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
	if running && p.Action == ActionNone && len(facts.Applied) > 0 {
		var pending []string
		for _, f := range files {
			if cur := facts.Files[f.Path]; cur.Exists && facts.Applied[f.Path] != cur.SHA256 {
				pending = append(pending, f.Path)
			}
		}
		if len(pending) > 0 {
			p.Action = ActionRestart
			p.Why = append(p.Why, "installed but not yet in effect (an earlier run stopped before restarting): "+strings.Join(pending, ", "))
		}
	}
	sort.SliceStable(p.Files, func(i, j int) bool { return p.Files[i].File.Kind == "binary" && p.Files[j].File.Kind != "binary" })
	return p, nil
}

// markerPath is where the applied marker lives on a host.
func markerPath(inv *inventory.Inventory) string {
	return path.Join(inv.NATS.ConfigDir, ".dcctl-applied")
}

// sumsPath is the sums stamp on a host: "<signature> <sha256> <path>" for
// the binary as dcctl installed it, so that facts need not hash it again.
func sumsPath(inv *inventory.Inventory) string {
	return path.Join(inv.NATS.ConfigDir, ".dcctl-sums")
}

// statSignature is the stat(1) format of a file's signature in the sums
// stamp: any write to the file changes its ctime.
const statSignature = "%s:%.9Y:%.9Z:%i"

// markerContent records the files a server now runs with.
func markerContent(files []templates.File) []byte {
	var b strings.Builder
	for _, f := range files {
		b.WriteString(f.SHA256 + " " + f.Path + "\n")
	}
	return []byte(b.String())
}
