package main

import (
	"fmt"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// certRotationNote says what to do about a certificate rotation left
// under way in the TLS directory (status prints it on stderr), or "".
func certRotationNote(inv *inventory.Inventory) string {
	if !inv.TLS.Enabled || inv.TLS.OperatorCA() {
		return ""
	}
	m, err := pki.Load(inv)
	if err != nil || m.CA == nil {
		return ""
	}
	st, under := m.Stage()
	switch {
	case !under:
		return ""
	case st == pki.StageRenew:
		return "dcctl: a renewal of the node certificates is under way (interrupted?): complete it with dcctl runbook rotate-certs"
	case st == pki.StageTrustBoth:
		return fmt.Sprintf("dcctl: a move to a new CA is under way: the servers trust both CAs; give clients %s, then end it with dcctl runbook rotate-certs --finish", pki.BundlePath(inv.File))
	}
	return fmt.Sprintf("dcctl: a move to a new CA is finishing (stage %s): complete it with dcctl runbook rotate-certs --finish", st)
}
