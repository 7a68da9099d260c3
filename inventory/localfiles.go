package inventory

import (
	"errors"
	"fmt"
	"os"
	"sort"
)

// CheckLocalFiles checks the files on this machine that the inventory names:
// the nats-server binary, the SSH keys (each must parse as a private key)
// and the known_hosts files. Load does
// not, so that an inventory can be read where they are absent (a CI job,
// status from another machine); validate does.
//
// agent says that an ssh-agent is available (SSH_AUTH_SOCK is set): a missing
// or unusable key file is then only a warning, since the agent may hold the key. A missing
// known_hosts is a warning too: on first contact every host is new, and
// --accept-new-host-keys creates the file.
func (inv *Inventory) CheckLocalFiles(agent bool) ([]Problem, []Warning) {
	c := &collector{file: inv.File, lines: inv.lines}
	var warn []Warning
	if _, err := regularFile(inv.NATS.Binary); err != nil {
		c.addf("nats.binary", "%v: build one for the hosts (GOOS=linux GOARCH=<their architecture> go build -o bin/nats-server github.com/nats-io/nats-server/v2) or point binary at one", err)
	}
	warned := map[string]bool{}
	keyErr := map[string]error{} // by file: a thousand nodes share one key
	for _, n := range inv.Nodes {
		if n.SSH.Key != "" {
			err, seen := keyErr[n.SSH.Key]
			if !seen {
				if _, err = regularFile(n.SSH.Key); err == nil {
					err = sshKeyProblem(n.SSH.Key)
				}
				keyErr[n.SSH.Key] = err
			}
			if err != nil {
				key := c.writtenAt(n.Name, "ssh_key")
				if agent {
					if !warned[key+n.SSH.Key] {
						warned[key+n.SSH.Key] = true
						warn = append(warn, inv.Warningf(key, "%v: only the keys in ssh-agent will be offered", err))
					}
				} else {
					c.addf(key, "%v, and no ssh-agent is available (SSH_AUTH_SOCK is not set)", err)
				}
			}
		}
		key := c.writtenAt(n.Name, "known_hosts")
		switch missing, err := regularFile(n.SSH.KnownHosts); {
		case missing:
			if !warned[key+n.SSH.KnownHosts] {
				warned[key+n.SSH.KnownHosts] = true
				warn = append(warn, inv.Warningf(key, "%s does not exist yet: no host is known; the first connection needs --accept-new-host-keys (compare the fingerprints it prints with the hosts' own)", n.SSH.KnownHosts))
			}
		case err != nil:
			c.addf(key, "%v", err)
		}
	}
	sort.SliceStable(warn, func(i, j int) bool { return warn[i].Key < warn[j].Key })
	if c.err() == nil {
		return nil, warn
	}
	return c.list, warn
}

// writtenAt names where a node's file setting is written: its own table, or
// [defaults], also when the built-in default applies (that is where to set it).
func (c *collector) writtenAt(node, k string) string {
	own := Key("nodes", node, k)
	if _, ok := c.lines[own]; ok {
		return own
	}
	return "defaults." + k
}

// regularFile says why path is not a readable regular file, or nil; missing
// when it does not exist at all.
func regularFile(path string) (missing bool, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, fmt.Errorf("%s does not exist", path)
	case err != nil:
		return false, err
	case st.IsDir():
		return false, fmt.Errorf("%s is a directory, not a file", path)
	case !st.Mode().IsRegular():
		return false, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	return false, f.Close()
}
