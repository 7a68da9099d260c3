package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/lock"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/provision"
)

// runOptions are what `dcctl provision` takes as flags, at their defaults.
type runOptions struct {
	Concurrency int           // --concurrency
	GateTimeout time.Duration // --gate-timeout
	Log         io.Writer     // the per-host step lines
}

// stages are the wall times of one run's parts.
type stages struct {
	Connect, Lock, Plan, Apply, Release, Total time.Duration
}

func (s stages) String() string {
	f := func(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
	return "connect " + f(s.Connect) + ", lock " + f(s.Lock) + ", plan " + f(s.Plan) + ", apply " + f(s.Apply) + ", release " + f(s.Release) + ", total " + f(s.Total)
}

// provisionRun is `dcctl provision INVENTORY` without its output: the steps
// cmd/dcctl's provision command takes (cmd_provision.go, lock.go), in its
// order: a new session, every host dialled and locked (the facts gathered
// in the take's session), plans,
// secrets saved, apply, the lock released. It returns the plans (what the
// run found to change), the recap, and how long each part took.
func provisionRun(ctx context.Context, invPath string, o runOptions) ([]*provision.HostPlan, *provision.Recap, stages, error) {
	var st stages
	t0 := time.Now()
	mark := func(d *time.Duration, since time.Time) time.Time { *d = time.Since(since); return time.Now() }
	inv, err := inventory.Load(invPath)
	if err != nil {
		return nil, nil, st, err
	}
	noEnv := func(string) string { return "" } // passwords from the sim's secrets file only
	sec, err := inventory.PrepareSecrets(inv, noEnv)
	if err != nil {
		return nil, nil, st, err
	}
	// and the CA and certificates, as dcctl provision creates them
	mat, err := pki.Prepare(inv, time.Now())
	if err == nil {
		err = mat.Save()
	}
	if err != nil {
		return nil, nil, st, err
	}
	mat.Apply(sec)
	// HostKeyLog is the operator's stderr in dcctl: host keys added, and a
	// host without an sftp-server (uploads then fall back to exec).
	s := provision.NewSession(inv, sec, provision.SessionOptions{Concurrency: o.Concurrency, DialTimeout: 10 * time.Second, HostKeyLog: o.Log})
	defer s.Close()

	t := time.Now()
	errs := s.Connect(ctx, inv.Nodes)
	if err := firstError(errs); err != nil {
		return nil, nil, st, fmt.Errorf("connect: %w", err)
	}
	var hosts []lock.Host
	for _, n := range inv.Nodes {
		c, err := s.Client(ctx, n.Name)
		if err != nil {
			return nil, nil, st, err
		}
		hosts = append(hosts, c)
	}
	t = mark(&st.Connect, t)
	// The facts ride on the lock's take, as in cmd/dcctl's takeLock.
	scripts, err := s.FactsScripts(inv.Nodes)
	if err != nil {
		return nil, nil, st, err
	}
	l, err := lock.Acquire(ctx, hosts, lock.Me("bench/sim provision"), lock.Options{
		Concurrency: o.Concurrency,
		Also: func(host string) (string, func([]byte)) {
			return scripts[host], func(out []byte) { s.GivenFacts(host, scripts[host], out) }
		},
		Redial: func(ctx context.Context, name string) (lock.Host, error) {
			s.Forget(name)
			return s.Client(ctx, name)
		},
	})
	if err != nil {
		return nil, nil, st, err
	}
	lctx, cancel := l.Context(ctx)
	defer cancel()
	t = mark(&st.Lock, t)

	plans, err := provision.Plan(lctx, s, inv.Nodes)
	if err != nil {
		return nil, nil, st, err
	}
	for _, p := range plans {
		if p.Unreachable != nil || p.Err != nil {
			return nil, nil, st, fmt.Errorf("plan %s: %v", p.Node.Name, errors.Join(p.Unreachable, p.Err))
		}
	}
	if err := provision.CheckNewPasswords(inv, sec, plans); err != nil {
		return nil, nil, st, err
	}
	if err := sec.Save(); err != nil {
		return nil, nil, st, err
	}
	t = mark(&st.Plan, t)

	recap := provision.Apply(lctx, s, plans, provision.ApplyOptions{Concurrency: o.Concurrency, GateTimeout: o.GateTimeout, Log: o.Log})
	t = mark(&st.Apply, t)
	rerr := l.Release(context.WithoutCancel(ctx))
	mark(&st.Release, t)
	st.Total = time.Since(t0)
	if recap.Failed() {
		for _, h := range recap.Hosts {
			if h.Error != "" {
				return plans, recap, st, fmt.Errorf("provision failed on %s: %s", h.Node, h.Error)
			}
		}
		return plans, recap, st, errors.New("provision failed")
	}
	return plans, recap, st, rerr
}

func firstError(errs map[string]error) error {
	for node, err := range errs {
		return fmt.Errorf("%s: %w", node, err)
	}
	return nil
}

// changedHosts lists the hosts a run changed: by its plans, or by the
// recap's account of them.
func changedHosts(plans []*provision.HostPlan, recap *provision.Recap) []string {
	changed := map[string]bool{}
	for _, p := range plans {
		if p.Changed() {
			changed[p.Node.Name] = true
		}
	}
	for _, h := range recap.Hosts {
		if h.Status != provision.StatusOK {
			changed[h.Node] = true
		}
	}
	out := make([]string, 0, len(changed))
	for n := range changed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
