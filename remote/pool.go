package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DialAll connects to every host in cfgs, at most concurrency at a time (all
// at once when concurrency < 1), and returns the clients and the failures,
// both keyed by Config.Name (Host when Name is empty). Dials of the same
// known_hosts file share one HostKeyStore, so parallel first-use accepts do
// not race on the file, and they parse each key file once (KeyFiles). Reuse each client for everything in the run, and
// close them with CloseAll.
func DialAll(ctx context.Context, cfgs []Config, concurrency int) (map[string]*Client, map[string]error) {
	clients := map[string]*Client{}
	failed := map[string]error{}
	if concurrency < 1 || concurrency > len(cfgs) {
		concurrency = len(cfgs)
	}

	stores := map[string]*HostKeyStore{}
	keys := NewKeyFiles()
	var todo []Config
	for _, cfg := range cfgs {
		cfg = cfg.withDefaults()
		if _, dup := clients[cfg.Name]; dup || failed[cfg.Name] != nil || containsName(todo, cfg.Name) {
			failed[cfg.Name] = fmt.Errorf("connect to %s: the name appears twice in the host list", cfg.Name)
			continue
		}
		if cfg.HostKeys == nil && cfg.KnownHosts != "" {
			if stores[cfg.KnownHosts] == nil {
				stores[cfg.KnownHosts] = NewHostKeyStore(cfg.KnownHosts)
			}
			cfg.HostKeys = stores[cfg.KnownHosts]
		}
		if cfg.Keys == nil {
			cfg.Keys = keys
		}
		todo = append(todo, cfg)
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(concurrency, 1))
	for _, cfg := range todo {
		if failed[cfg.Name] != nil {
			continue // a duplicate: no client for that name at all
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				mu.Lock()
				failed[cfg.Name] = fmt.Errorf("connect to %s: %w", cfg.Name, context.Cause(ctx))
				mu.Unlock()
				return
			}
			c, err := Dial(ctx, cfg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[cfg.Name] = err
				return
			}
			clients[cfg.Name] = c
		}()
	}
	wg.Wait()
	return clients, failed
}

// CloseAll closes every client and reports the failures together.
func CloseAll(clients map[string]*Client) error {
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func containsName(cfgs []Config, name string) bool {
	for _, c := range cfgs {
		if c.Name == name {
			return true
		}
	}
	return false
}
