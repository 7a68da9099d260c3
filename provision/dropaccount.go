package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcctl/dcctl/templates"
)

// jetStreamAccounts names the accounts with JetStream in a rendered config.
func jetStreamAccounts(config []byte) map[string]bool {
	out := map[string]bool{}
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return out
	}
	accounts, _ := m["accounts"].(map[string]any)
	for name, a := range accounts {
		acc, _ := a.(map[string]any)
		switch v := acc["jetstream"].(type) {
		case string:
			if v == "enabled" {
				out[name] = true
			}
		case bool:
			out[name] = v
		}
	}
	return out
}

// droppedJetStreamAccounts maps each account whose JetStream a running node
// has now and would lose (the account gone from the inventory, or its
// jetstream turned off) to those nodes.
func droppedJetStreamAccounts(s *Session, plans []*HostPlan) map[string][]string {
	config := templates.PathsFor(s.Inv).Config
	out := map[string][]string{}
	for _, p := range plans {
		if p.Facts == nil || p.Facts.UnitActive != "active" || p.Action == ActionNone {
			continue
		}
		for _, fc := range p.Files {
			if fc.File.Path != config || fc.OldConfig == nil {
				continue
			}
			now := jetStreamAccounts(fc.File.Content)
			for acc := range jetStreamAccounts(fc.OldConfig) {
				if !now[acc] {
					out[acc] = append(out[acc], p.Node.Name)
				}
			}
		}
	}
	return out
}

// DroppedAccountError refuses to take JetStream away from an account that
// still has streams.
type DroppedAccountError struct {
	Account string
	Streams []string // "NAME (N messages, domain D)"
	Unasked []string // nodes whose monitoring did not answer
	Nodes   []string // the running nodes that would lose it
}

func (e *DroppedAccountError) Error() string {
	what := "it still holds streams " + strings.Join(e.Streams, ", ")
	if len(e.Streams) == 0 {
		what = "its streams could not be listed (" + strings.Join(e.Unasked, "; ") + ")"
	}
	return fmt.Sprintf("refusing to take account %s (or its JetStream) off the servers: %s. A server whose config lacks it cannot reach those streams: its /healthz fails (\"JetStream can not lookup account\"), which stops the rollout at that node, and the data stays on disk out of every client's reach. "+
		"Delete the streams first, after a backup (`dcctl backup STREAM --domain D --account %s --out DIR`, then `nats stream rm`), or keep the account in the inventory",
		e.Account, what, e.Account)
}

// CheckDroppedAccounts refuses (a *DroppedAccountError) when the plans take
// an account's JetStream away from running servers while the account has
// streams, as the servers' /jsz says. Nothing is asked when no account is
// dropped.
func CheckDroppedAccounts(ctx context.Context, s *Session, plans []*HostPlan) error {
	dropped := droppedJetStreamAccounts(s, plans)
	accounts := make([]string, 0, len(dropped))
	for acc := range dropped {
		accounts = append(accounts, acc)
	}
	sort.Strings(accounts)
	for _, acc := range accounts {
		streams, unasked := s.accountStreams(ctx, acc, dropped[acc])
		if len(streams) > 0 || len(unasked) > 0 {
			return &DroppedAccountError{Account: acc, Streams: streams, Unasked: unasked, Nodes: dropped[acc]}
		}
	}
	return nil
}

// accountStreams lists the streams of acc that nodes hold a replica of (a
// server's /jsz lists only its own), and the nodes that did not answer.
func (s *Session) accountStreams(ctx context.Context, acc string, nodes []string) (streams, unasked []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := s.monitor(ctx, node, "/jsz?streams=true&acc="+url.QueryEscape(acc))
			var jsz struct {
				Accounts []struct {
					Name    string `json:"name"`
					Streams []struct {
						Name  string `json:"name"`
						State struct {
							Msgs uint64 `json:"messages"`
						} `json:"state"`
					} `json:"stream_detail"`
				} `json:"account_details"`
			}
			if err == nil {
				err = json.Unmarshal(body, &jsz)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				unasked = append(unasked, err.Error())
				return
			}
			domain := s.Inv.Domain(s.Inv.Node(node))
			for _, a := range jsz.Accounts {
				if a.Name != acc {
					continue
				}
				for _, st := range a.Streams {
					label := fmt.Sprintf("%s (%d messages, domain %s)", st.Name, st.State.Msgs, domain)
					if !slices.ContainsFunc(streams, func(s string) bool {
						return strings.HasPrefix(s, st.Name+" (") && strings.HasSuffix(s, "domain "+domain+")")
					}) {
						streams = append(streams, label)
					}
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(streams)
	sort.Strings(unasked)
	return streams, unasked
}
