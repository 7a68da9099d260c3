package runbooks

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/dcctl/dcctl/inventory"
)

// Clusters names the clusters rb acts on, known from its arguments alone
// (before any connection): the run must hold the deployment lock on a
// majority of each one's hosts, so that two operators who each reach a
// different part of a cluster can never both act on it. A runbook whose
// subject is unknown (a node or domain not in the inventory, an unreadable
// backup) names none: its pre-checks refuse it before it changes anything.
func Clusters(inv *inventory.Inventory, rb Runbook) []string {
	var out []string
	add := func(cl *inventory.Cluster) {
		if cl != nil {
			out = append(out, cl.Name)
		}
	}
	node := func(name string) {
		if n := inv.Node(name); n != nil {
			add(inv.ClusterOf(n))
		}
	}
	switch r := rb.(type) {
	case *ReplacePeer:
		node(r.Node)
		if r.Replacement != "" {
			node(r.Replacement)
		}
	case *RestoreNode:
		node(r.Node)
	case *ExpandStream:
		add(inv.ClusterByDomain(r.Domain))
	case *Backup:
		add(inv.ClusterByDomain(r.Domain))
	case *RestoreStream:
		d := r.Domain
		if d == "" {
			d = manifestDomain(r.From)
		}
		add(inv.ClusterByDomain(d))
	case *RollingRestart:
		if r.Cluster != "" {
			add(inv.Cluster(r.Cluster))
			break
		}
		for _, cl := range inv.Clusters {
			add(cl)
		}
	case *Upgrade:
		if r.Cluster != "" {
			add(inv.Cluster(r.Cluster))
			break
		}
		for _, cl := range inv.Clusters {
			add(cl)
		}
	default:
		// A runbook this switch does not know yet: every cluster, the safe side.
		for _, cl := range inv.Clusters {
			add(cl)
		}
	}
	return dedupe(out)
}

// manifestDomain is the source domain a backup's manifest names, or "" when
// it cannot be read (restore-stream's first pre-check then says why).
func manifestDomain(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return ""
	}
	var m Manifest
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return m.Domain
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
