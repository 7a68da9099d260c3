// Package jetstream reads and changes the state of NATS JetStream clusters:
// servers, the meta group of each domain, streams and leafnode links, and the
// operations the runbooks need (peer removal, replica changes, snapshots,
// content digests, safety checks).
//
// It speaks NATS only. How bytes reach a server is the caller's choice: Options.Dial
// is called for every connection attempt, so the CLI can hand in an SSH tunnel
// while tests use a plain dialer against embedded servers.
package jetstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DialFunc opens a network connection to addr. It has the shape of
// net.Dialer.DialContext and of an SSH client's DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Credentials are a NATS user and password.
type Credentials struct {
	User     string
	Password string
	// Source says where the password comes from (an environment variable,
	// a secrets file's key), for the error that asks to check it; never
	// the password itself.
	Source string
}

func (c Credentials) set() bool { return c.User != "" }

// AccountUser is a user of a JetStream account.
type AccountUser struct {
	Account string
	Credentials
}

// Options configures Connect.
type Options struct {
	// URLs are client URLs (nats://host:port) in order of preference: the
	// first reachable one is used (list the servers of the domain you work on
	// first: requests then avoid leafnode hops). Down nodes cost little: all
	// addresses are probed at once before connecting.
	URLs []string
	// Dial opens connections; nil uses a net.Dialer.
	Dial DialFunc
	// System is a user of the system account, needed for server-level requests
	// ($SYS.REQ.SERVER.PING.*, SERVER.REMOVE, META.*). Optional: without it
	// those methods fail with ErrNoSystemUser.
	System Credentials
	// Accounts are a user of each application (JetStream) account, used for
	// stream requests: a stream lives in one account and is reached only
	// through a user of that account. Optional: without any, stream methods
	// fail with ErrNoAppUser. The first is the Conn's default account (see
	// Account for the others).
	Accounts []AccountUser
	// Timeout bounds each request and each connection attempt. Default 3s.
	Timeout time.Duration
	// Gap is how long a scatter-gather request (PING.*) waits after the last
	// reply for another one before it decides every live server has answered.
	// Default 300ms.
	Gap time.Duration
	// Name is the client connection name shown in the servers' connz.
	Name string
	// ServerNames are the deployment's server names: a peer that a server
	// reports by peer id only (it has not heard from it since it started)
	// is reported under its name when it is one of these.
	ServerNames []string
	// TLS, when set, is how servers are verified (RootCAs: the deployment's
	// CA). Its ServerName is left empty: each connection then expects the
	// host of the URL it dials, an address the server's certificate names,
	// also when the bytes travel through an SSH tunnel.
	TLS *tls.Config
}

// ErrNoSystemUser is returned by methods needing the system account when
// Options.System was empty.
var ErrNoSystemUser = errors.New("no system account user configured")

// ErrNoAppUser is returned by methods needing an application account when
// Options.Accounts was empty.
var ErrNoAppUser = errors.New("no application account user configured")

// Conn holds a connection per account: the system account's and one per
// application account. Stream methods act in the Conn's account: the first
// of Options.Accounts, or the one a view from Account names.
type Conn struct {
	sys *nats.Conn
	// apps is every application account's connection, in Options order;
	// shared by the views Account returns.
	apps []accountConn
	// app and account are the account stream methods act in; appErr is
	// why app is nil when its user could not log in.
	app     *nats.Conn
	account string
	appErr  error
	timeout time.Duration
	gap     time.Duration
	names   []string // Options.ServerNames
}

type accountConn struct {
	account string
	nc      *nats.Conn
	err     error // the login refused (nc is nil)
}

const (
	defaultTimeout = 3 * time.Second
	defaultGap     = 300 * time.Millisecond
)

