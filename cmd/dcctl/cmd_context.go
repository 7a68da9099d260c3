package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

func contextCommand() *cli.Command {
	return &cli.Command{
		Name:  "context",
		Usage: "natscli contexts for the application and system users",
		Subcommands: []*cli.Command{{
			Name:      "export",
			Usage:     "write natscli context files for the application users and the system user",
			ArgsUsage: "[INVENTORY]",
			Description: "Writes NAME.json and NAME:admin.json (NAME from --prefix, default \"local\"),\n" +
				"for the first user of the first JetStream account and of the system account,\n" +
				"and NAME:ACCOUNT.json for the first user of every other account with users\n" +
				"(one without JetStream names no JetStream domain),\n" +
				"into natscli's context directory ($XDG_CONFIG_HOME/nats/context, else\n" +
				"~/.config/nats/context) or --dir, mode 0600 since they hold passwords, so that\n" +
				"`nats --context local:admin server report jetstream --js-domain DOMAIN` works at\n" +
				"once. The URL lists every node's client URL: natscli connects straight, so it\n" +
				"needs the client port reachable from here (dcctl itself only needs SSH).\n" +
				"With nodes in two or more DCs, each context also gets a variant per DC,\n" +
				"NAME@DC, NAME:admin@DC, NAME:ACCOUNT@DC, listing only that DC's nodes: a\n" +
				"client picks a server of its URL list at random, so with the full list one in\n" +
				"DC A often connects across to DC B and fails when the link between the DCs is\n" +
				"cut, though its own DC keeps working; give a client placed in a DC its DC's\n" +
				"context. (@ because : already names the account, and account and DC names\n" +
				"never hold @.)\n" +
				"Each context names a JetStream domain, so that `nats stream ls` answers for\n" +
				"the same domain whichever server natscli picks: the domain of its servers if\n" +
				"they are all in one, else the hub's, which a leaf server reaches over its\n" +
				"leafnode link (give --js-domain for another). The system user's context names\n" +
				"none unless its servers are all in one domain: natscli filters server reports\n" +
				"by it.\n" +
				"With TLS on, each context names the deployment's CA (<inventory>.tls/ca.pem)\n" +
				"so that natscli verifies the servers' certificates.\n" +
				"A context file that exists with other content is overwritten only after\n" +
				"confirmation (or --yes). The selected natscli context is not changed.",
			Flags: []cli.Flag{
				inventoryFlag(), jsonFlag(), yesFlag(),
				&cli.StringFlag{Name: "prefix", Value: "local", Usage: "context `NAME` for the application user; the system user's is NAME:admin"},
				&cli.StringFlag{Name: "dir", Usage: "write into `DIR` instead of natscli's context directory"},
			},
			Action: runContextExport,
		}},
	}
}

// natsContext is a natscli context file (ADR-21, "NATS Configuration
// Contexts"). natscli writes every key, empty or not, so that someone
// editing the file sees all of them; we do the same for the keys that make
// sense here.
type natsContext struct {
	Description     string   `json:"description"`
	URL             string   `json:"url"`
	Token           string   `json:"token"`
	User            string   `json:"user"`
	Password        string   `json:"password"`
	Creds           string   `json:"creds"`
	NKey            string   `json:"nkey"`
	Cert            string   `json:"cert"`
	Key             string   `json:"key"`
	CA              string   `json:"ca"`
	NSC             string   `json:"nsc"`
	JSDomain        string   `json:"jetstream_domain"`
	JSAPIPrefix     string   `json:"jetstream_api_prefix"`
	JSEventPrefix   string   `json:"jetstream_event_prefix"`
	InboxPrefix     string   `json:"inbox_prefix"`
	UserJWT         string   `json:"user_jwt"`
	TLSFirst        bool     `json:"tls_first"`
	ColorScheme     string   `json:"color_scheme"`
	SocksProxy      string   `json:"socks_proxy"`
	WinCertStore    string   `json:"windows_cert_store"`
	WinCertMatchBy  string   `json:"windows_cert_match_by"`
	WinCertMatch    string   `json:"windows_cert_match"`
	WinCaCertsMatch []string `json:"windows_ca_certs_match"`
}

