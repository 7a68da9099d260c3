// Package templates renders each node's nats-server configuration and
// systemd unit from the embedded *.tmpl files, so an operator can read the
// exact files dcctl will write.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/dcctl/dcctl/inventory"
)

//go:embed *.tmpl
var files embed.FS

// File is one file a node needs, as it must be on the host.
type File struct {
	Path    string // absolute path on the host
	Mode    uint32 // permission bits
	Owner   string
	Group   string
	Content []byte
	Secret  bool   // holds plaintext credentials: never shown, diffs redacted
	Kind    string // "config", "unit" or "binary"
	SHA256  string // hex sha256 of the content, filled in by whoever needs it
}

// Names of the rendered files within nats.config_dir.
const (
	ConfigName      = "nats-server.conf"
	LeafRemotesName = "leafnode-remotes.conf"
	TLSCAName       = "tls-ca.pem"
	TLSCertName     = "tls-cert.pem"
	TLSKeyName      = "tls-key.pem"
)

// Kinds of rendered files (File.Kind) besides configs, units and the binary.
const (
	KindCert = "cert" // a certificate: public, shown by fingerprint
	KindKey  = "key"  // a private key: never shown
)

// Paths lists where a node's files live on its host.
type Paths struct {
	Config, LeafRemotes, Unit string
	TLSCA, TLSCert, TLSKey    string
}

// PathsFor returns the host paths of the files rendered for inv.
func PathsFor(inv *inventory.Inventory) Paths {
	return Paths{
		Config:      path.Join(inv.NATS.ConfigDir, ConfigName),
		LeafRemotes: path.Join(inv.NATS.ConfigDir, LeafRemotesName),
		Unit:        path.Join("/etc/systemd/system", inv.NATS.Service+".service"),
		TLSCA:       path.Join(inv.NATS.ConfigDir, TLSCAName),
		TLSCert:     path.Join(inv.NATS.ConfigDir, TLSCertName),
		TLSKey:      path.Join(inv.NATS.ConfigDir, TLSKeyName),
	}
}

// tlsTimeout is the TLS handshake bound (seconds) on every listener and
// link: a handshake crosses the WAN between data centers, and dcctl's own
// through an SSH tunnel; nats-server's default is tighter.
const tlsTimeout = 5

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"q":        quote,
	"hostport": func(h string, p int) string { return net.JoinHostPort(h, strconv.Itoa(p)) },
}).ParseFS(files, "*.tmpl"))

type userData struct{ Name, Hash string }

type accountData struct {
	Name      string
	JetStream bool
	Users     []userData
}

type remoteData struct {
	Account string
	URLs    []string
	InOrder bool
}

type tlsData struct {
	CA, Cert, Key string
	Timeout       int
}

type data struct {
	TLS             *tlsData // nil: TLS off
	MonitorAddr     string
	MonitorHTTPS    bool
	MonitorLoopback bool
	RouteUser       string
	RouteHash       string
	Node            *inventory.Node
	Cluster         *inventory.Cluster
	NATS            inventory.NATS
	Routes          []string
	Accounts        []accountData
	SystemAccount   string
	LeafListener    bool
	LeafRemotesFile string
	Remotes         []remoteData
	ConfigFile      string
	StopTimeout     string
}