// Connect opens the system and application connections (those with a user set).
func Connect(ctx context.Context, o Options) (*Conn, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("connect to NATS: no server URLs given")
	}
	if !o.System.set() && len(o.Accounts) == 0 {
		return nil, errors.New("connect to NATS: neither a system nor an application user given")
	}
	c := &Conn{timeout: o.Timeout, gap: o.Gap, names: o.ServerNames}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.gap <= 0 {
		c.gap = defaultGap
	}
	var err error
	if o.System.set() {
		if c.sys, err = dial(ctx, o, o.System, c.timeout); err != nil {
			return nil, err
		}
	}
	for _, a := range o.Accounts {
		if !a.set() {
			c.Close()
			return nil, fmt.Errorf("connect to NATS: no user given for account %s", a.Account)
		}
		nc, err := dial(ctx, o, a.Credentials, c.timeout)
		switch {
		case err != nil && refusedLogin(err):
			// One account's wrong password blocks that account's streams
			// only: the error waits for whoever needs them.
			c.apps = append(c.apps, accountConn{account: a.Account, err: &LoginError{Account: a.Account, User: a.User, Source: a.Source, Err: err}})
			continue
		case err != nil:
			c.Close()
			return nil, fmt.Errorf("account %s: %w", a.Account, err)
		}
		c.apps = append(c.apps, accountConn{account: a.Account, nc: nc})
	}
	if c.sys == nil && len(c.Accounts()) == 0 {
		// Nothing to work with: the first refusal says why.
		return nil, c.apps[0].err
	}
	if len(c.apps) > 0 {
		c.app, c.account, c.appErr = c.apps[0].nc, c.apps[0].account, c.apps[0].err
	}
	return c, nil
}

// LoginError is an application account whose user the servers refuse
// (wrong password, for one): Connect still succeeds, and whatever needs
// that account's streams gets this error, naming the account and what it
// blocks; the other accounts work.
type LoginError struct {
	Account, User string
	Source        string // where the password comes from (Credentials.Source)
	Err           error
}

func (e *LoginError) Error() string {
	check := "check the password dcctl has for " + e.User
	if e.Source != "" {
		check += ": " + e.Source
	}
	return fmt.Sprintf("account %s: the servers refuse its user %s (%v): the streams of account %s cannot be read or changed, so nothing that needs them can run (other accounts' streams can); %s",
		e.Account, e.User, e.Err, e.Account, check)
}

func (e *LoginError) Unwrap() error { return e.Err }

// refusedLogin reports whether a connect failed because the servers refused
// the user (not because none could be reached).
func refusedLogin(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked)
}

// Accounts names the application accounts this Conn has a connection for,
// in the order they were given.
func (c *Conn) Accounts() []string {
	var out []string
	for _, a := range c.apps {
		if a.nc != nil {
			out = append(out, a.account)
		}
	}
	return out
}

// Refused are the application accounts whose user the servers refused at
// connect, in the order they were given.
func (c *Conn) Refused() []*LoginError {
	var out []*LoginError
	for _, a := range c.apps {
		var le *LoginError
		if errors.As(a.err, &le) {
			out = append(out, le)
		}
	}
	return out
}

// Account returns a view of c whose stream methods act in account; it
// shares c's connections (closing either closes both).
func (c *Conn) Account(account string) (*Conn, error) {
	for _, a := range c.apps {
		if a.account == account {
			if a.err != nil {
				return nil, a.err
			}
			v := *c
			v.app, v.account, v.appErr = a.nc, a.account, nil
			return &v, nil
		}
	}
	return nil, fmt.Errorf("no connection to account %q (connected to: %s)", account, strings.Join(c.Accounts(), ", "))
}

// CurrentAccount is the account stream methods act in; "" without one.
func (c *Conn) CurrentAccount() string { return c.account }

// Close closes every connection, the views' too.
func (c *Conn) Close() {
	if c.sys != nil {
		c.sys.Close()
	}
	for _, a := range c.apps {
		if a.nc != nil {
			a.nc.Close()
		}
	}
}

// dialer adapts a DialFunc to nats.CustomDialer, which has no context: each
// attempt gets its own deadline so that a dead host (or a tunnel to it that
// hangs) costs at most one timeout before the next URL is tried.
type dialer struct {
	dial    DialFunc
	timeout time.Duration
}

func (d dialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	return d.dial(ctx, network, addr)
}

