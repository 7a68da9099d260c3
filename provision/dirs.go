package provision

import (
	"path"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// ownedDirs are the directories dcctl owns: it sets their mode and owner.
func ownedDirs(inv *inventory.Inventory) []templates.File {
	return []templates.File{
		{Path: inv.NATS.ConfigDir, Mode: 0o750, Owner: "root", Group: inv.NATS.User, Kind: "dir"},
		{Path: inv.NATS.StoreDir, Mode: 0o750, Owner: inv.NATS.User, Group: inv.NATS.User, Kind: "dir"},
	}
}

// parentDirs are the directories that hold what dcctl installs without
// being its own: the binary's directory, the unit directory, and those
// holding the owned directories. provision creates one when it is missing
// and leaves an existing one as it is: /usr/local/bin or /opt may be shared
// with other software, and their mode and owner are the host's business.
func parentDirs(dirs, files []templates.File) []string {
	owned := map[string]bool{}
	for _, d := range dirs {
		owned[d.Path] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		d := path.Dir(p)
		if d == "/" || owned[d] || seen[d] {
			return
		}
		seen[d] = true
		out = append(out, d)
	}
	for _, d := range dirs {
		add(d.Path)
	}
	for _, f := range files {
		add(f.Path)
	}
	return out
}
