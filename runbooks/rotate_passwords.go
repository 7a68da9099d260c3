package runbooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/provision"
)

// RotatePasswords gives users new passwords without cutting the leaf links,
// in two runs. nats-server takes one password per user name and a reload
// closes every connection whose password no longer matches (measured:
// templates/rotation_test.go), so the old password of a name cannot stay
// valid once the name takes the new one. The first run (begin) makes every
// server accept a companion user (name + "-next", same account) with the
// new password beside the unchanged one, and moves the leaf links onto it.
// The old password keeps working for clients until the second run
// (--finish) switches the name to the new password, brings the leaf links
// back to the name, and drops the companion. Each stage is saved in the
// secrets file before it is rolled out with provision (reloads for
// accounts, gated restarts for leafnode remotes), so a normal provision
// during a rotation keeps it, and a run interrupted halfway converges when
// run again. The file as it was before is kept as <secrets>.previous until
// the rotation is finished.
//
// With ReplaceLost the old passwords are gone (the secrets file was lost and
// no backup exists): the session's secrets hold new ones for the missing
// users (inventory.PrepareSecrets), and one step saves and rolls them out;
// there is no window, since nothing knows the old ones.
type RotatePasswords struct {
	Users       []string // empty: every user (begin), every rotating user (finish)
	Finish      bool
	ReplaceLost bool

	last map[string]map[streamRef]uint64 // by domain: each stream's last sequence before
}

func (r *RotatePasswords) Name() string { return "rotate-passwords" }

// Describe is the runbook's entry in `dcctl runbook list`.
func (r *RotatePasswords) Describe() Description {
	return Description{
		Name: "rotate-passwords", Command: "dcctl runbook", Usage: "rotate-passwords [--user U] [--finish] [--replace-lost]",
		Short: "new NATS passwords rolled out behind the gates; the old ones keep working until --finish, the leaf links stay up",
		Pre:   []string{"the users are in the inventory, not from DCCTL_PASSWORD_*, no <user>-next in the inventory", "no rotation finishing (begin) / a rotation under way (--finish)", "every host reachable"},
		Steps: []string{"begin: new passwords saved (the old file kept as .previous); every server accepts <user>-next with the new password (reload); leaf remotes log in as <user>-next (gated restarts)",
			"--finish: the user's own name takes the new password (reload; clients still on the old one are cut off); leaf remotes back on the user's name; the companion dropped, .previous removed",
			"--replace-lost: new passwords for the users missing from the secrets file, saved and rolled out at once"},
		Post: []string{"every leaf node has its leafnode links, one per account (its /leafz)", "nothing left for provision to change",
			"dcctl logs in with the passwords the servers now take", "every stream current and not behind its last sequence before the run"},
	}
}

func (r *RotatePasswords) Target() string {
	who := "every user"
	if len(r.Users) > 0 {
		who = strings.Join(r.Users, ", ")
	}
	switch {
	case r.Finish:
		return who + " (finish)"
	case r.ReplaceLost:
		return "lost passwords"
	}
	return who
}

func (r *RotatePasswords) sec(e *Env) *inventory.Secrets { return e.Session.Secrets }

// Settle has nothing to find: the users are checked against the inventory
// and the secrets file by the pre-checks.
func (r *RotatePasswords) Settle(*Env) error { return nil }

func (r *RotatePasswords) PreChecks(e *Env) []Check {
	checks := []Check{
		{Name: "usersToRotate", Run: func(context.Context) error { return r.pickUsers(e) }},
		{Name: "everyHostReachable", Run: func(ctx context.Context) error {
			_, err := planAll(ctx, e)
			return err
		}},
	}
	// The streams' baseline: the rollout restarts leaf nodes. With lost
	// passwords dcctl may not log in before the run, so the baseline is
	// then taken where it can be, and its absence journaled.
	r.last = map[string]map[streamRef]uint64{}
	for _, cl := range e.Inv.Clusters {
		r.last[cl.Domain] = map[streamRef]uint64{}
		checks = append(checks, recordLastSeqs(e, cl.Domain, r.last[cl.Domain], r.ReplaceLost))
	}
	return checks
}

