package inventory

import (
	"regexp"
	"strings"

	"github.com/dcctl/dcctl/words"
)

// DCTagPrefix starts the server tag every node gets from its data center:
// dc:<dc>. JetStream placement (a stream's placement tags) and dcctl's
// per-DC views read it.
const DCTagPrefix = "dc:"

// tagRE keeps a tag one token in the config; nats-server lower-cases tags.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:=-]*$`)

// DCTag is the server tag of data center dc, as nats-server stores it.
func DCTag(dc string) string { return DCTagPrefix + strings.ToLower(dc) }

// ServerTags are the node's nats-server server_tags: dc:<dc> first, then the
// inventory's own, lower-cased (nats-server compares tags so) and without
// repeats.
func (n *Node) ServerTags() []string {
	out := []string{DCTag(n.DC)}
	for _, t := range n.Tags {
		t = strings.ToLower(t)
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// HasTags reports whether the node carries every one of tags (compared as
// nats-server does, without case), as JetStream placement requires of each
// replica's server.
func (n *Node) HasTags(tags []string) bool {
	own := n.ServerTags()
	for _, t := range tags {
		found := false
		for _, o := range own {
			found = found || o == strings.ToLower(t)
		}
		if !found {
			return false
		}
	}
	return true
}

// validateTags checks every node's server_tags, and that no two data
// centers differ only in case (they would share one dc: tag).
func validateTags(c *collector, inv *Inventory) {
	validateDCCase(c, inv)
	for _, n := range inv.Nodes {
		key := c.settingKey(n.Name, "server_tags")
		for _, t := range n.Tags {
			switch {
			case !tagRE.MatchString(t):
				c.addf(key, "tag %q must start with a letter or digit and hold only letters, digits, _ . : = -", t)
			case strings.HasPrefix(strings.ToLower(t), DCTagPrefix) && strings.HasPrefix(key, "defaults."):
				// One mistake, said once: naming a node here would repeat it per node.
				c.addf(key, "tag %q: dc: tags come from each node's dc (every node gets dc:<its dc>); remove it here", t)
			case strings.HasPrefix(strings.ToLower(t), DCTagPrefix):
				c.addf(key, "tag %q: dc: tags come from the node's dc (%s gets %s); name the data center there", t, n.Name, DCTag(n.DC))
			}
		}
	}
}

// validateDCCase reports the nodes whose dc is spelt otherwise than most
// nodes of that data center spell it: the odd one out is the likely typo,
// so that is where the operator is sent (ties go to the first node's spelling).
func validateDCCase(c *collector, inv *Inventory) {
	count := map[string]int{}
	usual := map[string]string{}
	for _, n := range inv.Nodes {
		if n.DC == "" {
			continue
		}
		count[n.DC]++
		low := strings.ToLower(n.DC)
		if u, ok := usual[low]; !ok || count[n.DC] > count[u] {
			usual[low] = n.DC
		}
	}
	for _, n := range inv.Nodes {
		if u := usual[strings.ToLower(n.DC)]; n.DC != "" && n.DC != u {
			spell := "spell"
			if count[u] == 1 {
				spell = "spells"
			}
			c.addf(Key("nodes", n.Name, "dc"), "data center %q differs from %q only in case (%s %s it %q): both would get the server tag %s", n.DC, u, words.Count(count[u], "node"), spell, u, DCTag(n.DC))
		}
	}
}
