package provision

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/remote"
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

// makeDirs creates the plan's missing parent directories, then creates or
// fixes its owned ones. Parents get `mkdir -p`, which leaves an existing
// directory alone (`install -d` would chmod and chown it), under umask 022:
// a parent created 0700, as a login's or sudo's umask may make it, would
// keep the service user from reaching its binary or config.
func makeDirs(ctx context.Context, c *remote.Client, p *HostPlan, log *lineLog) error {
	name := p.Node.Name
	if len(p.Parents) > 0 {
		q := make([]string, len(p.Parents))
		for i, d := range p.Parents {
			q[i] = shellQuote(d)
		}
		if _, stderr, err := c.Run(ctx, "umask 022 && mkdir -p -- "+strings.Join(q, " ")); err != nil {
			return fmt.Errorf("create directory %s: %w", strings.Join(p.Parents, ", "), withStderr(err, stderr))
		}
		log.say(name, "created directory "+strings.Join(p.Parents, ", "))
	}
	for _, d := range p.Dirs {
		cmd := fmt.Sprintf("install -d -m %o -o %s -g %s %s", d.Mode, shellQuote(d.Owner), shellQuote(d.Group), shellQuote(d.Path))
		if _, stderr, err := c.Run(ctx, cmd); err != nil {
			return fmt.Errorf("create directory %s: %w", d.Path, withStderr(err, stderr))
		}
		log.say(name, fmt.Sprintf("directory %s (%o %s:%s)", d.Path, d.Mode, d.Owner, d.Group))
	}
	return nil
}
