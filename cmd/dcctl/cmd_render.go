package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "write every node's nats-server config and systemd unit locally (no SSH)",
		ArgsUsage: "[INVENTORY]",
		Description: "Writes DIR/<node>/<absolute path on the host> for each node, with the modes the\n" +
			"hosts will get (files holding passwords are 0640 or stricter). Passwords come\n" +
			"from the secrets file or DCCTL_PASSWORD_<USER>; render never creates them\n" +
			"(only provision does): without them it refuses, or with --placeholder-passwords\n" +
			"writes the placeholder " + "\"PLACEHOLDER-not-the-real-password\" for every user.",
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
		sec, err = inventory.PlaceholderSecrets(inv)
	} else {
		sec, err = loadSecrets(inv)
	}
	if err != nil {
		return err
	}
	out := c.String("out")
	count := 0
	for _, n := range inv.Nodes {
		files, err := templates.Render(inv, sec, n.Name)
		if err != nil {
			return err
		}
		for _, f := range files {
			dst := filepath.Join(out, n.Name, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("render %s: %w", dst, err)
			}
			if err := os.WriteFile(dst, f.Content, os.FileMode(f.Mode)); err != nil {
				return fmt.Errorf("render %s: %w", dst, err)
			}
			// WriteFile keeps the mode of an existing file: enforce ours.
			if err := os.Chmod(dst, os.FileMode(f.Mode)); err != nil {
				return fmt.Errorf("render %s: %w", dst, err)
			}
			count++
		}
	}
	fmt.Fprintf(c.App.Writer, "rendered %d files for %d nodes under %s\n", count, len(inv.Nodes), out)
	return nil
}