// pickUsers settles which users the run rotates and refuses what cannot be.
func (r *RotatePasswords) pickUsers(e *Env) error {
	sec := r.sec(e)
	if r.ReplaceLost {
		// Every lost password is replaced at once: the secrets file is saved
		// whole, and a user left without one would stay locked out.
		asked := r.Users
		r.Users = sec.Generated()
		switch {
		case r.Finish:
			return fmt.Errorf("--replace-lost and --finish do not go together")
		case len(asked) > 0:
			lost := ""
			if len(r.Users) > 0 {
				lost = " (lost now: " + strings.Join(r.Users, ", ") + ")"
			}
			return fmt.Errorf("--replace-lost replaces every lost password at once%s: leave out --user", lost)
		case len(r.Users) == 0:
			return fmt.Errorf("no password is lost: every user has one in %s or the environment; rotate them with rotate-passwords [--user U]", sec.File())
		}
		return nil
	}
	known := map[string]bool{}
	for _, u := range e.Inv.Users() {
		known[u] = true
	}
	if len(r.Users) == 0 {
		for _, u := range e.Inv.Users() {
			if !r.Finish || sec.Rotation(u) != "" {
				r.Users = append(r.Users, u)
			}
		}
		if r.Finish && len(r.Users) == 0 {
			return fmt.Errorf("no password rotation is under way (finished already, or never begun): start one with rotate-passwords [--user U]")
		}
	}
	sort.Strings(r.Users)
	for _, u := range r.Users {
		st := sec.Rotation(u)
		switch {
		case !known[u]:
			return fmt.Errorf("user %s is not in the inventory (users: %s)", u, strings.Join(e.Inv.Users(), ", "))
		case known[u+inventory.CompanionSuffix]:
			return fmt.Errorf("user %s%s is in the inventory: it would clash with the companion user of %s's rotation", u, inventory.CompanionSuffix, u)
		case sec.FromEnv(u):
			return fmt.Errorf("the password of %s comes from %s: change it there (dcctl cannot keep the old one accepted meanwhile)", u, inventory.EnvVar(u))
		case r.Finish && st == "":
			return fmt.Errorf("no rotation of %s is under way: start it with rotate-passwords --user %s", u, u)
		case r.Finish && st.Before(inventory.StageLeavesOnNext):
			// The first run stopped before the leaf remotes moved to the
			// companion: switching now would refuse the leaf links' old password.
			return fmt.Errorf("the first run of %s's rotation did not finish (stage %s: the leaf links still log in with the old password): run rotate-passwords again, without --finish (it goes on where it stopped), then --finish", u, st)
		case !r.Finish && st != "" && !st.Before(inventory.StageSwitched):
			return fmt.Errorf("the rotation of %s is finishing (stage %s): run rotate-passwords --finish", u, st)
		}
	}
	return nil
}

func (r *RotatePasswords) Steps(e *Env) []Step {
	if r.ReplaceLost {
		return []Step{{
			Name:        fmt.Sprintf("replaceLostPasswords(%s)", strings.Join(r.Users, ",")),
			Destructive: true,
			Done:        func(context.Context) (bool, error) { return len(r.sec(e).Generated()) == 0, nil },
			Run: func(ctx context.Context, progress func(string)) error {
				if err := r.sec(e).Save(); err != nil {
					return err
				}
				progress("new passwords saved in " + r.sec(e).File() + ": every client needs them")
				if err := rollout(ctx, e, progress); err != nil {
					return err
				}
				return waitLeafLinks(ctx, e, progress)
			},
		}}
	}
	if r.Finish {
		return []Step{
			r.stageStep(e, inventory.StageSwitched, "switchToNewPassword", "every server: the user's own name takes the new password (clients still on the old one are disconnected)"),
			r.stageStep(e, inventory.StageLeavesBack, "leafLinksBackOnUser", "leaf remotes log in with the user's own name and the new password"),
			{
				Name:        fmt.Sprintf("dropCompanion(%s)", strings.Join(r.Users, ",")),
				Destructive: true,
				Done: func(context.Context) (bool, error) {
					return r.all(e, func(s inventory.RotationStage) bool { return s == "" }), nil
				},
				Run: func(ctx context.Context, progress func(string)) error {
					sec := r.sec(e)
					sec.FinishRotation(r.Users)
					if err := sec.Save(); err != nil {
						return err
					}
					if err := rollout(ctx, e, progress); err != nil {
						return err
					}
					return sec.DropPrevious()
				},
			},
		}
	}
	return []Step{
		{
			Name: fmt.Sprintf("newPasswords(%s)", strings.Join(r.Users, ",")),
			Done: func(context.Context) (bool, error) {
				return r.all(e, func(s inventory.RotationStage) bool { return s != "" }), nil
			},
			Run: func(ctx context.Context, progress func(string)) error {
				sec := r.sec(e)
				if err := sec.KeepPrevious(); err != nil {
					return err
				}
				if err := sec.BeginRotation(r.Users); err != nil {
					return err
				}
				if err := sec.Save(); err != nil {
					return err
				}
				progress(fmt.Sprintf("new passwords saved in %s (next_password); the file as it was: %s", sec.File(), sec.PreviousPath()))
				return nil
			},
		},
		r.stageStep(e, inventory.StageAcceptBoth, "serversAcceptBoth", "every server accepts the companion user with the new password beside the old one"),
		r.stageStep(e, inventory.StageLeavesOnNext, "leafLinksOnCompanion", "leaf remotes log in as the companion user"),
	}
}

