package provision

import (
	"reflect"
	"regexp"
	"sort"

	"github.com/nats-io/nats-server/v2/conf"
)

// hotReloadable lists the config keys dcctl applies with a reload (SIGHUP)
// rather than a restart. nats-server's config reference marks far more
// options "Hot Reloadable"; we only trust the ones whose reload we rely on
// and test: accounts (users, passwords) and cluster routes. Anything else that
// changes (domain, sync_interval, listen addresses, server_name, ...) means a
// restart.
var hotReloadable = map[string]bool{
	"accounts":       true,
	"cluster.routes": true,
}

var includeLine = regexp.MustCompile(`(?m)^\s*include\s+.*$`)

// configChange returns the keys that differ between two rendered configs and
// whether all of them can be reloaded. A config it cannot parse is treated
// as needing a restart.
func configChange(old, new []byte) (keys []string, reloadable bool) {
	// includes name files beside the config on the host; they are compared
	// file by file, not here
	o, err1 := conf.Parse(includeLine.ReplaceAllString(string(old), ""))
	n, err2 := conf.Parse(includeLine.ReplaceAllString(string(new), ""))
	if err1 != nil || err2 != nil {
		return []string{"(unparseable current config)"}, false
	}
	keys = diffKeys("", o, n)
	sort.Strings(keys)
	reloadable = true
	for _, k := range keys {
		if !hotReloadable[k] {
			reloadable = false
		}
	}
	return keys, reloadable
}

// diffKeys names the keys whose values differ, descending into blocks except
// for reloadable ones, which are compared whole.
func diffKeys(prefix string, a, b map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	for k := range seen {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		av, bv := a[k], b[k]
		am, aok := av.(map[string]any)
		bm, bok := bv.(map[string]any)
		if aok && bok && !hotReloadable[path] {
			out = append(out, diffKeys(path, am, bm)...)
			continue
		}
		if !reflect.DeepEqual(av, bv) {
			out = append(out, path)
		}
	}
	return out
}
