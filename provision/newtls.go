package provision

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
	"github.com/dcctl/dcctl/words"
)

// CheckNewCA refuses a CA that pki.Prepare just created when a host may
// already run with certificates from another one (the TLS directory was
// lost): new certificates would lock every node out of its routes, one
// restart at a time. Like new passwords, a new CA is allowed only when
// every host could be asked and none has dcctl's CA file. plans must cover
// every node.
func CheckNewCA(inv *inventory.Inventory, m *pki.Material, plans []*HostPlan) error {
	if !m.CreatedCA() {
		return nil
	}
	ca := templates.PathsFor(inv).TLSCA
	var had, unasked []string
	for _, p := range plans {
		switch {
		case p.Facts == nil:
			unasked = append(unasked, p.notChecked())
		case p.Facts.Files[ca].Exists:
			had = append(had, fmt.Sprintf("%s already has %s", p.Node.Name, ca))
		}
	}
	switch {
	case len(had) > 0:
		return fmt.Errorf("refusing to create a new CA in %s: servers may already run with certificates from another (%s). Restore %s (the CA's certificate and key) from a backup; dcctl never replaces a CA on its own",
			m.Dir(), strings.Join(append(had, unasked...), "; "), m.Dir())
	case len(unasked) > 0:
		// No host said it has a CA: most often a first provision that
		// cannot log in yet, where "restore from a backup" would send the
		// operator after a backup that never existed.
		return fmt.Errorf("not creating a CA in %s yet: %s could not be asked whether they already run with certificates from another CA (%s). Make every host reachable and run again; only if they do run with a CA whose files are lost, restore %s from a backup",
			m.Dir(), words.Count(len(unasked), "host"), strings.Join(unasked, "; "), m.Dir())
	}
	return nil
}

// TLSSwitch lists the running nodes whose config turns TLS on (or off): a
// route between a TLS and a plaintext server never connects (measured, see
// docs/security.md), so such a change cannot roll node by node: each
// cluster would split in two, and the leaf links with it.
func TLSSwitch(inv *inventory.Inventory, plans []*HostPlan) []string {
	return restartsWhoseConfig(inv, plans, func(was, now []byte) bool { return hasTLS(was) != hasTLS(now) })
}

// hasTLS reports whether a rendered config has TLS on its routes.
func hasTLS(config []byte) bool {
	return bytes.Contains(config, []byte("verify: true"))
}

// TLSSwitchRefusedError says why provision will not roll a switch of TLS
// node by node, and what to do instead.
type TLSSwitchRefusedError struct {
	Nodes []string
	On    bool
}

func (e *TLSSwitchRefusedError) Error() string {
	from, to := "plaintext", "TLS"
	if !e.On {
		from, to = to, from
	}
	return fmt.Sprintf("refusing to move running nodes from %[1]s to %[2]s one at a time (%[3]s): a route between a TLS and a plaintext server never connects, so a rolling restart would split every cluster and its leaf links. "+
		"Either move every node at once with `dcctl provision --tls-cutover` (each restarting node restarts at the same time: clients are cut off until the servers are back, typically well under a minute; acknowledged messages are kept), "+
		"or keep the deployment as it is with `[tls] enabled = %[4]v` in the inventory (see docs/security.md for what plaintext leaves open)",
		from, to, strings.Join(e.Nodes, ", "), !e.On)
}