// stageStep moves the users to stage, saves it, and rolls it out. It is
// done once every user is past stage (or, with --finish, the rotation is
// over); at stage itself it runs again (a rollout that converged changes
// nothing).
func (r *RotatePasswords) stageStep(e *Env, stage inventory.RotationStage, name, what string) Step {
	return Step{
		Name: fmt.Sprintf("%s(%s)", name, strings.Join(r.Users, ",")),
		// Leaf nodes restart for new remotes; the switch cuts clients still
		// on the old password.
		Destructive: stage != inventory.StageAcceptBoth,
		Done: func(context.Context) (bool, error) {
			return r.all(e, func(s inventory.RotationStage) bool {
				if s == "" {
					// Not begun yet (first run), or finished (--finish).
					return r.Finish
				}
				return stage.Before(s)
			}), nil
		},
		Run: func(ctx context.Context, progress func(string)) error {
			sec := r.sec(e)
			if err := sec.SetRotation(r.Users, stage); err != nil {
				return err
			}
			if err := sec.Save(); err != nil {
				return err
			}
			progress(what)
			if err := rollout(ctx, e, progress); err != nil {
				return err
			}
			return waitLeafLinks(ctx, e, progress)
		},
	}
}

func (r *RotatePasswords) all(e *Env, ok func(inventory.RotationStage) bool) bool {
	for _, u := range r.Users {
		if !ok(r.sec(e).Rotation(u)) {
			return false
		}
	}
	return true
}

func (r *RotatePasswords) PostChecks(e *Env) []Check {
	checks := []Check{
		{Name: "leafLinksUp", Run: func(ctx context.Context) error { return waitLeafLinks(ctx, e, func(string) {}) }},
		nothingLeftToProvision(e),
		{Name: "loginWithTheServersPasswords", Run: func(ctx context.Context) error {
			// The run may have changed the password dcctl's connection
			// logged in with: the servers cut it off at that reload.
			e.Session.ForgetNATS()
			if _, err := e.nats(ctx); err != nil {
				return err
			}
			// A connection stands with one account's login refused (its
			// streams alone are blocked): ask for each account's.
			for _, a := range e.jsAccounts() {
				if _, err := e.natsIn(ctx, a); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, cl := range e.Inv.Clusters {
		checks = append(checks, allStreamsCurrent(e, cl.Domain), streamsNotBehind(e, cl.Domain, r.last[cl.Domain]))
	}
	return checks
}

// nothingLeftToProvision asserts that provision would change nothing: the
// run rolled out everything it saved.
func nothingLeftToProvision(e *Env) Check {
	return Check{Name: "nothingLeftToProvision", Run: func(ctx context.Context) error {
		plans, err := planAll(ctx, e)
		if err != nil {
			return err
		}
		var changed []string
		for _, p := range plans {
			if p.Changed() {
				changed = append(changed, p.Node.Name+": "+strings.Join(p.Summary(), ", "))
			}
		}
		if len(changed) > 0 {
			return fmt.Errorf("hosts still differ from the inventory: %s", strings.Join(changed, "; "))
		}
		return nil
	}}
}

// planAll plans provision for every node; an unreachable or unplannable
// host is an error: a rotation must reach every server.
func planAll(ctx context.Context, e *Env) ([]*provision.HostPlan, error) {
	plans, err := provision.Plan(ctx, e.Session, e.Inv.Nodes)
	if err == nil {
		// --replace-lost: the route password is not rotated; it is taken
		// back from the servers' configs
		plans, err = provision.AdoptRoutePassword(ctx, e.Session, plans, e.Inv.Nodes)
	}
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, p := range plans {
		switch {
		case p.Unreachable != nil:
			bad = append(bad, fmt.Sprintf("%s unreachable: %v", p.Node.Name, p.Unreachable))
		case p.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", p.Node.Name, p.Err))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("a rotation must reach every server: %s", strings.Join(bad, "; "))
	}
	return plans, nil
}

// rollout provisions every node with the secrets as they are now: reloads
// where only accounts changed, gated restarts where leafnode remotes did.
func rollout(ctx context.Context, e *Env, progress func(string)) error {
	plans, err := planAll(ctx, e)
	if err != nil {
		return err
	}
	recap := provision.Apply(ctx, e.Session, plans, provision.ApplyOptions{GateTimeout: e.timeout(), Log: lineWriter(progress)})
	if recap.Failed() {
		var bad []string
		for _, h := range recap.Hosts {
			if h.Error != "" {
				bad = append(bad, h.Node+": "+h.Error)
			}
		}
		return fmt.Errorf("provision failed: %s", strings.Join(bad, "; "))
	}
	return nil
}

// lineWriter hands each line written to it to progress.
type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			w(l)
		}
	}
	return len(p), nil
}

// waitLeafLinks waits until every running leaf node has a leafnode
// connection for each account it has a remote for, as its own /leafz says
// (the monitoring endpoint over SSH: no NATS password involved).
func waitLeafLinks(ctx context.Context, e *Env, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	for _, n := range e.Inv.Nodes {
		if n.Standby || len(e.Inv.LeafRemotes(n)) == 0 {
			continue
		}
		progress("waiting for the leafnode links of " + n.Name)
		if err := e.Session.WaitLeafLinks(ctx, n.Name, nil); err != nil {
			return err
		}
	}
	return nil
}
