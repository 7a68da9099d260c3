package runbooks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

// RotateCerts gives every node a new key and certificate from the
// deployment's CA, one node at a time; with NewCA and then Finish, it moves
// the deployment to a new CA with an overlap in which both are trusted.
// nats-server takes new TLS files on its listeners at a reload and keeps
// every connection, but a leaf node's leafnode remotes keep the files the
// server started with (templates/tls_reload_test.go): hub and backbone
// nodes reload, leaf nodes restart behind the gate. After each node the run
// waits until it is healthy, a current meta peer with its replicas current
// and its leafnode links up, and (for a new certificate) until every
// listener shows it to a new connection. Every stage is saved in the TLS
// directory before it is rolled out (pki: rotation.json, one file pair per
// CA), so a run interrupted halfway continues where it stopped, and
// provision meanwhile renders the same files.
//
// The move to a new CA pauses where clients must act: the first run
// (NewCA) makes every server trust both CAs while still showing
// certificates from the old one, so clients that trust only the old CA keep
// working until they are given the bundle of both; Finish then issues every
// node a certificate from the new CA (a client trusting only the old CA is
// refused from then on), drops the old CA from every server's trust and
// retires its files.
type RotateCerts struct {
	NewCA  bool
	Finish bool

	mat   *pki.Material
	order []*inventory.Node
	last  map[string]map[streamRef]uint64
}

func (r *RotateCerts) Name() string { return "rotate-certs" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *RotateCerts) Describe() Description {
	return Description{
		Name: "rotate-certs", Command: "dcctl runbook", Usage: "rotate-certs [--new-ca] [--finish]",
		Short: "new node certificates from the CA, or (--new-ca, then --finish) a move to a new CA with both trusted meanwhile, node by node behind the gates",
		Pre: []string{"TLS on, with dcctl's CA (not the operator's tls.ca_file)", "no other rotation under way (--finish: the new CA trusted everywhere)",
			"every host reachable and nothing but the rotation's TLS files for provision to change", "each domain has a meta leader", "the last sequence of every stream"},
		Steps: []string{"renewal: a new key and certificate for every node, saved in <inventory>.tls/ (rotation.json records the rotation; a re-run continues it); per node, each cluster's meta leader last: files uploaded, checked and installed as provision does, a reload (a leaf node: a gated restart, its leafnode remotes take new files only then); gate: healthy, a current meta peer, replicas current, leafnode links up, and every listener (client, cluster, leafnode) shows the new certificate",
			"--new-ca: a new CA beside the old one (ca-next.pem), every server trusts both (per node, as above, reloads only); clients are to be given ca-bundle.pem before --finish",
			"--finish: the new CA issues (the old one kept as ca-previous.pem), every node gets a certificate from it (per node, as above, leaf nodes first), every server trusts the new CA alone, the old CA's files move to retired/"},
		Post: []string{"every node healthy and a current meta peer, showing its certificate from the TLS directory on every listener", "every stream current and not behind its recorded last sequence", "every leaf node has its leafnode links", "nothing left for provision to change"},
	}
}

func (r *RotateCerts) Target() string {
	switch {
	case r.NewCA:
		return "a new CA (trust both)"
	case r.Finish:
		return "a new CA (finish)"
	}
	return "every node's certificate"
}

// Settle reads the TLS directory and refuses what dcctl cannot rotate.
func (r *RotateCerts) Settle(e *Env) error {
	if r.NewCA && r.Finish {
		return errors.New("--new-ca and --finish do not go together: --new-ca begins a move to a new CA, --finish ends it")
	}
	if !e.Inv.TLS.Enabled {
		return fmt.Errorf("TLS is off in %s ([tls] enabled = false): there is no certificate to rotate", e.Inv.File)
	}
	if e.Inv.TLS.OperatorCA() {
		return fmt.Errorf("the certificates are the operator's (tls.ca_file %s): renew them yourself, then run dcctl provision, which rolls them out", e.Inv.TLS.CAFile)
	}
	m, err := pki.Load(e.Inv)
	if err != nil {
		return err
	}
	if m.CA == nil {
		return fmt.Errorf("no CA in %s: restore it from a backup (only dcctl provision creates one, for a deployment without TLS yet)", m.Dir())
	}
	st, under := m.Stage()
	switch {
	case r.Finish && (!under || st == pki.StageRenew):
		return errors.New("no move to a new CA is under way (finished already, or never begun): begin one with rotate-certs --new-ca")
	case !r.Finish && under && st != pki.StageRenew && st != pki.StageTrustBoth:
		return fmt.Errorf("a move to a new CA is finishing (stage %s): run rotate-certs --finish to complete it", st)
	case !r.NewCA && !r.Finish && st == pki.StageTrustBoth:
		return fmt.Errorf("a move to a new CA is under way (every server to trust both): give clients %s, then run rotate-certs --finish, which issues new certificates anyway", pki.BundlePath(e.Inv.File))
	case r.NewCA && under && st == pki.StageRenew:
		return errors.New("a renewal of the certificates is under way: complete it first with rotate-certs")
	}
	r.mat = m
	r.mat.Apply(e.Session.Secrets)
	return nil
}

