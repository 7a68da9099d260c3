package main

import (
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "write every node's nats-server config and systemd unit locally (no SSH)",
		ArgsUsage: "[INVENTORY]",
		Description: "Writes DIR/<node>/<absolute path on the host> for each node. Configs (password\n" +
			"hashes; plaintext passwords in leafnode-remotes.conf) are written 0600 in 0700\n" +
			"directories (the hosts get 0640 root:<nats user>), never through a symbolic link:\n" +
			"a link among the directories refuses the render (exit 2), a link in a file's\n" +
			"place is replaced by the file. Passwords come from the secrets file or\n" +
			"DCCTL_PASSWORD_<USER>, the TLS certificates and keys from the TLS directory beside\n" +
			"the inventory (<inventory>.tls/); render never creates them (only provision does):\n" +
			"without them it refuses, or with --placeholder-passwords writes the placeholder\n" +
			"\"PLACEHOLDER-not-the-real-password\" for every user and certificates from a\n" +
			"throwaway CA made up for the render.",
		Flags: []cli.Flag{
			inventoryFlag(),
			&cli.StringFlag{Name: "out", Usage: "output `DIR`", Required: true},
			&cli.BoolFlag{Name: "placeholder-passwords", Usage: "render a placeholder instead of the real passwords (no secrets file needed)"},
		},
		Action: runRender,
	}
}

func runRender(c *cli.Context) error {
	inv, err := loadInventory(c, true)
	if err != nil {
		return err
	}
	var sec *inventory.Secrets
	if c.Bool("placeholder-passwords") {
		sec, err = placeholderSecrets(inv)
	} else {
		sec, err = loadSecrets(inv)
	}
	if err != nil {
		return placeholderHint(err)
	}
	type item struct {
		rel  string
		file templates.File
	}
	var items []item
	for _, n := range inv.Nodes {
		files, err := templates.Render(inv, sec, n.Name)
		if err != nil {
			// Rendering reads nothing but the inventory and its secrets:
			// what fails is the input.
			return refused(placeholderHint(err))
		}
		for _, f := range files {
			items = append(items, item{path.Join(n.Name, strings.TrimPrefix(f.Path, "/")), f})
		}
	}
	out := c.String("out")
	tree, err := openRenderTree(out)
	if err != nil {
		return refused(err)
	}
	defer tree.Close()
	// Every path is checked before any is written: a planted link refuses
	// the whole render, not half of it.
	for _, it := range items {
		if err := tree.check(it.rel); err != nil {
			return refused(err)
		}
	}
	for _, it := range items {
		if err := tree.write(it.rel, it.file.Content, localMode(it.file)); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.App.Writer, "rendered %d files for %d nodes under %s\n", len(items), len(inv.Nodes), out)
	return nil
}

// placeholderHint says how to read the files before the first provision,
// which is what creates the passwords and certificates render needs.
func placeholderHint(err error) error {
	return fmt.Errorf("%w\nTo read the files before the first provision: dcctl render --placeholder-passwords", err)
}

// placeholderSecrets are placeholder passwords and, with TLS on, a
// throwaway CA and certificates made up in memory: files to read, never to
// install.
func placeholderSecrets(inv *inventory.Inventory) (*inventory.Secrets, error) {
	sec, err := inventory.PlaceholderSecrets(inv)
	if err != nil {
		return nil, err
	}
	m, err := pki.Placeholder(inv, time.Now())
	if err != nil {
		return nil, err
	}
	m.Apply(sec)
	return sec, nil
}

// localMode is a rendered file's mode on this machine: configs hold password
// hashes, and the leafnode remotes plaintext passwords, so they are the
// operator's alone (0600); the unit keeps the mode it gets on the hosts.
func localMode(f templates.File) os.FileMode {
	if f.Secret || f.Kind == "config" || f.Kind == templates.KindKey {
		return 0o600
	}
	return os.FileMode(f.Mode)
}
