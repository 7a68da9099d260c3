package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// placementData is the placement part of a stream's configuration.
type placementData struct {
	Placement *struct {
		Cluster string   `json:"cluster,omitempty"`
		Tags    []string `json:"tags,omitempty"`
	} `json:"placement,omitempty"`
}

func placementTags(config json.RawMessage) []string {
	var p placementData
	if json.Unmarshal(config, &p) != nil || p.Placement == nil {
		return nil
	}
	return p.Placement.Tags
}

// SameTags reports whether two tag lists name the same tags, as nats-server
// compares them (without case or order).
func SameTags(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, 0, len(l))
		for _, t := range l {
			t = strings.ToLower(strings.TrimSpace(t))
			if t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// withPlacementTags sets tags in a stream configuration decoded as a map,
// keeping the rest of its placement (an empty list removes the tags).
func withPlacementTags(cfg map[string]any, tags []string) {
	pl, _ := cfg["placement"].(map[string]any)
	if pl == nil {
		pl = map[string]any{}
	}
	if len(tags) == 0 {
		delete(pl, "tags")
	} else {
		pl["tags"] = tags
	}
	if len(pl) == 0 {
		delete(cfg, "placement")
		return
	}
	cfg["placement"] = pl
}

// SetPlacementTags changes the placement tags of stream: every replica must
// then sit on a server carrying all of them. A replica on a server without
// them is moved (JetStream places new replicas, catches them up, then drops
// the old ones); JetStream refuses a move and a change of the replica count
// in one update, so callers change one, wait, then the other.
func (c *Conn) SetPlacementTags(ctx context.Context, domain, stream string, tags []string) error {
	cur, err := c.Stream(ctx, domain, stream)
	if err != nil {
		return fmt.Errorf("place stream %s by tags %v: %w", stream, tags, err)
	}
	if SameTags(cur.PlacementTags, tags) {
		return nil
	}
	var cfg map[string]any
	if err := json.Unmarshal(cur.config, &cfg); err != nil {
		return fmt.Errorf("place stream %s by tags %v: decode config: %w", stream, tags, err)
	}
	withPlacementTags(cfg, tags)
	nc, err := c.appConn()
	if err != nil {
		return fmt.Errorf("place stream %s by tags %v: %w", stream, tags, err)
	}
	if err := c.apiRequest(ctx, nc, apiPrefix(domain)+".STREAM.UPDATE."+stream, cfg, nil); err != nil {
		return fmt.Errorf("place stream %s in domain %q by tags %v: %w", stream, domain, tags, err)
	}
	return nil
}
