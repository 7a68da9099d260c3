package inventory

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/words"
)

// Warning is a topology choice that works but that an operator should know
// the cost of. It is placed like a Problem: the file, and the line where
// the key is written (0 when it is not written: a default).
type Warning struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Key  string `json:"key"`
	Msg  string `json:"message"`
}

func (w Warning) String() string { return w.Key + ": " + w.Msg }

// Located is the warning as validate prints it, placed like an error:
// "FILE:LINE: KEY: message" (no line for a key that is not written).
func (w Warning) Located() string {
	return Problem{File: w.File, Line: w.Line, Key: w.Key, Msg: w.Msg}.String()
}

// Warningf is a warning about the inventory's key, placed at the line where
// it is written: for checks made after Load, by other packages.
func (inv *Inventory) Warningf(key, format string, args ...any) Warning {
	return Warning{File: inv.File, Line: inv.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Warnings lists the topology risks worth an operator's attention though the
// inventory is valid.
func (inv *Inventory) Warnings() []Warning {
	var out []Warning
	for _, cl := range inv.Clusters {
		key := Key("clusters", cl.Name)
		size := len(cl.Active())
		tolerate := (size - 1) / 2
		switch {
		case size < 2:
			// refused by validation: no meta leader
		case size < 3:
			out = append(out, inv.Warningf(key, "%s: too small for R3 streams and tolerates no failure of the meta group; use 3 or 5", words.Count(size, "node")))
		case size%2 == 0:
			out = append(out, inv.Warningf(key, "%s tolerate only %s, like %d: an even-sized cluster adds no availability; 5 nodes are recommended for R3 streams (they survive 2 failures)", words.Count(size, "node"), words.Count(tolerate, "failure"), size-1))
		}
		if cl.IsLeaf() {
			dcs := map[string]bool{}
			for _, n := range cl.Active() {
				dcs[n.DC] = true
			}
			if len(dcs) > 1 {
				out = append(out, inv.Warningf(key, "leaf cluster spread over %d data centers: a leaf cluster is meant to serve one DC; a DC link failure can split its meta group", len(dcs)))
			}
		}
	}
	out = append(out, inv.dcTypoWarnings()...)
	if u := inv.NATS.User; u == "root" {
		// Not refused: the unit's empty capability set and read-only
		// system keep such a server from most harm, and it works. But it
		// still owns every root-owned file the unit can write, and the
		// service needs no privilege at all.
		out = append(out, inv.Warningf("nats.user", "%q runs nats-server as root: a flaw in it (or in a config it is given) would act as the owner of root's files; leave user unset for \"nats\", a system user dcctl creates", u))
	}
	shared := inv.UsersSharingEnvVar()
	for _, v := range slices.Sorted(maps.Keys(shared)) {
		key := "accounts"
		for _, a := range inv.Accounts {
			if slices.Contains(a.Users, shared[v][len(shared[v])-1]) {
				key = Key("accounts", a.Name, "users")
			}
		}
		out = append(out, inv.Warningf(key, "users %s share the password variable %s: their passwords must come from the secrets file (dcctl refuses the variable, since it cannot tell whose it is)", strings.Join(shared[v], ", "), v))
	}
	if inv.NATS.SyncInterval != "always" {
		out = append(out, inv.Warningf("nats.sync_interval", "%q acknowledges writes before they reach disk: nodes crashing together (power loss) can lose acknowledged messages (Jepsen, NATS 2.12.1); \"always\" is the safe choice", inv.NATS.SyncInterval))
	}
	return out
}
