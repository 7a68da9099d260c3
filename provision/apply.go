package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/templates"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Concurrency bounds how many hosts are worked on at once; < 1: all.
	Concurrency int
	// GateTimeout bounds each health-gate wait; default 3 minutes.
	GateTimeout time.Duration
	// Log receives one line per step, prefixed with the node name.
	Log io.Writer
	// Upload, if not nil, hears how far each host's binary upload got; it
	// is called from many goroutines.
	Upload func(node string, written, total int64)
}

// Apply carries out the plans: files and units on every host in parallel,
// then restarts one node at a time per cluster behind the health gate, then
// waits for freshly started nodes to be healthy. It never stops early for
// one host's failure, except that a cluster's rollout stops at the first
// node that fails its gate: the next node is not touched. A cancelled ctx
// (Ctrl-C, the deployment lock lost) stops it too: what is under way is cut
// short where it waits, and no further node is restarted; the recap's errors
// carry the cause (context.Cause).
func Apply(ctx context.Context, s *Session, plans []*HostPlan, o ApplyOptions) *Recap {
	if o.GateTimeout == 0 {
		o.GateTimeout = 3 * time.Minute
	}
	start := time.Now()
	r := newRecap(plans)
	log := &lineLog{w: o.Log}

	// Phase 1: files, units and first starts, all hosts in parallel.
	sem := make(chan struct{}, max(o.Concurrency, 1))
	if o.Concurrency < 1 {
		sem = make(chan struct{}, len(plans)+1)
	}
	var wg sync.WaitGroup
	for _, p := range plans {
		if p.Unreachable != nil || p.Err != nil || !p.Changed() {
			continue
		}
		wg.Add(1)
		go func(p *HostPlan) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			err := applyHost(ctx, s, p, log, o.Upload)
			r.add(p.Node.Name, time.Since(t0), err)
		}(p)
	}
	wg.Wait()

	// First installs start together once every host has its files: a new
	// cluster's nodes then come up at once, on hosts no longer busy with
	// uploads, rather than trickling in behind the slowest uploads.
	eachFirstInstall(plans, r, func(p *HostPlan) error { return startHost(ctx, s, p, log) })

	// Phase 2: rolling restarts and reloads, clusters in parallel, one node
	// at a time within a cluster. A node whose monitoring port changes keeps
	// answering on the old one until it restarts: the gates look there.
	for _, p := range plans {
		if p.ServingHTTPPort != 0 {
			s.servesHTTPAt(p.Node.Name, p.ServingHTTPPort)
		}
	}
	byCluster := map[string][]*HostPlan{}
	for _, p := range plans {
		if (p.Action == ActionRestart || p.Action == ActionReload) && r.ok(p.Node.Name) {
			byCluster[p.Node.Cluster] = append(byCluster[p.Node.Cluster], p)
		}
	}
	for _, list := range byCluster {
		wg.Add(1)
		go func(list []*HostPlan) {
			defer wg.Done()
			for i, p := range list {
				if ctx.Err() != nil {
					// Stopped (Ctrl-C, or the deployment lock lost): no
					// further node is touched.
					for _, rest := range list[i:] {
						r.add(rest.Node.Name, 0, fmt.Errorf("not restarted: the run was stopped: %w", context.Cause(ctx)))
					}
					return
				}
				t0 := time.Now()
				err := s.rollOne(ctx, p, o.GateTimeout, log)
				r.add(p.Node.Name, time.Since(t0), err)
				if err != nil {
					for _, rest := range list[i+1:] {
						r.add(rest.Node.Name, 0, fmt.Errorf("not restarted: the rollout of cluster %s stopped at %s", p.Node.Cluster, p.Node.Name))
					}
					return
				}
			}
		}(list)
	}
	wg.Wait()

	// Phase 3: nodes started for the first time must come up healthy; a
	// new cluster elects its meta leader only once enough of them are up.
	// Done means what status checks: /healthz, a current meta peer as the
	// leader sees it, and a leaf node's leafnode links to the hub.
	eachFirstInstall(plans, r, func(p *HostPlan) error {
		ctx, cancel := context.WithTimeout(ctx, o.GateTimeout)
		defer cancel()
		if err := s.WaitHealthz(ctx, p.Node.Name); err != nil {
			return err
		}
		if err := s.WaitMetaCurrent(ctx, p.Node.Name); err != nil {
			return err
		}
		log.say(p.Node.Name, "healthy (/healthz 200, current meta peer)")
		return s.WaitLeafLinks(ctx, p.Node.Name, logLinks(log, p.Node.Name))
	})
	r.Seconds = time.Since(start).Seconds()
	return r
}

