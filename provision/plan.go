package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// Action is what happens to a node's unit.
type Action string

const (
	ActionNone    Action = ""
	ActionStart   Action = "start"   // enable (install script), then start: first install, or not running
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
	// ServingMonitor is the monitoring endpoint (scheme://host:port) the
	// running server answers at until it restarts, when the new config
	// moves it; "" otherwise.
	ServingMonitor string `json:",omitempty"`

	cutDone bool // restarted by a cutover: not rolled again
	// Upgrade: the binary changes on a running node. It is staged beside
	// the installed one as <install_path>.next and swapped in behind the
	// health gate, in the upgrade's order (upgrade.go), rather than
	// installed with the other files.
	Upgrade bool `json:",omitempty"`
	// UpgradeTo is the release the node must report once swapped ("2.15.2");
	// "" when it cannot be known before the binary ran on the host.
	UpgradeTo string `json:",omitempty"`
	// Rollback: the swap puts <install_path>.previous back.
	Rollback bool `json:",omitempty"`
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

// notChecked says why nothing is known of the host (a plan without facts),
// for a refusal that needs every host's word: "unreachable" alone would
// hide a host that answered but refused (sudo asking for a password).
func (p *HostPlan) notChecked() string {
	why := "unreachable"
	switch {
	case p.Unreachable != nil:
		why = p.Unreachable.Error()
	case p.Err != nil:
		why = p.Err.Error()
	}
	return p.Node.Name + " could not be checked (" + why + ")"
}