func (r *RotateCerts) PreChecks(e *Env) []Check {
	checks := []Check{{Name: "onlyTheRotationToProvision", Run: func(ctx context.Context) error { return r.onlyRotationPending(ctx, e) }}}
	if st, _ := r.mat.Stage(); st == pki.StageTrustBoth {
		checks = append(checks, Check{Name: "trustBothEverywhere", Run: func(ctx context.Context) error { return r.trustBothState(ctx, e) }})
	}
	r.last = map[string]map[streamRef]uint64{}
	r.order = nil
	for _, cl := range e.Inv.Clusters {
		r.last[cl.Domain] = map[streamRef]uint64{}
		checks = append(checks, metaLeader(e, cl.Domain), recordLastSeqs(e, cl.Domain, r.last[cl.Domain], false))
		checks = append(checks, Check{Name: fmt.Sprintf("rotationOrder(%s)", cl.Name), Run: func(ctx context.Context) error {
			r.order = append(r.order, e.Session.LeaderLast(ctx, cl.Domain, cl.Active())...)
			// standby nodes get their files too, for the day they start
			for _, n := range cl.Nodes {
				if n.Standby {
					r.order = append(r.order, n)
				}
			}
			return nil
		}})
	}
	return checks
}

// onlyRotationPending refuses a deployment that differs from the inventory
// in anything but the certificates and keys of a rotation under way: each
// node's step provisions it, and must not roll out anything else.
func (r *RotateCerts) onlyRotationPending(ctx context.Context, e *Env) error {
	rot, err := r.mat.Rotation()
	if err != nil {
		return err
	}
	paths := templates.PathsFor(e.Inv)
	var bad []string
	for _, n := range e.Inv.Nodes {
		drift, err := e.Hosts.Drift(ctx, n.Name)
		if err != nil {
			return fmt.Errorf("a rotation must reach every server: %w", err)
		}
		for _, d := range drift {
			if rot != nil && (strings.HasSuffix(d, " "+paths.TLSCert) || strings.HasSuffix(d, " "+paths.TLSKey) || strings.HasSuffix(d, " "+paths.TLSCA)) {
				continue // this rotation's files, not rolled out yet
			}
			bad = append(bad, n.Name+": "+d)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("hosts differ from the inventory (%s): run dcctl provision first", strings.Join(bad, "; "))
	}
	return nil
}

// trustBothState, at stage trust-both: --new-ca again continues a rollout
// of the trust that was cut short, and is refused once it is complete;
// --finish needs it complete.
func (r *RotateCerts) trustBothState(ctx context.Context, e *Env) error {
	var behind []string
	for _, n := range e.Inv.Nodes {
		drift, err := e.Hosts.Drift(ctx, n.Name)
		if err != nil {
			return err
		}
		if len(drift) > 0 {
			behind = append(behind, n.Name)
		}
	}
	switch {
	case r.NewCA && len(behind) == 0:
		return fmt.Errorf("a move to a new CA is under way and every server trusts both CAs already: give clients %s (dcctl context export writes it into natscli contexts), then run rotate-certs --finish", pki.BundlePath(e.Inv.File))
	case r.Finish && len(behind) > 0:
		return fmt.Errorf("the new CA is not trusted by every server yet (%s): run rotate-certs --new-ca again to complete that first", strings.Join(behind, ", "))
	}
	return nil
}

func (r *RotateCerts) Steps(e *Env) []Step {
	switch {
	case r.NewCA:
		return r.trustBothSteps(e)
	case r.Finish:
		return r.finishSteps(e)
	}
	return r.renewSteps(e)
}

// stage reads the rotation's stage from the TLS directory ("" and false
// when none is under way): what a step's Done goes by.
func (r *RotateCerts) stage() (pki.Stage, bool, error) {
	rot, err := r.mat.Rotation()
	if err != nil || rot == nil {
		return "", false, err
	}
	return rot.Stage, true, nil
}

func (r *RotateCerts) renewSteps(e *Env) []Step {
	steps := []Step{{
		Name: "newCertificates",
		Done: func(context.Context) (bool, error) {
			rot, err := r.mat.Rotation()
			if err != nil || rot == nil {
				return false, err
			}
			for _, n := range e.Inv.Nodes {
				if !r.mat.Renewed(n.Name, rot) {
					return false, nil
				}
			}
			return true, nil
		},
		Run: func(_ context.Context, progress func(string)) error {
			now := time.Now()
			rot, err := r.mat.BeginRotation(now)
			if err != nil {
				return err
			}
			for _, n := range e.Inv.Nodes {
				if r.mat.Renewed(n.Name, rot) {
					continue
				}
				if err := r.mat.Renew(n, now); err != nil {
					return err
				}
				r.saidNew(n.Name, progress)
			}
			return r.save(e, progress)
		},
	}}
	for _, n := range r.order {
		steps = append(steps, r.nodeStep(e, "renew", n, true, true, func(ctx context.Context) (bool, error) {
			rot, err := r.mat.Rotation()
			if err != nil || rot == nil || rot.Stage != pki.StageRenew || !r.mat.Renewed(n.Name, rot) {
				return false, err
			}
			return true, nil
		}, nil))
	}
	// Always run: the runner asks every step whether it is done before the
	// first one runs, when a fresh run has no rotation recorded yet.
	return append(steps, Step{
		Name: "endRotation",
		Run:  func(context.Context, func(string)) error { return r.mat.EndRotation() },
	})
}

func (r *RotateCerts) trustBothSteps(e *Env) []Step {
	steps := []Step{{
		Name: "createNewCA",
		Done: func(context.Context) (bool, error) {
			st, under, err := r.stage()
			return under && st == pki.StageTrustBoth, err
		},
		Run: func(_ context.Context, progress func(string)) error {
			if err := r.mat.BeginRollover(e.Inv, time.Now()); err != nil {
				return err
			}
			progress(fmt.Sprintf("new CA sha256 %s in %s (%s); the servers are to trust both: %s", pki.Fingerprint(r.mat.Next.CertPEM), r.mat.Dir(), pki.NextCAFile, pki.BundlePath(e.Inv.File)))
			r.mat.Apply(e.Session.Secrets)
			return nil
		},
	}}
	for _, n := range r.order {
		steps = append(steps, r.nodeStep(e, "trustBoth", n, false, false, func(context.Context) (bool, error) {
			st, under, err := r.stage()
			return under && st == pki.StageTrustBoth, err
		}, nil))
	}
	return append(steps, Step{
		Name: "clientsToUpdate",
		Run: func(_ context.Context, progress func(string)) error {
			progress(fmt.Sprintf("every server trusts both CAs and still shows its certificate from the old one. Give every client %s (dcctl context export writes it into natscli contexts), then run dcctl runbook rotate-certs --finish: from then on the servers show certificates from the new CA", pki.BundlePath(e.Inv.File)))
			return nil
		},
	})
}

func (r *RotateCerts) finishSteps(e *Env) []Step {
	atLeast := func(want pki.Stage) func(context.Context) (bool, error) {
		order := map[pki.Stage]int{pki.StageTrustBoth: 1, pki.StageNewCAIssues: 2, pki.StageDropOld: 3}
		return func(context.Context) (bool, error) {
			st, under, err := r.stage()
			// none under way: this run retired the old CA
			return !under || order[st] >= order[want], err
		}
	}
	steps := []Step{{
		Name: "newCAIssues",
		Done: func(ctx context.Context) (bool, error) {
			done, err := atLeast(pki.StageNewCAIssues)(ctx)
			return done && r.mat.Promoted(), err
		},
		Run: func(_ context.Context, progress func(string)) error {
			if err := r.mat.Promote(); err != nil {
				return err
			}
			r.mat.Apply(e.Session.Secrets)
			progress(fmt.Sprintf("the new CA (sha256 %s) issues; the old one is kept as %s and trusted until the last node has its new certificate", pki.Fingerprint(r.mat.CA.CertPEM), pki.PreviousCAFile))
			return nil
		},
	}}
	// Leaf nodes first: their leafnode remotes took the new CA into their
	// trust only when they restart (trustBoth reloaded them), so no hub
	// shows a certificate from it before they have.
	var leavesFirst []*inventory.Node
	for _, leaves := range []bool{true, false} {
		for _, n := range r.order {
			if (len(e.Inv.LeafRemotes(n)) > 0) == leaves {
				leavesFirst = append(leavesFirst, n)
			}
		}
	}
	for _, n := range leavesFirst {
		reissued := func(ctx context.Context) (bool, error) {
			st, under, err := r.stage()
			if err != nil || !under || st == pki.StageDropOld {
				return true, err
			}
			return st == pki.StageNewCAIssues && r.mat.Promoted() && r.mat.FromCA(n.Name, time.Now()), nil
		}
		steps = append(steps, r.nodeStep(e, "reissue", n, true, true, reissued, func(progress func(string)) error {
			issued, err := r.mat.ReissueUnderCA(n, time.Now())
			if err != nil || !issued {
				return err
			}
			r.saidNew(n.Name, progress)
			return r.save(e, progress)
		}))
	}
	steps = append(steps, Step{
		Name: "dropOldCA",
		Done: atLeast(pki.StageDropOld),
		Run: func(_ context.Context, progress func(string)) error {
			if err := r.mat.DropOld(); err != nil {
				return err
			}
			r.mat.Apply(e.Session.Secrets)
			progress("the servers are to trust the new CA alone")
			return nil
		},
	})
	for _, n := range r.order {
		steps = append(steps, r.nodeStep(e, "trustNewCAOnly", n, false, true, func(context.Context) (bool, error) {
			st, under, err := r.stage()
			return !under || st == pki.StageDropOld, err
		}, nil))
	}
	return append(steps, Step{
		Name: "retireOldCA",
		Run: func(_ context.Context, progress func(string)) error {
			moved, err := r.mat.Retire()
			if err != nil {
				return err
			}
			if len(moved) > 0 {
				progress("the old CA's certificate and key are kept as " + strings.Join(moved, " and ") + " (remove them once no backup needs them)")
			}
			return nil
		},
	})
}

func (r *RotateCerts) saidNew(node string, progress func(string)) {
	nc := r.mat.Cert(node)
	progress(fmt.Sprintf("%s: new certificate sha256 %s, valid until %s", node, pki.Fingerprint(nc.CertPEM), nc.Cert.NotAfter.UTC().Format(time.DateOnly)))
}

func (r *RotateCerts) save(e *Env, progress func(string)) error {
	if err := r.mat.Save(); err != nil {
		return err
	}
	r.mat.Apply(e.Session.Secrets)
	progress("saved in " + r.mat.Dir())
	return nil
}

// nodeStep rolls out node's TLS files as the TLS directory has them now:
// prepare (if set) first issues what the node is to get; then provision
// for the node alone (a reload, a leaf node a gated restart unless the
// step only adds a CA to the trust), the gate
// after it, a leaf node's links, and with newCert the proof that every
// listener shows the node's certificate. stageDone says whether the
// rotation's stage is past this step; the node's host matching and (with
// newCert) showing its certificate must hold too.
func (r *RotateCerts) nodeStep(e *Env, name string, n *inventory.Node, newCert, leafRestarts bool, stageDone func(context.Context) (bool, error), prepare func(progress func(string)) error) Step {
	// A leaf node restarts unless its TLS files only add a CA to its trust
	// (provision decides the same way): its leafnode remotes take anything
	// else only at a restart.
	leaf := len(e.Inv.LeafRemotes(n)) > 0 && leafRestarts
	return Step{
		Name: fmt.Sprintf("%s(%s)", name, n.Name),
		// a leaf node restarts
		Destructive: leaf && !n.Standby,
		Done: func(ctx context.Context) (bool, error) {
			done, err := stageDone(ctx)
			if err != nil || !done {
				return false, err
			}
			drift, err := e.Hosts.Drift(ctx, n.Name)
			if err != nil || len(drift) > 0 {
				return false, err
			}
			return !newCert || n.Standby || showsItsCert(ctx, e, r.mat, n.Name) == nil, nil
		},
		Run: func(ctx context.Context, progress func(string)) error {
			t0 := time.Now()
			if prepare != nil {
				if err := prepare(progress); err != nil {
					return err
				}
			}
			how := "reload"
			switch {
			case n.Standby:
				how = "a standby node: not started"
			case leaf:
				how = "restart behind the gate (its leafnode remotes take new TLS files only then)"
			}
			progress(n.Name + ": upload, check and install its TLS files; " + how)
			if err := e.Hosts.Provision(ctx, n.Name); err != nil {
				return err
			}
			if n.Standby {
				return nil
			}
			if err := e.Session.GateAfter(ctx, n.Name, e.timeout(), progress); err != nil {
				return fmt.Errorf("%w%s", err, e.Session.UnitLogTail(ctx, n.Name))
			}
			if leaf {
				wctx, cancel := context.WithTimeout(ctx, e.timeout())
				err := e.Session.WaitLeafLinks(wctx, n.Name, nil)
				cancel()
				if err != nil {
					return err
				}
			}
			if !newCert {
				progress(fmt.Sprintf("%s done (%.1fs)", n.Name, time.Since(t0).Seconds()))
				return nil
			}
			progress("waiting for every listener of " + n.Name + " to show its new certificate")
			wctx, cancel := context.WithTimeout(ctx, e.timeout())
			defer cancel()
			if err := jetstream.Poll(wctx, 200*time.Millisecond, func() error { return showsItsCert(wctx, e, r.mat, n.Name) }); err != nil {
				return fmt.Errorf("%s does not show its new certificate (waited %s): %w", n.Name, e.timeout(), err)
			}
			progress(fmt.Sprintf("%s shows sha256 %s on every listener (%.1fs)", n.Name, pki.Fingerprint(r.mat.Cert(n.Name).CertPEM), time.Since(t0).Seconds()))
			return nil
		},
	}
}

// showsItsCert checks that every TLS listener of node shows a new
// connection the certificate the TLS directory holds for it.
func showsItsCert(ctx context.Context, e *Env, m *pki.Material, node string) error {
	want := m.Cert(node)
	if want == nil {
		return fmt.Errorf("no certificate for %s in %s", node, m.Dir())
	}
	got, err := e.Session.PresentedCerts(ctx, node)
	if err != nil {
		return err
	}
	var wrong []string
	for what, c := range got {
		if !c.Equal(want.Cert) {
			wrong = append(wrong, fmt.Sprintf("%s port shows sha256 %s", what, pki.CertFingerprint(c)))
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		return errors.New(node + ": " + strings.Join(wrong, ", ") + ", want " + pki.Fingerprint(want.CertPEM))
	}
	return nil
}

func (r *RotateCerts) PostChecks(e *Env) []Check {
	var checks []Check
	for _, cl := range e.Inv.Clusters {
		for _, n := range cl.Active() {
			checks = append(checks, nodeWhole(e, n.Name), Check{Name: fmt.Sprintf("showsItsCertificate(%s)", n.Name), Run: func(ctx context.Context) error {
				return showsItsCert(ctx, e, r.mat, n.Name)
			}})
		}
		checks = append(checks, allStreamsCurrent(e, cl.Domain), streamsNotBehind(e, cl.Domain, r.last[cl.Domain]))
	}
	return append(checks,
		Check{Name: "leafLinksUp", Run: func(ctx context.Context) error { return waitLeafLinks(ctx, e, func(string) {}) }},
		noDrift(e))
}

// noDrift asserts that no host differs from what provision would install.
func noDrift(e *Env) Check {
	return Check{Name: "nothingLeftToProvision", Run: func(ctx context.Context) error {
		var bad []string
		for _, n := range e.Inv.Nodes {
			drift, err := e.Hosts.Drift(ctx, n.Name)
			if err != nil {
				return err
			}
			if len(drift) > 0 {
				bad = append(bad, n.Name+": "+strings.Join(drift, ", "))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("hosts still differ from the inventory: %s", strings.Join(bad, "; "))
		}
		return nil
	}}
}