// exportedContext is what we say about a written context: never its password.
type exportedContext struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	User    string `json:"user"`
	Account string `json:"account"`
	DC      string `json:"dc,omitempty"` // set on a variant that lists one DC's nodes only
	Domain  string `json:"jetstream_domain"`
	URL     string `json:"url"`
	Changed bool   `json:"changed"`
}

func runContextExport(c *cli.Context) error {
	inv, err := loadInventory(c, true)
	if err != nil {
		return err
	}
	prefix := c.String("prefix")
	if err := checkContextName(prefix); err != nil {
		return refused(err)
	}
	dir := c.String("dir")
	if dir == "" {
		if dir, err = natsContextDir(); err != nil {
			return refused(err)
		}
	}
	sec, err := loadSecrets(inv)
	if err != nil {
		return err
	}
	// With TLS on, natscli verifies the servers against the deployment's
	// CA, by the addresses in the URLs, which their certificates name.
	ca := ""
	if inv.TLS.Enabled {
		if sec.TLSCA() == nil {
			return refused(fmt.Errorf("TLS is on and the deployment's CA %s does not exist yet: run `dcctl provision` first (it creates the CA), or restore it from a backup", pki.TrustedCA(inv)))
		}
		ca = pki.TrustedCA(inv)
	}
	var urls []string
	var active []*inventory.Node
	dcURLs := map[string][]string{}
	dcNodes := map[string][]*inventory.Node{}
	for _, n := range inv.Nodes {
		if !n.Standby {
			urls = append(urls, n.ClientURL())
			active = append(active, n)
			dcURLs[n.DC] = append(dcURLs[n.DC], n.ClientURL())
			dcNodes[n.DC] = append(dcNodes[n.DC], n)
		}
	}
	// The DCs that get a variant of each context: those with a node that
	// takes clients, and only when there are two or more (with one, the
	// variant would be the context itself).
	var dcs []string
	for _, dc := range inv.DCs() {
		if len(dcURLs[dc]) > 0 {
			dcs = append(dcs, dc)
		}
	}
	if len(dcs) < 2 {
		dcs = nil
	}
	app, sys := inv.JetStreamAccounts()[0], inv.SystemAccount()
	type want struct {
		name string
		acc  *inventory.Account
	}
	wants := []want{{prefix, app}, {prefix + ":admin", sys}}
	// Every other application account's first user gets a context of its
	// own, named after the account: with two application accounts, the
	// second one's clients are as much the operator's business, JetStream
	// or not.
	for _, a := range inv.Accounts {
		if a == app || a == sys || a.System || len(a.Users) == 0 {
			continue
		}
		name := prefix + ":" + a.Name
		if name == prefix+":admin" {
			name += "-js" // an account named admin: the system context keeps its name
		}
		wants = append(wants, want{name, a})
	}
	var out []exportedContext
	for _, w := range wants {
		user := w.acc.Users[0]
		// The context itself lists every DC's nodes (users have it as it
		// is); then its variants, one per DC, list that DC's nodes only.
		// natscli's context has no setting for nats.go's NoRandomize, so
		// the list's content, not its order, is what keeps a client in
		// its DC.
		for _, dc := range append([]string{""}, dcs...) {
			name, desc, list, nodes := w.name, fmt.Sprintf("dcctl: user %s of account %s", user, w.acc.Name), urls, active
			if dc != "" {
				name = w.name + "@" + dc
				desc += ", servers of DC " + dc + " only"
				list, nodes = dcURLs[dc], dcNodes[dc]
			}
			domain := "" // an account without JetStream has none to name
			if w.acc == sys || w.acc.JetStream {
				domain = contextDomain(inv, nodes, w.acc == sys)
			}
			if domain != "" {
				desc += ", JetStream domain " + domain
			}
			ctx := natsContext{
				Description: desc + ", from " + inv.File,
				URL:         strings.Join(list, ","),
				User:        user,
				Password:    sec.Password(user),
				CA:          ca,
				JSDomain:    domain,
			}
			path := filepath.Join(dir, name+".json")
			changed, err := writeContext(c, path, ctx)
			if err != nil {
				return err
			}
			out = append(out, exportedContext{Name: name, Path: path, User: user, Account: w.acc.Name, DC: dc, Domain: domain, URL: ctx.URL, Changed: changed})
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	for _, e := range out {
		verb := "wrote"
		if !e.Changed {
			verb = "unchanged"
		}
		where := ""
		if e.DC != "" {
			where = ", DC " + e.DC + " only"
		}
		if e.Domain != "" {
			where += ", JetStream domain " + e.Domain
		}
		fmt.Fprintf(c.App.Writer, "%s context %s (user %s, account %s%s): %s\n", verb, e.Name, e.User, e.Account, where, e.Path)
	}
	hub := ""
	for _, cl := range inv.Clusters {
		if !cl.IsLeaf() {
			hub = cl.Domain
			break
		}
	}
	// A context written before a rotation's switch holds the password that
	// --finish replaces: its clients are cut off then, unless warned here.
	seen := map[string]bool{}
	for _, e := range out {
		if st := sec.Rotation(e.User); st != "" && st.Before(inventory.StageSwitched) && !seen[e.User] {
			seen[e.User] = true
			fmt.Fprintf(c.App.ErrWriter, "dcctl: the password rotation of %s is under way (stage %s): its contexts hold the password it logs in with now, which rotate-passwords --finish replaces; export them again right after --finish (until then clients can log in as %s%s with the new password)\n",
				e.User, st, e.User, inventory.CompanionSuffix)
		}
	}
	fmt.Fprintf(c.App.Writer, "try: nats --context %s:admin server report jetstream --js-domain %s\n", prefix, hub)
	if len(dcs) > 0 {
		fmt.Fprintf(c.App.Writer, "a client placed in a DC: use its DC's context (%s@%s, ...), so that a cut of the link between the DCs does not take it down\n", prefix, dcs[0])
	}
	return nil
}

// writeContext writes ctx to path (mode 0600, atomically) unless the file
// already holds exactly that. A file with other content is someone's
// context: overwriting it needs confirmation.
func writeContext(c *cli.Context, path string, ctx natsContext) (bool, error) {
	data, err := json.MarshalIndent(ctx, "", "  ")
	if err != nil {
		return false, fmt.Errorf("encode context %s: %w", path, err)
	}
	data = append(data, '\n')
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, data):
		// Same content; still make sure nobody else can read the password.
		if err := os.Chmod(path, 0o600); err != nil {
			return false, fmt.Errorf("context %s: %w", path, err)
		}
		return false, nil
	case err == nil:
		if err := confirm(c, fmt.Sprintf("overwrite the natscli context %s?", path)); err != nil {
			return false, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("read context %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("context directory: %w", err)
	}
	// CreateTemp makes the file 0600 from the start: the password is never
	// readable by others, not even for a moment.
	f, err := os.CreateTemp(dir, ".dcctl-context-*")
	if err != nil {
		return false, fmt.Errorf("write context %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("write context %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write context %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write context %s: %w", path, err)
	}
	return true, nil
}

// natsContextDir is where natscli looks for contexts (ADR-21).
func natsContextDir() (string, error) {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("natscli context directory: %w (give --dir)", err)
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "nats", "context"), nil
}

// checkContextName refuses names that would not be a plain file name in
// the context directory.
func checkContextName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("context name %q: want a plain name such as \"local\" (no slashes, not starting with a dot)", name)
	}
	return nil
}
