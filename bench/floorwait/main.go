// Command floorwait is the finish line of the bench's floor: it returns once
// every started node of an inventory is what a fresh `dcctl provision`
// waits for before it reports success, watched as cheaply as a script can:
// every node's monitoring endpoint polled straight over HTTP (no SSH, kept-
// alive connections), all nodes at once, every 50 ms.
//
//	floorwait INVENTORY TIMEOUT_SECONDS [NODE=HOST:PORT ...]
//
// A NODE=HOST:PORT argument reads that node's endpoint there instead of at
// its monitoring address: monitoring on 127.0.0.1 (the default) is reached
// through an SSH port forward the caller opened.
//
// Done means, for every node that is not a standby: /healthz answers 200;
// its domain's meta leader (the node whose /jsz names itself leader) lists it
// as a current, online peer (or it is the leader); and a node of a leaf
// cluster has, in its own /leafz, a solicited leafnode connection for every
// account it has a leafnode remote for. It prints "healthz T" when every
// /healthz first answered 200 (T in Unix seconds: the earlier, weaker
// finish line). Exit 0 when done, 1 on timeout (with what was still missing
// on stderr), 2 on bad input.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: floorwait INVENTORY TIMEOUT_SECONDS [NODE=HOST:PORT ...]")
		os.Exit(2)
	}
	at := map[string]string{}
	for _, a := range os.Args[3:] {
		node, addr, ok := strings.Cut(a, "=")
		if !ok || node == "" || addr == "" {
			fmt.Fprintf(os.Stderr, "floorwait: %q: want NODE=HOST:PORT\n", a)
			os.Exit(2)
		}
		at[node] = addr
	}
	inv, err := inventory.Load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorwait:", err)
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil || secs <= 0 {
		fmt.Fprintf(os.Stderr, "floorwait: TIMEOUT_SECONDS %q: want a positive number\n", os.Args[2])
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs*float64(time.Second)))
	defer cancel()
	if missing := wait(ctx, inv, at); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "floorwait: not done after %s s:\n  %s\n", os.Args[2], strings.Join(missing, "\n  "))
		os.Exit(1)
	}
}

// node is one started node and what is known about it so far.
type node struct {
	name, addr, domain string
	accounts           []string // leafnode remotes to wait for
	healthy, linked    bool
	leader             string // the leader its /jsz names, once healthy
	jsz                metaView
}

type metaView struct {
	Leader   string `json:"leader"`
	Replicas []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Offline bool   `json:"offline"`
	} `json:"replicas"`
}

// wait polls until every started node is done or ctx ends; it returns what
// is still missing (nothing when done).
func wait(ctx context.Context, inv *inventory.Inventory, at map[string]string) []string {
	var nodes []*node
	for _, n := range inv.Nodes {
		if n.Standby {
			continue
		}
		nd := &node{name: n.Name, addr: inv.MonitorAddr(n), domain: inv.Domain(n)}
		if a, ok := at[n.Name]; ok {
			nd.addr = a
		}
		for _, r := range inv.LeafRemotes(n) {
			nd.accounts = append(nd.accounts, r.Account)
		}
		nodes = append(nodes, nd)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	allHealthy := false
	for {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Add(1)
			go func(nd *node) { defer wg.Done(); poll(ctx, client, nd) }(nd)
		}
		wg.Wait()
		if !allHealthy {
			allHealthy = true
			for _, nd := range nodes {
				allHealthy = allHealthy && nd.healthy
			}
			if allHealthy {
				fmt.Printf("healthz %.3f\n", float64(time.Now().UnixNano())/1e9)
			}
		}
		missing := check(nodes)
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return missing
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// poll reads what nd still lacks: /healthz until 200, then /jsz (every
// poll: the leader's view of its peers changes) and, for a leaf node,
// /leafz until every account is linked.
func poll(ctx context.Context, client *http.Client, nd *node) {
	if !nd.healthy {
		code, _ := get(ctx, client, nd.addr, "/healthz")
		nd.healthy = code == http.StatusOK
		if !nd.healthy {
			return
		}
	}
	var jsz struct {
		Meta metaView `json:"meta_cluster"`
	}
	if code, body := get(ctx, client, nd.addr, "/jsz"); code == http.StatusOK && json.Unmarshal(body, &jsz) == nil {
		nd.jsz = jsz.Meta
	}
	if !nd.linked {
		var lz struct {
			Leafs []struct {
				Spoke   bool   `json:"is_spoke"`
				Account string `json:"account"`
			} `json:"leafs"`
		}
		if code, body := get(ctx, client, nd.addr, "/leafz"); code == http.StatusOK && json.Unmarshal(body, &lz) == nil {
			up := map[string]bool{}
			for _, l := range lz.Leafs {
				if l.Spoke {
					up[l.Account] = true
				}
			}
			nd.linked = true
			for _, a := range nd.accounts {
				nd.linked = nd.linked && up[a]
			}
		}
	}
}

// check returns what is missing: a node not healthy, not a current peer as
// its domain's leader sees it, or without all of its leafnode links.
func check(nodes []*node) []string {
	leaders := map[string]*node{} // domain -> the node that names itself leader
	for _, nd := range nodes {
		if nd.healthy && nd.jsz.Leader == nd.name {
			leaders[nd.domain] = nd
		}
	}
	var missing []string
	for _, nd := range nodes {
		switch {
		case !nd.healthy:
			missing = append(missing, nd.name+": /healthz not 200")
			continue
		case !nd.linked:
			missing = append(missing, nd.name+": leafnode links not all up")
		}
		l := leaders[nd.domain]
		if l == nil {
			missing = append(missing, nd.name+": domain "+nd.domain+" has no meta leader that answers")
			continue
		}
		if l == nd {
			continue
		}
		current := false
		for _, r := range l.jsz.Replicas {
			if r.Name == nd.name {
				current = r.Current && !r.Offline
			}
		}
		if !current {
			missing = append(missing, nd.name+": not a current meta peer of "+nd.domain)
		}
	}
	sort.Strings(missing)
	return missing
}

func get(ctx context.Context, client *http.Client, addr, path string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, body
}
