package provision

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// AdoptRoutePassword handles a route password PrepareSecrets made up
// because the secrets file had none. Where servers already run with one
// (the file was lost, or rebuilt with --replace-lost), a new one cannot
// roll: a server with the new password and one with the old never route
// to each other, and nats-server takes one route password only. So the
// password the servers use, which their configs carry in the route URLs,
// is taken back into the secrets (with its hash, so nothing changes on the
// hosts) and the nodes are planned again. A deployment with no route
// password yet keeps the new one. Servers that disagree are refused.
func AdoptRoutePassword(ctx context.Context, s *Session, plans []*HostPlan, nodes []*inventory.Node) ([]*HostPlan, error) {
	if !s.Secrets.RouteGenerated() {
		return plans, nil
	}
	found := map[string]string{} // password -> hash
	var where []string
	cfg := templates.PathsFor(s.Inv).Config
	for _, p := range plans {
		for _, fc := range p.Files {
			if fc.File.Path != cfg || fc.OldConfig == nil {
				continue
			}
			pw, hash := routeLogin(fc.OldConfig)
			if pw == "" {
				continue
			}
			if _, ok := found[pw]; !ok || found[pw] == "" {
				found[pw] = hash
			}
			where = append(where, p.Node.Name)
		}
	}
	switch len(found) {
	case 0:
		return plans, nil
	case 1:
	default:
		sort.Strings(where)
		return nil, fmt.Errorf("the secrets file %s has no route password and the servers use %d different ones (%s): restore its [route] table from a backup", s.Secrets.File(), len(found), strings.Join(where, ", "))
	}
	for pw, hash := range found {
		if err := s.Secrets.AdoptRoute(pw, hash); err != nil {
			return nil, err
		}
	}
	return Plan(ctx, s, nodes)
}

// routeLogin reads the route password from a config dcctl rendered: the
// password in its route URLs, and the hash its cluster authorization
// holds; "" when it has none.
func routeLogin(config []byte) (password, hash string) {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return "", ""
	}
	cl, _ := m["cluster"].(map[string]any)
	if auth, ok := cl["authorization"].(map[string]any); ok {
		hash, _ = auth["password"].(string)
	}
	routes, _ := cl["routes"].([]any)
	for _, r := range routes {
		s, _ := r.(string)
		u, err := url.Parse(s)
		if err != nil || u.User == nil || u.User.Username() != inventory.RouteUser {
			continue
		}
		if pw, ok := u.User.Password(); ok {
			return pw, hash
		}
	}
	return "", ""
}