// eachFirstInstall runs fn for every node being started for the first time
// and still ok, all at once, and records its time and outcome in the recap.
func eachFirstInstall(plans []*HostPlan, r *Recap, fn func(*HostPlan) error) {
	var wg sync.WaitGroup
	for _, p := range plans {
		if p.Action != ActionStart || !r.ok(p.Node.Name) {
			continue
		}
		wg.Add(1)
		go func(p *HostPlan) {
			defer wg.Done()
			t0 := time.Now()
			err := fn(p)
			r.add(p.Node.Name, time.Since(t0), err)
		}(p)
	}
	wg.Wait()
}

// applyHost installs files and units on one host and starts a first install.
func applyHost(ctx context.Context, s *Session, p *HostPlan, log *lineLog, upload func(string, int64, int64)) error {
	name := p.Node.Name
	c, err := s.Client(ctx, name)
	if err != nil {
		return err
	}
	nats := s.Inv.NATS
	run := func(what, cmd string) error {
		if _, stderr, err := c.Run(ctx, cmd); err != nil {
			return fmt.Errorf("%s: %w", what, withStderr(err, stderr))
		}
		return nil
	}
	if len(p.CleanTemp) > 0 {
		var q []string
		for _, t := range p.CleanTemp {
			q = append(q, shellQuote(t+remote.TempSuffix))
		}
		if err := run("remove leftover temporary files", "rm -f "+strings.Join(q, " ")); err != nil {
			return err
		}
		log.say(name, fmt.Sprintf("removed %d leftover temporary file(s) of an interrupted run", len(q)))
	}
	if p.CreateUser {
		cmd := fmt.Sprintf("id -u %[1]s >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %[1]s", shellQuote(nats.User))
		if err := run("create user "+nats.User, cmd); err != nil {
			return err
		}
		log.say(name, "created system user "+nats.User)
	}
	if err := makeDirs(ctx, c, p, log); err != nil {
		return err
	}

	var configs []FileChange
	for _, fc := range p.Files {
		f := fc.File
		switch {
		case fc.ModeOnly:
			cmd := fmt.Sprintf("chown %s:%s %s && chmod %o %s", shellQuote(f.Owner), shellQuote(f.Group), shellQuote(f.Path), f.Mode, shellQuote(f.Path))
			if err := run("fix mode of "+f.Path, cmd); err != nil {
				return err
			}
			log.say(name, "fixed mode/owner of "+f.Path)
		case f.Kind == "binary":
			if err := putBinary(ctx, c, s.Inv.NATS.Binary, sumsPath(s.Inv), f, name, log, upload); err != nil {
				return err
			}
		case f.Kind == "config":
			configs = append(configs, fc)
		}
	}
	if len(configs) > 0 {
		if err := installConfigs(ctx, c, s, configs, name, log); err != nil {
			return err
		}
	}
	for _, fc := range p.Files {
		if fc.File.Kind != "unit" || fc.ModeOnly {
			continue
		}
		if err := c.Put(ctx, remoteFile(fc.File), nil); err != nil {
			return fmt.Errorf("install unit: %w", err)
		}
		log.say(name, "installed "+fc.File.Path)
	}
	unit := nats.Service + ".service"
	// `systemctl enable` of a unit not yet enabled reloads systemd itself as
	// it creates the links (a second reload costs ~0.1 s of each host's CPU).
	// An enabled unit gets an explicit reload: not every systemd reloads on
	// an enable that changes nothing.
	if p.DaemonReload && !p.Enable {
		if err := run("systemctl daemon-reload", "systemctl daemon-reload"); err != nil {
			return err
		}
	}
	switch {
	case p.Action == ActionStart:
		// startHost, with the other first installs, once every host has its files
	case p.LeftStopped:
		// The files just installed are what the server will run with when
		// the operator starts it: record them, or the next run would take
		// them for files not yet in effect and restart it.
		return writeMarker(ctx, c, s, p)
	case p.Enable:
		if err := run("enable "+unit, "systemctl enable "+shellQuote(unit)); err != nil {
			return err
		}
		log.say(name, "enabled "+unit)
	}
	return nil
}

