package status

import (
	"fmt"
	"sort"
	"strings"
)

// releaseWarnings notes servers that run different nats-server releases.
// Every health check passes in between, so a rolling upgrade or rollback
// stopped halfway (Ctrl-C, a gate that timed out, a host down) would
// otherwise show as healthy, and the next operator would not know that one
// of the two commands that end it is still owed.
func releaseWarnings(r *Report, add func(level, domain, format string, a ...any)) {
	by := map[string][]string{}
	for _, d := range r.Domains {
		for _, s := range d.Servers {
			if s.NATS != nil && s.NATS.Version != "" {
				by[s.NATS.Version] = append(by[s.NATS.Version], s.Name)
			}
		}
	}
	if len(by) < 2 {
		return
	}
	releases := make([]string, 0, len(by))
	for v := range by {
		releases = append(releases, v)
	}
	// The release of fewest servers first: those are the odd ones out.
	sort.Slice(releases, func(i, j int) bool {
		a, b := by[releases[i]], by[releases[j]]
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return releases[i] < releases[j]
	})
	parts := make([]string, len(releases))
	for i, v := range releases {
		parts[i] = v + " on " + someServers(by[v])
	}
	add(LevelNotice, "", "servers run %d nats-server releases: %s. A rolling upgrade or rollback stopped halfway leaves it so: `dcctl runbook upgrade --binary FILE` (FILE the newer release) finishes the upgrade, `dcctl runbook upgrade --rollback` puts the swapped servers back on the release they ran before",
		len(releases), strings.Join(parts, "; "))
}

// someServers names a few servers and counts the rest.
func someServers(names []string) string {
	sort.Strings(names)
	const shown = 4
	if len(names) == 1 {
		return names[0]
	}
	if len(names) <= shown {
		return fmt.Sprintf("%d servers (%s)", len(names), strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d servers (%s and %d more)", len(names), strings.Join(names[:shown], ", "), len(names)-shown)
}
