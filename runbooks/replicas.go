package runbooks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/words"
)

// maxReplicas is JetStream's own bound on a stream's replica count.
const maxReplicas = 5

// replicasFit refuses a replica count the inventory alone shows cannot be
// reached: under 1, over JetStream's bound, or over the number of nodes of
// domain's cluster that provision starts (carrying every one of tags, when
// given). Each replica needs its own server. An unknown domain is said by
// knownDomain; here it passes.
func replicasFit(e *Env, domain string, n int, tags []string) error {
	if n < 1 {
		return fmt.Errorf("--replicas %d: a stream has at least 1 replica", n)
	}
	if n > maxReplicas {
		return fmt.Errorf("--replicas %d: JetStream keeps at most %d replicas of a stream", n, maxReplicas)
	}
	cl := e.Inv.ClusterByDomain(domain)
	if cl == nil {
		return nil
	}
	var fit, known []string
	for _, node := range cl.Active() {
		if node.HasTags(tags) {
			fit = append(fit, node.Name)
		}
		for _, t := range node.ServerTags() {
			if !slices.Contains(known, t) {
				known = append(known, t)
			}
		}
	}
	if n <= len(fit) {
		return nil
	}
	have := words.Count(len(fit), "non-standby node")
	instead := "choose fewer replicas or add nodes"
	if len(tags) > 0 {
		slices.Sort(known)
		have += " tagged " + strings.Join(tags, " and ")
		instead = fmt.Sprintf("choose other tags (its nodes carry %s), fewer replicas, or add nodes", strings.Join(known, ", "))
	}
	if len(fit) > 0 {
		have += " (" + strings.Join(fit, ", ") + ")"
	}
	return fmt.Errorf("--replicas %d: cluster %s (domain %q) in %s has %s, and each replica needs its own server: %s",
		n, cl.Name, domain, e.Inv.File, have, instead)
}