// startHost enables and starts a first install.
func startHost(ctx context.Context, s *Session, p *HostPlan, log *lineLog) error {
	c, err := s.Client(ctx, p.Node.Name)
	if err != nil {
		return err
	}
	unit := s.Inv.NATS.Service + ".service"
	if _, stderr, err := c.Run(ctx, "systemctl enable --now "+shellQuote(unit)); err != nil {
		return fmt.Errorf("start %s: %w%s", unit, withStderr(err, stderr), journalTail(ctx, c, unit))
	}
	log.say(p.Node.Name, "enabled and started "+unit+" ("+strings.Join(p.Why, "; ")+")")
	return writeMarker(ctx, c, s, p)
}

func remoteFile(f templates.File) remote.File {
	return remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group,
		Content: bytes.NewReader(f.Content), SHA256: f.SHA256, Size: int64(len(f.Content))}
}

// putBinary streams the local binary to the host, then checks it runs there.
func putBinary(ctx context.Context, c *remote.Client, local, sums string, f templates.File, name string, log *lineLog, upload func(string, int64, int64)) error {
	fh, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("open nats.binary: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("open nats.binary: %w", err)
	}
	t0 := time.Now()
	// --version runs the new binary before it replaces the installed one:
	// one that cannot run on this host never takes a working one's place.
	rf := remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group, Content: fh, SHA256: f.SHA256, Size: st.Size(),
		Check: []string{"--version"}}
	var progress func(int64)
	if upload != nil {
		total := st.Size()
		progress = func(n int64) { upload(name, n, total) }
	}
	if err := c.Put(ctx, rf, progress); err != nil {
		if errors.Is(err, remote.ErrCheckFailed) {
			return fmt.Errorf("nats.binary %s does not run on %s (wrong architecture or C library, or a noexec mount?): %w", local, name, err)
		}
		return fmt.Errorf("upload nats-server binary to %s: %w", f.Path, err)
	}
	// The version for the log, then the sums stamp (a cache: failing to
	// write it only costs the next run a hash).
	cmd := fmt.Sprintf(`v=$(%[1]s --version) || exit $?; echo "$v"; { printf '%%s %%s %%s\n' "$(stat -c '%[2]s' %[1]s)" %[3]s %[1]s > %[4]s && mv -f %[4]s %[5]s; } 2>/dev/null || rm -f %[4]s`,
		shellQuote(f.Path), statSignature, f.SHA256, shellQuote(sums+remote.TempSuffix), shellQuote(sums))
	out, stderr, err := c.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("installed binary %s: %w", f.Path, withStderr(err, stderr))
	}
	log.say(name, fmt.Sprintf("installed %s (%s, %.1f MB in %.1fs)", f.Path, strings.TrimSpace(string(out)), float64(st.Size())/1e6, time.Since(t0).Seconds()))
	return nil
}

// installConfigs stages the new config files beside the live ones, has the
// installed nats-server check them (`-t`), and only then moves them into
// place: a config nats-server rejects never replaces the running one.
func installConfigs(ctx context.Context, c *remote.Client, s *Session, configs []FileChange, name string, log *lineLog) error {
	nats := s.Inv.NATS
	stage := path.Join(nats.ConfigDir, ".dcctl-check")
	paths := templates.PathsFor(s.Inv)
	prep := fmt.Sprintf("rm -rf %[1]s && install -d -m 750 -o root -g %[2]s %[1]s", shellQuote(stage), shellQuote(nats.User))
	// Files not being replaced are copied in, so includes resolve as they will.
	for _, p := range []string{paths.Config, paths.LeafRemotes} {
		prep += fmt.Sprintf(" && { [ ! -f %[1]s ] || cp -p %[1]s %[2]s/; }", shellQuote(p), shellQuote(stage))
	}
	if _, stderr, err := c.Run(ctx, prep); err != nil {
		return fmt.Errorf("stage configs: %w", withStderr(err, stderr))
	}
	defer c.Run(context.WithoutCancel(ctx), "rm -rf "+shellQuote(stage))
	for _, fc := range configs {
		f := fc.File
		staged := f
		staged.Path = path.Join(stage, path.Base(f.Path))
		if err := c.Put(ctx, remoteFile(staged), nil); err != nil {
			return fmt.Errorf("upload %s: %w", f.Path, err)
		}
	}
	check := shellQuote(nats.InstallPath) + " -t -c " + shellQuote(path.Join(stage, templates.ConfigName))
	if out, stderr, err := c.Run(ctx, check); err != nil {
		msg := strings.TrimSpace(string(stderr) + string(out))
		msg = strings.ReplaceAll(msg, stage+"/", nats.ConfigDir+"/")
		return fmt.Errorf("nats-server rejected the new configuration, the old one stays in place: %s", s.Secrets.Redact(msg))
	}
	var mv []string
	for _, fc := range configs {
		mv = append(mv, fmt.Sprintf("mv -f %s %s", shellQuote(path.Join(stage, path.Base(fc.File.Path))), shellQuote(fc.File.Path)))
	}
	// The renames ignore a cancel's SIGTERM (and a dropped connection's
	// HUP/PIPE): they take microseconds, and stopping between two of them
	// would leave a config that includes a file of the other generation.
	if _, stderr, err := c.Run(ctx, "trap '' INT TERM HUP PIPE; "+strings.Join(mv, " && ")); err != nil {
		return fmt.Errorf("install configs: %w", withStderr(err, stderr))
	}
	for _, fc := range configs {
		log.say(name, fmt.Sprintf("installed %s (%s, checked with nats-server -t)", fc.File.Path, fc.Reason))
	}
	return nil
}

