package main

import (
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// sshFlags are the connection flags of every command that reaches hosts.
func sshFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "trust hosts seen for the first time and add their keys to known_hosts, printing each fingerprint (a changed key is still refused)"},
		&cli.BoolFlag{Name: "direct", Usage: "reach NATS at the client URLs straight instead of through SSH"},
		&cli.DurationFlag{Name: "ssh-timeout", Value: 10 * time.Second, Usage: "bound on one SSH connection attempt"},
	}
}

// newSession opens nothing yet: hosts are dialled when first needed. bars,
// when not nil (a terminal), draws the replicas' catch-up.
func newSession(c *cli.Context, inv *inventory.Inventory, sec *inventory.Secrets, bars *hostBars) *provision.Session {
	o := provision.SessionOptions{
		AcceptNewHostKeys: c.Bool("accept-new-host-keys"),
		Direct:            c.Bool("direct"),
		AgentSocket:       os.Getenv("SSH_AUTH_SOCK"),
		Concurrency:       c.Int("concurrency"),
		DialTimeout:       c.Duration("ssh-timeout"),
		HostKeyLog:        c.App.ErrWriter,
		PreferDC:          c.String("from-dc"), // "" for commands without it
	}
	if bars != nil {
		o.CatchUp = bars.catchUp
	}
	return provision.NewSession(inv, sec, o)
}
