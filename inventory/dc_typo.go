package inventory

import (
	"slices"

	"github.com/dcctl/dcctl/words"
)

// dcTypoWarnings warns of a data center that one node alone has and whose
// name is one slip of a key away from another DC's. The inventory has no
// list of DCs, so a misspelt dc is a new DC: valid, and it quietly gives the
// node another server tag (placement), other hub nodes to link to first
// and a line of its own in status. A lone node in a third DC is a real
// design (a tie-breaker), so this warns rather than refuses, and names
// that differ in a digit (fra1, fra2) are taken as meant.
func (inv *Inventory) dcTypoWarnings() []Warning {
	members := map[string][]*Node{}
	for _, n := range inv.Nodes {
		members[n.DC] = append(members[n.DC], n)
	}
	var out []Warning
	for _, n := range inv.Nodes {
		if len(members[n.DC]) != 1 {
			continue
		}
		var near []string
		for dc := range members {
			if dc != n.DC && len(members[dc]) > 1 && oneSlipApart(n.DC, dc) {
				near = append(near, dc)
			}
		}
		if len(near) == 0 {
			continue
		}
		slices.Sort(near)
		other := near[0]
		out = append(out, inv.Warningf(Key("nodes", n.Name, "dc"),
			"data center %q is this node's alone and one letter from %q (%s): a typo? The inventory has no list of DCs, so a new name is a new DC: the node's tag dc:%s (placement), the hub nodes its links try first and status's DC table follow it",
			n.DC, other, words.Count(len(members[other]), "node"), n.DC))
	}
	return out
}

// oneSlipApart says whether a and b differ by one typing slip that
// involves a letter: one letter left out, added or replaced, or two
// neighbouring characters swapped. A differing digit is not a slip.
func oneSlipApart(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	switch len(a) - len(b) {
	case 1:
		for i := range len(a) {
			if a[:i]+a[i+1:] == b {
				return !isDigit(a[i])
			}
		}
		return false
	case 0:
		var diff []int
		for i := range len(a) {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		switch {
		case len(diff) == 1:
			return !isDigit(a[diff[0]]) && !isDigit(b[diff[0]])
		case len(diff) == 2 && diff[1] == diff[0]+1:
			i := diff[0]
			return a[i] == b[i+1] && a[i+1] == b[i]
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