// rollOne restarts or reloads one node behind the health gate.
func (s *Session) rollOne(ctx context.Context, p *HostPlan, timeout time.Duration, log *lineLog) error {
	name := p.Node.Name
	unit := s.Inv.NATS.Service + ".service"
	c, err := s.Client(ctx, name)
	if err != nil {
		return err
	}
	if p.Action == ActionReload {
		if _, stderr, err := c.Run(ctx, "systemctl reload "+shellQuote(unit)); err != nil {
			return fmt.Errorf("reload: %w", withStderr(err, stderr))
		}
		log.say(name, "reloaded ("+strings.Join(p.Why, "; ")+")")
		if err := writeMarker(ctx, c, s, p); err != nil {
			return err
		}
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return s.WaitHealthz(hctx, name)
	}
	log.say(name, "gate: checking the cluster can lose "+name)
	if err := s.GateBefore(ctx, name, timeout, func(w string) { log.say(name, "warning: "+w) }); err != nil {
		return err
	}
	log.say(name, "restarting ("+strings.Join(p.Why, "; ")+")")
	_, stderr, err := c.Run(ctx, "systemctl restart "+shellQuote(unit))
	s.servesHTTPAt(name, 0) // restarted (or failed to start): the new config's port
	if err != nil {
		return fmt.Errorf("restart: %w%s", withStderr(err, stderr), journalTail(ctx, c, unit))
	}
	if err := writeMarker(ctx, c, s, p); err != nil {
		return err
	}
	if err := s.GateAfter(ctx, name, timeout, func(msg string) { log.say(name, msg) }); err != nil {
		return fmt.Errorf("%w%s", err, journalTail(ctx, c, unit))
	}
	log.say(name, "back: healthy, current meta peer, replicas current")
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.WaitLeafLinks(lctx, name, logLinks(log, name))
}

// logLinks says which leafnode links came up.
func logLinks(log *lineLog, node string) func([]string) {
	return func(accounts []string) {
		log.say(node, "leafnode links up (accounts "+strings.Join(accounts, ", ")+")")
	}
}

// journalTail returns the unit's last log lines, to explain a failed start.
func journalTail(ctx context.Context, c *remote.Client, unit string) string {
	out, _, err := c.Run(context.WithoutCancel(ctx), "journalctl -u "+shellQuote(unit)+" -n 8 --no-pager -o cat 2>/dev/null")
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return ""
	}
	return "\n  last log lines of " + unit + ":\n    " + strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\n    ")
}

func withStderr(err error, stderr []byte) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return err // ExitError already carries stderr
	}
	if s := strings.TrimSpace(string(stderr)); s != "" {
		return fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// lineLog writes whole lines from many goroutines without interleaving.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLog) say(node, msg string) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%-14s %s\n", node, msg)
}

// writeMarker records which files the server now runs with, so that a later
// run can tell files that were installed but never put into effect.
func writeMarker(ctx context.Context, c *remote.Client, s *Session, p *HostPlan) error {
	content := markerContent(p.Desired)
	f := templates.File{Path: markerPath(s.Inv), Mode: 0o640, Owner: "root", Group: s.Inv.NATS.User, Content: content, SHA256: sha256Hex(content)}
	if err := c.Put(ctx, remoteFile(f), nil); err != nil {
		return fmt.Errorf("record applied files: %w", err)
	}
	return nil
}
