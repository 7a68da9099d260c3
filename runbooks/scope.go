package runbooks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// KnownNames refuses a runbook whose arguments name a node, cluster,
// domain or account the inventory does not have, or ask for what its
// topology cannot give (a replica count, a replacement), from the inventory
// alone: the CLI asks before it reads any secret, takes a lock or dials a
// host, so that an operator's typo is the first thing said, not a secrets
// file it never needed to see. Settle says the same again as the check
// "target".
func KnownNames(inv *inventory.Inventory, rb Runbook) error {
	e := &Env{Inv: inv}
	node := func(name string) error {
		if inv.Node(name) == nil {
			return unknownNode(e, name)
		}
		return nil
	}
	switch r := rb.(type) {
	case *ReplacePeer:
		if err := node(r.Node); err != nil {
			return err
		}
		return r.knownReplacement(e, inv.Node(r.Node))
	case *RestoreNode:
		return node(r.Node)
	case *ExpandStream:
		if err := knownAccount(e, r.Account); err != nil {
			return err
		}
		if err := knownDomain(e, r.Domain); err != nil {
			return err
		}
		// The count as the operator gave it: 0 is not "the default" here.
		return replicasFit(e, r.Domain, r.Replicas, r.Tags)
	case *Backup:
		if err := knownAccount(e, r.Account); err != nil {
			return err
		}
		return knownDomain(e, r.Domain)
	case *RestoreStream:
		if err := knownAccount(e, r.Account); err != nil {
			return err
		}
		d := r.Domain
		if d != "" {
			if err := knownDomain(e, d); err != nil {
				return err
			}
		} else {
			d = manifestDomain(r.From)
		}
		if r.Replicas != 0 { // 0: the backup's count, known once its manifest is read
			if err := replicasFit(e, d, r.Replicas, r.Tags); err != nil {
				return err
			}
		}
		return r.knownSource(e)
	case *RollingRestart:
		return knownCluster(e, r.clusters(e), r.Cluster)
	case *Upgrade:
		return knownCluster(e, r.clusters(e), r.Cluster)
	case *RotatePasswords:
		for _, u := range r.Users {
			if !slices.Contains(inv.Users(), u) {
				return fmt.Errorf("user %s is not in the inventory (users: %s)", u, strings.Join(inv.Users(), ", "))
			}
		}
	}
	return nil
}

// knownSource refuses a --from that holds no manifest, or whose manifest
// names a domain or account this inventory lacks (a backup of another
// deployment) with no --domain or --account to say where it goes: the
// operator's mistake, said before any secret is read. Only the manifest is
// read here; the archive is checked when the run settles its target.
func (r *RestoreStream) knownSource(e *Env) error {
	m, err := readManifestFile(r.From)
	if err != nil {
		return err
	}
	if r.Domain == "" && m.Domain != "" {
		if err := knownDomain(e, m.Domain); err != nil {
			return fmt.Errorf("the backup in %s is of domain %s: %w; say where to restore it with --domain D", r.From, m.Domain, err)
		}
	}
	probe := *r
	probe.manifest = m
	_, err = probe.account(e)
	return err
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
