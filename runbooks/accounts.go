package runbooks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dcctl/dcctl/jetstream"
)

// Streams live in accounts: each JetStream account of the inventory has
// its own streams, reached through its own NATS connection, and two
// accounts may each have a stream of one name. Runbooks name a stream by
// account and name, find one by name in whichever account has it, and
// record and prove the streams of every account.

// streamRef is one stream: its account and its name.
type streamRef struct {
	Account, Name string
}

func refOf(st jetstream.StreamState) streamRef { return streamRef{st.Account, st.Name} }

// label names s for output and journals: ACCOUNT/NAME when the inventory
// has more than one JetStream account.
func (e *Env) label(s streamRef) string { return e.Inv.StreamLabel(s.Account, s.Name) }

// natsIn is the session's connection acting in account.
func (e *Env) natsIn(ctx context.Context, account string) (*jetstream.Conn, error) {
	nc, err := e.nats(ctx)
	if err != nil {
		return nil, err
	}
	return nc.Account(account)
}

// jsAccounts names the inventory's JetStream accounts.
func (e *Env) jsAccounts() []string {
	var out []string
	for _, a := range e.Inv.JetStreamAccounts() {
		out = append(out, a.Name)
	}
	return out
}

// knownAccount refuses an --account that is not a JetStream account of the
// inventory; "" (not given) is fine.
func knownAccount(e *Env, account string) error {
	if account == "" || slices.Contains(e.jsAccounts(), account) {
		return nil
	}
	return fmt.Errorf("no JetStream account %q in %s (JetStream accounts: %s)", account, e.Inv.File, strings.Join(e.jsAccounts(), ", "))
}

// domainStreams lists the streams of domain in every JetStream account,
// each with its account; Missing holds labels (see Env.label).
func domainStreams(ctx context.Context, e *Env, domain string) (*jetstream.StreamList, error) {
	nc, err := e.nats(ctx)
	if err != nil {
		return nil, err
	}
	return nc.AllStreams(ctx, domain)
}

// AmbiguousStreamError is findStream's refusal of a stream name that more
// than one account has.
type AmbiguousStreamError struct {
	Stream, Domain string
	Accounts       []string
}

func (a *AmbiguousStreamError) Error() string {
	var flags []string
	for _, acc := range a.Accounts {
		flags = append(flags, "--account "+acc)
	}
	return fmt.Sprintf("accounts %s each have a stream %s in domain %q: say which with %s",
		strings.Join(a.Accounts, " and "), a.Stream, a.Domain, strings.Join(flags, " or "))
}

// findStream finds the stream named name in domain: in account when it is
// set, else in whichever JetStream account has it. A name that two
// accounts have is refused (*AmbiguousStreamError) rather than guessed.
func findStream(ctx context.Context, e *Env, domain, name, account string) (*jetstream.StreamState, error) {
	accounts := e.jsAccounts()
	if account != "" {
		accounts = []string{account}
	}
	var found []*jetstream.StreamState
	for _, a := range accounts {
		nc, err := e.natsIn(ctx, a)
		if err != nil {
			return nil, err
		}
		st, err := nc.Stream(ctx, domain, name)
		if jetstream.IsErrCode(err, jetstream.ErrCodeStreamNotFound) {
			continue
		}
		if err != nil {
			if len(accounts) > 1 {
				err = fmt.Errorf("account %s: %w", a, err)
			}
			return nil, err
		}
		found = append(found, st)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		amb := &AmbiguousStreamError{Stream: name, Domain: domain}
		for _, st := range found {
			amb.Accounts = append(amb.Accounts, st.Account)
		}
		return nil, amb
	}
	where, check := fmt.Sprintf("domain %q", domain), "the name and the domain"
	switch {
	case account != "":
		where, check = fmt.Sprintf("account %s of domain %q", account, domain), "the name, the domain and the account"
	case len(accounts) > 1:
		where = fmt.Sprintf("domain %q (accounts %s)", domain, strings.Join(accounts, ", "))
	}
	return nil, fmt.Errorf("no stream %s in %s: check %s (dcctl status --domain %s lists its streams)", name, where, check, domain)
}
