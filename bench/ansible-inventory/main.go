// Command ansible-inventory writes an Ansible inventory (INI) for the hosts
// of a dcctl inventory, so that bench/provision.yml works on the same hosts
// with the same SSH key and known_hosts file (host key checking stays on).
//
//	go run ./bench/ansible-inventory lab/inventory.toml RENDER_DIR > hosts.ini
//
// RENDER_DIR is what `dcctl render INVENTORY --out RENDER_DIR` wrote: the
// playbook copies those files, so both tools install identical content.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ansible-inventory INVENTORY RENDER_DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "ansible-inventory:", err)
		os.Exit(1)
	}
}

func write(invPath, renderDir string) error {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return err
	}
	renderDir, err = filepath.Abs(renderDir)
	if err != nil {
		return err
	}
	binary, err := filepath.Abs(inv.NATS.Binary)
	if err != nil {
		return err
	}
	paths := templates.PathsFor(inv)
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated from %s by bench/ansible-inventory; do not edit.\n[nats]\n", invPath)
	for _, n := range inv.Nodes {
		if n.SSH.Key == "" {
			return fmt.Errorf("node %s: no ssh_key (the bench does not use an agent)", n.Name)
		}
		// Host key checking stays on: only the inventory's known_hosts is trusted.
		sshArgs := "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=" + n.SSH.KnownHosts
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s ansible_ssh_common_args=%s ansible_become=%t nats_http=%s nats_standby=%t\n",
			n.Name, n.Host, n.SSH.Port, n.SSH.User, n.SSH.Key, strconv.Quote(sshArgs), n.SSH.Sudo, inv.MonitorAddr(n), n.Standby)
	}
	fmt.Fprintf(&b, "\n[nats:vars]\nrender_dir=%s\nnats_binary=%s\nnats_install_path=%s\nnats_config_dir=%s\nnats_store_dir=%s\nnats_service=%s\nnats_user=%s\nnats_config=%s\nnats_leaf_remotes=%s\nnats_unit=%s\n",
		renderDir, binary, inv.NATS.InstallPath, inv.NATS.ConfigDir, inv.NATS.StoreDir, inv.NATS.Service, inv.NATS.User, paths.Config, paths.LeafRemotes, paths.Unit)
	_, err = os.Stdout.WriteString(b.String())
	return err
}
