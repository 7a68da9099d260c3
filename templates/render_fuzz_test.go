package templates_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

// fuzzInput is the inventory text a fuzzed case controls: every string that
// reaches a rendered file. The rest of the topology is fixed: a second hub
// node, a leaf cluster LEAF (nodes l1 and z-leaf2) of the fuzzed hub
// cluster, and the system account SYS.
type fuzzInput struct {
	Node, Cluster, DC, Domain, Account, User, Host                    string
	NATSUser, Service, InstallPath, ConfigDir, StoreDir, SyncInterval string
}

var plainInput = fuzzInput{"hub1", "HUB", "dc1", "hub", "APP", "app", "10.0.0.1",
	"nats", "nats-server", "/usr/local/bin/nats-server", "/etc/nats", "/var/lib/nats", "always"}

// The fixed second nodes of each cluster, not rendered: a cluster of one is
// refused (a lone clustered nats-server never elects a meta leader).
const secondHub, secondHubHost, secondLeaf = "z-hub2", "10.0.0.3", "z-leaf2"

func (in fuzzInput) inventoryText() ([]byte, error) {
	doc := map[string]any{
		"nats": map[string]any{
			"binary": "nats-server", "user": in.NATSUser, "service": in.Service, "install_path": in.InstallPath,
			"config_dir": in.ConfigDir, "store_dir": in.StoreDir, "sync_interval": in.SyncInterval,
			"max_file_store": "2GB",
		},
		"accounts": map[string]any{
			in.Account: map[string]any{"jetstream": true, "users": []string{in.User}},
			"SYS":      map[string]any{"system": true, "users": []string{"admin"}},
		},
		"clusters": map[string]any{
			in.Cluster: map[string]any{"domain": in.Domain},
			"LEAF":     map[string]any{"domain": "leaf", "leaf_of": in.Cluster},
		},
		"nodes": map[string]any{
			in.Node:    map[string]any{"cluster": in.Cluster, "dc": in.DC, "host": in.Host},
			"l1":       map[string]any{"cluster": "LEAF", "dc": "dc2", "host": "10.0.0.2"},
			secondHub:  map[string]any{"cluster": in.Cluster, "dc": "dc1", "host": secondHubHost},
			secondLeaf: map[string]any{"cluster": "LEAF", "dc": "dc2", "host": "10.0.0.4"},
		},
	}
	var buf bytes.Buffer
	err := toml.NewEncoder(&buf).Encode(doc)
	return buf.Bytes(), err
}

