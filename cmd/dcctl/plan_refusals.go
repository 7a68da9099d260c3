package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Refusal keys in `plan --json`: what change provision would refuse.
const (
	refuseTLS            = "tls"             // TLS on or off node by node
	refuseClusterPort    = "cluster_port"    // a new cluster_port node by node
	refuseClusterRename  = "cluster_rename"  // a new cluster name or domain node by node
	refuseDroppedAccount = "dropped_account" // an account (or its JetStream) dropped while it holds streams
	refuseService        = "service"         // a renamed service beside the running one
	refuseStoreDir       = "store_dir"       // running nodes restarted on another store_dir
	refuseNodeElsewhere  = "node_elsewhere"  // a node to start while a server of its name runs on another host
	refuseNodeRenamed    = "node_renamed"    // a running node renamed on its own host
)

// refusal is one thing provision would refuse, as `plan --json` gives it on
// each node it concerns.
type refusal struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// planRefusals gathers, while plan only warns, what provision would refuse,
// by node: on stderr for the text output (as before), and in each node's
// entry of `plan --json`, so that scripts need not read stderr.
type planRefusals map[string][]refusal

// warn writes the plan's warning and records the refusal on nodes (on every
// planned node when it names none).
func (r planRefusals) warn(c *cli.Context, key string, nodes []string, err error) {
	fmt.Fprintf(c.App.ErrWriter, "warning: provision would refuse: %v\n", err)
	if len(nodes) == 0 {
		nodes = []string{""}
	}
	for _, n := range nodes {
		r[n] = append(r[n], refusal{Key: key, Reason: err.Error()})
	}
}

// of is what provision would refuse that concerns node.
func (r planRefusals) of(node string) []refusal {
	return append(append([]refusal(nil), r[""]...), r[node]...)
}
