package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The monitoring endpoints (/healthz, /jsz, /leafz) need no credentials:
// checks that read them keep working while a run changes passwords.

// monitor GETs path from node's monitoring endpoint, through the SSH
// connection to its host (or straight with Direct), and returns the body of
// a 200 answer.
func (s *Session) monitor(ctx context.Context, node, path string) ([]byte, error) {
	n := s.Inv.Node(node)
	if n == nil {
		return nil, fmt.Errorf("%s %s: not in the inventory", node, path)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: s.dialNATS, DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", node, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", node, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s answered %d", node, path, resp.StatusCode)
	}
	return body, nil
}

// WaitMetaCurrent polls until node is a current member of its domain's meta
// group as the group's leader sees it (the leader's /jsz: a follower's own
// view of the replicas is not reliable), or ctx ends.
func (s *Session) WaitMetaCurrent(ctx context.Context, node string) error {
	var last error
	for {
		last = s.metaCurrent(ctx, node)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not a current meta peer of its domain: %w", node, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

type jszMeta struct {
	Meta *struct {
		Leader   string `json:"leader"`
		Replicas []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline"`
			Lag     uint64 `json:"lag"`
		} `json:"replicas"`
	} `json:"meta_cluster"`
}

func (s *Session) metaCurrent(ctx context.Context, node string) error {
	own, err := s.jszMeta(ctx, node)
	if err != nil {
		return err
	}
	if own.Meta == nil || own.Meta.Leader == "" {
		return fmt.Errorf("%s knows no meta leader yet", node)
	}
	leader := own.Meta.Leader
	if leader == node {
		return nil
	}
	if s.Inv.Node(leader) == nil {
		return fmt.Errorf("meta leader %s is not in the inventory", leader)
	}
	lv, err := s.jszMeta(ctx, leader)
	if err != nil {
		return err
	}
	if lv.Meta == nil || lv.Meta.Leader != leader {
		return fmt.Errorf("%s no longer leads the meta group", leader)
	}
	for _, r := range lv.Meta.Replicas {
		if r.Name != node {
			continue
		}
		if r.Current && !r.Offline {
			return nil
		}
		return fmt.Errorf("meta leader %s sees %s current %v, offline %v, lag %d", leader, node, r.Current, r.Offline, r.Lag)
	}
	return fmt.Errorf("meta leader %s does not list %s among its peers yet", leader, node)
}

func (s *Session) jszMeta(ctx context.Context, node string) (*jszMeta, error) {
	body, err := s.monitor(ctx, node, "/jsz")
	if err != nil {
		return nil, err
	}
	var j jszMeta
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("%s /jsz: %w", node, err)
	}
	return &j, nil
}