// FuzzRender renders a hub and a leaf node from inventories whose names,
// data center, host, user names and paths are fuzzed. Whatever validation
// lets through must come out as exactly the keys a plain inventory renders,
// holding exactly the inventory's values: no string may end its value and
// add a line or a key, in the config, the leafnode remotes or the unit.
func FuzzRender(f *testing.F) {
	add := func(in fuzzInput) {
		f.Add(in.Node, in.Cluster, in.DC, in.Domain, in.Account, in.User, in.Host,
			in.NATSUser, in.Service, in.InstallPath, in.ConfigDir, in.StoreDir, in.SyncInterval)
	}
	add(plainInput)
	add(fuzzInput{"core-a1", "CORE.1", "eu-west-1", "central_1", "ORDERS", "svc.orders", "fd00::1",
		"svc_nats", "jetstream@edge", "/opt/nats/bin/nats-server", "/opt/nats/etc", "/srv/nats-data", "1m30s"})
	// One injection at a time, each in a field that reaches a file.
	for _, change := range []func(*fuzzInput){
		func(in *fuzzInput) { in.DC = "dc1\nno_auth_user: app\n#" },
		func(in *fuzzInput) { in.Node = "hub1\nExecStartPre=/bin/sh" },
		func(in *fuzzInput) { in.Host = "10.0.0.1\"\nx: \"y" },
		func(in *fuzzInput) { in.Service = "nats\nExecStartPre=/bin/sh" },
		func(in *fuzzInput) { in.NATSUser = "nats\nExecStartPre=/bin/sh" },
		func(in *fuzzInput) { in.ConfigDir = "/etc/nats\nExecStartPre=/bin/sh" },
		func(in *fuzzInput) { in.StoreDir = "/var/lib/nats /" },
		func(in *fuzzInput) { in.SyncInterval = "2m\nno_auth_user: x" },
	} {
		in := plainInput
		change(&in)
		add(in)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("fuzz-password"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	ref := renderPlain(f, hash)
	f.Fuzz(func(t *testing.T, node, cluster, dc, domain, account, user, host, natsUser, service, installPath, configDir, storeDir, syncInterval string) {
		in := fuzzInput{node, cluster, dc, domain, account, user, host, natsUser, service, installPath, configDir, storeDir, syncInterval}
		text, err := in.inventoryText()
		if err != nil {
			return // not representable in TOML (invalid UTF-8)
		}
		dir := t.TempDir()
		inv, err := inventory.Parse(filepath.Join(dir, "inventory.toml"), text)
		if err != nil {
			return // refused: nothing is rendered
		}
		got := renderAll(t, inv, dir, hash)
		checkRendered(t, in, inv, ref, got)
	})
}

// rendered is what one inventory renders, parsed back.
type rendered struct {
	hubConf, leafConf map[string]any
	hubUnit           []string // the unit's sections and keys, in order
	hubUnitValues     map[string]string
}

func renderPlain(t testing.TB, hash []byte) rendered {
	text, err := plainInput.inventoryText()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inv, err := inventory.Parse(filepath.Join(dir, "inventory.toml"), text)
	if err != nil {
		t.Fatalf("the plain fuzz inventory is invalid: %v", err)
	}
	return renderAll(t, inv, dir, hash)
}

// renderAll renders the hub node and l1 into dir and parses each back with
// nats-server's parser: the raw one for the keys, ProcessConfigFile for
// whether nats-server accepts the config at all.
func renderAll(t testing.TB, inv *inventory.Inventory, dir string, hash []byte) rendered {
	var sec bytes.Buffer
	for _, u := range inv.Users() {
		fmt.Fprintf(&sec, "[users.%q]\npassword = \"fuzz-password\"\nbcrypt = %q\n", u, hash)
	}
	fmt.Fprintf(&sec, "[route]\npassword = \"fuzz-password\"\nbcrypt = %q\n", hash)
	if err := os.WriteFile(inventory.SecretsPath(inv.File), sec.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := inventory.LoadSecrets(inv, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	applyTLS(t, inv, secrets)
	var r rendered
	for i, n := range inv.Nodes {
		if n.Name == secondHub || n.Name == secondLeaf {
			continue
		}
		files, err := templates.Render(inv, secrets, n.Name)
		if err != nil {
			t.Fatalf("render %s: %v", n.Name, err)
		}
		nodeDir := filepath.Join(dir, fmt.Sprint("node", i))
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Kind == "unit" {
				if n.Cluster != "LEAF" {
					r.hubUnit, r.hubUnitValues = parseUnit(t, f.Content)
				}
				continue
			}
			// the TLS files are named by their paths on the host
			content := bytes.ReplaceAll(f.Content, []byte(`"`+inv.NATS.ConfigDir+"/"), []byte(`"`+nodeDir+"/"))
			if err := os.WriteFile(filepath.Join(nodeDir, path.Base(f.Path)), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		confPath := filepath.Join(nodeDir, templates.ConfigName)
		m, err := conf.ParseFile(confPath)
		if err != nil {
			t.Fatalf("%s: nats-server's parser rejects the config: %v", n.Name, err)
		}
		if _, err := server.ProcessConfigFile(confPath); err != nil {
			t.Fatalf("%s: nats-server rejects the config: %v", n.Name, err)
		}
		if n.Cluster == "LEAF" {
			r.leafConf = m
		} else {
			r.hubConf = m
		}
	}
	return r
}

// parseUnit lists a unit's sections and keys in order, and its values.
func parseUnit(t testing.TB, content []byte) ([]string, map[string]string) {
	var keys []string
	values := map[string]string{}
	for _, line := range strings.Split(string(content), "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			keys = append(keys, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line %q is neither a section nor a key", line)
			}
			keys = append(keys, k)
			values[k] = v
		}
	}
	return keys, values
}

func checkRendered(t *testing.T, in fuzzInput, inv *inventory.Inventory, ref, got rendered) {
	t.Helper()
	// Same shape as the plain inventory's files: key paths with the
	// inventory's names replaced by their role.
	refRoles, roles := map[string]string{plainInput.Account: "<app>"}, map[string]string{in.Account: "<app>"}
	if want, have := shape(ref.hubConf, refRoles), shape(got.hubConf, roles); !slices.Equal(want, have) {
		t.Fatalf("hub config: keys %v, want %v", have, want)
	}
	if want, have := shape(ref.leafConf, refRoles), shape(got.leafConf, roles); !slices.Equal(want, have) {
		t.Fatalf("leaf config: keys %v, want %v", have, want)
	}
	if !slices.Equal(ref.hubUnit, got.hubUnit) {
		t.Fatalf("unit: keys %v, want %v", got.hubUnit, ref.hubUnit)
	}

	// Exactly the inventory's values.
	hub := got.hubConf
	want := map[string]any{
		"server_name":    in.Node,
		"system_account": "SYS",
	}
	for k, v := range want {
		if hub[k] != v {
			t.Errorf("hub config %s = %#v, want %#v", k, hub[k], v)
		}
	}
	js, _ := hub["jetstream"].(map[string]any)
	if js["store_dir"] != in.StoreDir || js["domain"] != in.Domain {
		t.Errorf("hub jetstream = %#v, want store_dir %q domain %q", js, in.StoreDir, in.Domain)
	}
	cl, _ := hub["cluster"].(map[string]any)
	if cl["name"] != in.Cluster {
		t.Errorf("hub cluster name = %#v, want %q", cl["name"], in.Cluster)
	}
	accounts, _ := hub["accounts"].(map[string]any)
	app, _ := accounts[in.Account].(map[string]any)
	users, _ := app["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["user"] != in.User {
		t.Errorf("account %q users = %#v, want [%q]", in.Account, app["users"], in.User)
	}

	leafnodes, _ := got.leafConf["leafnodes"].(map[string]any)
	remotes, _ := leafnodes["remotes"].([]any)
	var accts []string
	hubAddr := inv.Node(in.Node).Addr()
	for _, r := range remotes {
		rm := r.(map[string]any)
		accts = append(accts, fmt.Sprint(rm["account"]))
		for _, raw := range rm["urls"].([]any) {
			u, err := url.Parse(raw.(string))
			if err != nil || (u.Hostname() != strings.Trim(hubAddr, "[]") && u.Hostname() != secondHubHost) {
				t.Errorf("leaf remote URL %q does not point at a hub node (%s, %s) (%v)", raw, hubAddr, secondHubHost, err)
			}
		}
	}
	sort.Strings(accts)
	wantAccts := []string{in.Account, "SYS"}
	sort.Strings(wantAccts)
	if !slices.Equal(accts, wantAccts) {
		t.Errorf("leaf remotes for accounts %v, want %v", accts, wantAccts)
	}

	u := got.hubUnitValues
	wantUnit := map[string]string{
		"User":           in.NATSUser,
		"Group":          in.NATSUser,
		"ExecStart":      in.InstallPath + " -c " + path.Join(in.ConfigDir, templates.ConfigName),
		"ReadWritePaths": in.StoreDir,
	}
	for k, v := range wantUnit {
		if u[k] != v {
			t.Errorf("unit %s=%q, want %q", k, u[k], v)
		}
	}
}

// shape lists the key paths of a parsed config, array elements numbered and
// the names in roles replaced by their role, sorted.
func shape(m map[string]any, roles map[string]string) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if r, ok := roles[k]; ok {
					k = r
				}
				walk(prefix+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		default:
			out = append(out, prefix)
		}
	}
	walk("", m)
	sort.Strings(out)
	return out
}
