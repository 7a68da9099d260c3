package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/dcctl/dcctl/inventory"
)

// The hosts run in a process of their own, apart from the one that runs
// provision: the peak RSS and CPU the bench reports are then dcctl's alone,
// not the simulated hosts' too. That process lives in a private mount
// namespace (the trees' bind mounts exist only there) and talks to the
// driver over its stdin and stdout:
//
//	hosts -> driver: "port P" per host, in order, then "ready"
//	driver -> hosts: "inventory PATH" once the inventory is written
//	hosts -> driver: "ok" once every host answers as its node
//	driver -> hosts: "cpuprofile PATH", later "cpuprofile stop": a CPU
//	  profile of the hosts process (its SSH servers) over one run; "ok" each
//	driver -> hosts: "counts"; hosts -> driver: "logins L execs E sftp S",
//	  the requests answered so far, then "ok"
//	driver closes stdin: the hosts stop, their commands are killed.

// hostsEnv, set in the environment, makes the program the hosts process.
const hostsEnv = "DCCTL_SIM_HOSTS"

// runHosts is the hosts process: hosts simulated hosts with trees under dir.
func runHosts(dir string, hosts int, in io.Reader, out io.Writer) error {
	// Mounts made from here on must not propagate back to the machine.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mount namespace: %w", err)
	}
	cfg, err := serverConfig(dir)
	if err != nil {
		return err
	}
	// The hosts share this machine's CPUs, where real hosts have their own:
	// their commands take turns, a few at a time, rather than thousands of
	// shells flooding the run queue until the hosts' SSH servers (in this
	// process) cannot answer a keepalive in time. Wall time then shows the
	// hosts' work as what it is here: a queue on 2 CPUs.
	slots := make(chan struct{}, 2*runtime.NumCPU())
	counts := &requestCounts{}
	all := make([]*host, hosts)
	defer func() {
		for _, h := range all {
			if h != nil {
				h.close()
				unmountTree(h.root)
			}
		}
	}()
	sftpServer, err := sftpServerBinary(dir)
	if err != nil {
		return err
	}
	for i := range all {
		root := filepath.Join(dir, "hosts", fmt.Sprintf("h%04d", i))
		if err := makeTree(root); err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		if err := os.Link(sftpServer, filepath.Join(root, sftpServerPath)); err != nil {
			return fmt.Errorf("host %d: sftp-server: %w", i, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		all[i] = &host{root: root, ln: ln, cfg: cfg, slots: slots, counts: counts, procs: map[int]bool{}, conns: map[net.Conn]bool{}}
		go all[i].serve()
		fmt.Fprintf(out, "port %d\n", ln.Addr().(*net.TCPAddr).Port)
	}
	fmt.Fprintln(out, "ready")
	sc := bufio.NewScanner(in)
	if !sc.Scan() {
		return nil // the driver gave up
	}
	path, ok := strings.CutPrefix(sc.Text(), "inventory ")
	if !ok {
		return fmt.Errorf("hosts: unexpected %q from the driver", sc.Text())
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return err
	}
	f := &fleet{inv: inv, roots: map[string]string{}, unit: inv.NATS.Service + ".service"}
	byPort := map[int]*host{}
	for _, h := range all {
		byPort[h.ln.Addr().(*net.TCPAddr).Port] = h
	}
	for _, n := range inv.Nodes {
		h := byPort[n.SSH.Port]
		if h == nil {
			return fmt.Errorf("hosts: node %s's ssh_port %d is no simulated host's", n.Name, n.SSH.Port)
		}
		h.name = n.Name
		f.roots[n.Name] = h.root
	}
	for _, n := range inv.Nodes {
		byPort[n.SSH.Port].monitor.Store(&nodeMonitor{f: f, node: n})
	}
	fmt.Fprintln(out, "ok")
	var stopProfile func()
	for sc.Scan() {
		switch path, _ := strings.CutPrefix(sc.Text(), "cpuprofile "); {
		case sc.Text() == "counts":
			fmt.Fprintln(out, counts)
		case path == "stop" && stopProfile != nil:
			stopProfile()
			stopProfile = nil
		case path != sc.Text() && path != "stop" && stopProfile == nil:
			if stopProfile, err = startCPUProfile(path); err != nil {
				return err
			}
		default:
			return fmt.Errorf("hosts: unexpected %q from the driver", sc.Text())
		}
		fmt.Fprintln(out, "ok")
	}
	return nil
}

// serverConfig accepts the driver's key and presents the one host key all
// simulated hosts share (known_hosts still names each by its port).
func serverConfig(dir string) (*ssh.ServerConfig, error) {
	pub, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	if err != nil {
		return nil, err
	}
	client, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "host_key"))
	if err != nil {
		return nil, err
	}
	hostKey, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	want := string(client.Marshal())
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == want {
				return nil, nil
			}
			return nil, fmt.Errorf("key not authorised")
		},
	}
	cfg.AddHostKey(hostKey)
	return cfg, nil
}