func dial(ctx context.Context, o Options, cred Credentials, timeout time.Duration) (*nats.Conn, error) {
	df := o.Dial
	if df == nil {
		var nd net.Dialer
		df = nd.DialContext
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("connect to NATS as %s: %w", cred.User, context.DeadlineExceeded)
	}
	name := o.Name
	if name == "" {
		name = "dcctl"
	}
	opts := []nats.Option{
		nats.Name(name + " (" + cred.User + ")"),
		nats.UserInfo(cred.User, cred.Password),
		nats.SetCustomDialer(dialer{dial: df, timeout: timeout}),
		nats.Timeout(timeout),
		// Reconnects keep a long --watch alive while nodes restart.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.NoCallbacksAfterClientClose(),
		// The servers' INFO advertises cluster members by their listen
		// address, which is not reachable through an SSH tunnel of another
		// host; stick to the URLs we were given.
		nats.IgnoreDiscoveredServers(),
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS.Clone()))
	}
	// nats.go tries its URLs one after another, each costing a full timeout
	// when a host is down and silent; probing them all at once first lets it
	// start with one that answers.
	urls := preferReachable(ctx, df, o.URLs, timeout)
	opts = append(opts, nats.DontRandomize())
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("connect to NATS (%s) as %s: %w", redactURLs(o.URLs), cred.User, r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		// Reap a connection that succeeds after we gave up on it.
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to NATS (%s) as %s: %w", redactURLs(o.URLs), cred.User, ctx.Err())
	}
}

// preferReachable dials every URL's address in parallel and moves one that
// accepts a TCP connection to the front, keeping the others in their order.
// URLs are a preference order: once one answers, earlier ones get a short
// grace to answer too, so that a caller listing the servers of the domain it
// works on first gets one of those while a silent host costs only the grace.
// If none answers within timeout the order is kept and nats.go reports the
// failures. The probe connections are closed unused.
func preferReachable(ctx context.Context, df DialFunc, urls []string, timeout time.Duration) []string {
	if len(urls) < 2 {
		return urls
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok := make(chan int, len(urls))
	for i, u := range urls {
		go func() {
			conn, err := df(pctx, "tcp", hostPort(u))
			if err != nil {
				return
			}
			conn.Close()
			ok <- i
		}()
	}
	best := -1
	var grace <-chan time.Time
	for best != 0 {
		select {
		case i := <-ok:
			if best < 0 || i < best {
				best = i
			}
			if grace == nil {
				grace = time.After(preferenceGrace)
			}
			continue
		case <-grace:
		case <-pctx.Done():
		}
		break
	}
	if best <= 0 {
		return urls
	}
	out := append([]string{urls[best]}, urls[:best]...)
	return append(out, urls[best+1:]...)
}

// preferenceGrace is how long preferReachable waits for a preferred URL
// after a less preferred one answered: a few round trips on a WAN.
const preferenceGrace = 150 * time.Millisecond

// hostPort is the dial address of a client URL, with nats' default port.
func hostPort(s string) string {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "4222")
	}
	return u.Host
}

// redactURLs drops any user info from URLs so that a password given inline
// never reaches an error message.
func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			if strings.Contains(s, "@") {
				s = s[strings.LastIndex(s, "@")+1:]
			}
			out[i] = s
			continue
		}
		u.User = nil
		out[i] = u.String()
	}
	return strings.Join(out, ",")
}

// withTimeout bounds a single request by the configured timeout unless ctx
// already ends sooner.
func (c *Conn) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Conn) sysConn() (*nats.Conn, error) {
	if c.sys == nil {
		return nil, ErrNoSystemUser
	}
	return c.sys, nil
}

func (c *Conn) appConn() (*nats.Conn, error) {
	if c.app == nil && c.appErr != nil {
		return nil, c.appErr
	}
	if c.app == nil {
		return nil, ErrNoAppUser
	}
	return c.app, nil
}

// ConnectedServer names the server the system connection is on (else the
// application connection's): the side of a partition this Conn sees from.
// "" when neither is connected.
func (c *Conn) ConnectedServer() string {
	for _, nc := range []*nats.Conn{c.sys, c.app} {
		if nc != nil && nc.IsConnected() {
			return nc.ConnectedServerName()
		}
	}
	return ""
}