// Render returns the files node needs: its nats-server config, its leafnode
// remotes (leaf clusters only) and its systemd unit.
func Render(inv *inventory.Inventory, sec *inventory.Secrets, nodeName string) ([]File, error) {
	node := inv.Node(nodeName)
	if node == nil {
		return nil, fmt.Errorf("render: %w", &inventory.UnknownNodeError{Name: nodeName, Inventory: inv.File})
	}
	cl := inv.ClusterOf(node)
	paths := PathsFor(inv)
	d := data{
		Node:          node,
		Cluster:       cl,
		NATS:          inv.NATS,
		Routes:        inv.RouteURLs(node),
		SystemAccount: inv.SystemAccount().Name,
		LeafListener:  inv.HasLeaves(cl),
		ConfigFile:    paths.Config,
		StopTimeout:   stopTimeout(inv.NATS),
		MonitorAddr:   inv.MonitorAddr(node),
		MonitorHTTPS:  inv.MonitorHTTPS(),
		RouteUser:     inventory.RouteUser,

		MonitorLoopback: inv.NATS.Monitoring != inventory.MonitoringHost,
	}
	routePW, routeHash := sec.Route()
	if routeHash == "" {
		return nil, fmt.Errorf("render %s: the secrets file %s has no route password and %s is not set: only `dcctl provision` creates it", node.Name, sec.File(), inventory.RouteEnvVar)
	}
	d.RouteHash = routeHash
	for i, r := range d.Routes {
		d.Routes[i] = withCredentials(r, inventory.RouteUser, routePW)
	}
	var tlsFiles []File
	if inv.TLS.Enabled {
		t, ok := sec.NodeTLS(node.Name)
		if !ok {
			return nil, fmt.Errorf("render %s: no TLS certificate for it: only `dcctl provision` creates the CA and the nodes' certificates", node.Name)
		}
		d.TLS = &tlsData{CA: paths.TLSCA, Cert: paths.TLSCert, Key: paths.TLSKey, Timeout: tlsTimeout}
		tlsFiles = []File{
			{Path: paths.TLSCA, Mode: 0o644, Owner: "root", Group: "root", Content: t.CA, Kind: KindCert},
			{Path: paths.TLSCert, Mode: 0o644, Owner: "root", Group: "root", Content: t.Cert, Kind: KindCert},
			{Path: paths.TLSKey, Mode: 0o640, Owner: "root", Group: inv.NATS.User, Content: t.Key, Secret: true, Kind: KindKey},
		}
	}
	for _, a := range inv.Accounts {
		ad := accountData{Name: a.Name, JetStream: a.JetStream}
		for _, u := range a.Users {
			h := sec.Hash(u)
			if h == "" {
				return nil, fmt.Errorf("render %s: no password for user %s", node.Name, u)
			}
			ad.Users = append(ad.Users, userData{Name: u, Hash: h})
			// A password rotation under way: the companion user takes the
			// new password, in the same account (see inventory.RotationStage).
			if name, hash, ok := sec.Companion(u); ok {
				ad.Users = append(ad.Users, userData{Name: name, Hash: hash})
			}
		}
		d.Accounts = append(d.Accounts, ad)
	}
	for _, r := range inv.LeafRemotes(node) {
		rd := remoteData{Account: r.Account, InOrder: r.InOrder}
		user, pw := sec.LeafLogin(r.User)
		for _, u := range r.URLs {
			rd.URLs = append(rd.URLs, withCredentials(u, user, pw))
		}
		d.Remotes = append(d.Remotes, rd)
	}
	var out []File
	if len(d.Remotes) > 0 {
		d.LeafRemotesFile = LeafRemotesName
		content, err := execute("leafnode-remotes.conf.tmpl", d)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: paths.LeafRemotes, Mode: 0o640, Owner: "root", Group: inv.NATS.User, Content: content, Secret: true, Kind: "config"})
	}
	conf, err := execute("nats-server.conf.tmpl", d)
	if err != nil {
		return nil, err
	}
	unit, err := execute("nats-server.service.tmpl", d)
	if err != nil {
		return nil, err
	}
	// The main config holds the users' bcrypt hashes and the route password
	// (in the route URLs, as nats-server needs it): keep it from other users.
	out = append([]File{{Path: paths.Config, Mode: 0o640, Owner: "root", Group: inv.NATS.User, Content: conf, Secret: true, Kind: "config"}}, out...)
	out = append(out, tlsFiles...)
	out = append(out, File{Path: paths.Unit, Mode: 0o644, Owner: "root", Group: "root", Content: unit, Kind: "unit"})
	return out, nil
}

func execute(name string, d data) ([]byte, error) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		return nil, fmt.Errorf("render %s for %s: %w", name, d.Node.Name, err)
	}
	return buf.Bytes(), nil
}

// stopTimeout gives lame duck mode its whole grace period and duration, plus
// a margin for JetStream to flush, before systemd resorts to SIGKILL.
func stopTimeout(n inventory.NATS) string {
	ld, _ := time.ParseDuration(n.LameDuck)
	grace, _ := time.ParseDuration(n.LameDuckGrace)
	return strconv.Itoa(int((ld + grace + 30*time.Second).Seconds()))
}

func withCredentials(raw, user, password string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// quote writes a string as a double-quoted nats-server config string.
// Validation keeps quotes, backslashes and control characters out of the
// inventory's strings; escaping them all anyway means that no string can end
// its value and start another key, whatever reaches here.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\\' || ch == '"':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch == '\n':
			b.WriteString(`\n`)
		case ch == '\r':
			b.WriteString(`\r`)
		case ch == '\t':
			b.WriteString(`\t`)
		case ch < 0x20 || ch == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, ch)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('"')
	return b.String()
}
