// Command floortar writes, for the bench's fresh floor, one tar per node of
// an inventory holding everything a fresh `dcctl provision` puts on that
// node's host, as the host gets it: the nats-server binary, every rendered
// file (the same bytes `dcctl render` writes, from the real secrets and
// certificates) and the directories dcctl owns, each with its owner, group
// and mode. Extracted as root with GNU tar (`tar -x -C /`) on a host that
// has the nats user, it leaves the files where provision would.
//
//	floortar INVENTORY OUT_DIR     writes OUT_DIR/<node>.tar
//
// Only the files named are in a tar, not their parents: extracting one
// never changes /etc or /usr/local/bin.
package main

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/templates"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floortar INVENTORY OUT_DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "floortar:", err)
		os.Exit(1)
	}
}

func write(invPath, out string) error {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return err
	}
	sec, err := inventory.LoadSecrets(inv, os.Getenv)
	if err != nil {
		return err
	}
	m, err := pki.Load(inv)
	if err != nil {
		return err
	}
	m.Apply(sec)
	bin, err := os.ReadFile(inv.NATS.Binary)
	if err != nil {
		return fmt.Errorf("nats.binary: %w", err)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	now := time.Now()
	for _, n := range inv.Nodes {
		files, err := templates.Render(inv, sec, n.Name)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		entries := []templates.File{
			// The directories dcctl owns, as provision sets them.
			{Path: inv.NATS.ConfigDir, Mode: 0o750, Owner: "root", Group: inv.NATS.User, Kind: "dir"},
			{Path: inv.NATS.StoreDir, Mode: 0o750, Owner: inv.NATS.User, Group: inv.NATS.User, Kind: "dir"},
			{Path: inv.NATS.InstallPath, Mode: 0o755, Owner: "root", Group: "root", Content: bin},
		}
		entries = append(entries, files...)
		if err := writeTar(filepath.Join(out, n.Name+".tar"), entries, now); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

func writeTar(name string, entries []templates.File, now time.Time) error {
	f, err := os.OpenFile(name+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.Path, "/"),
			Mode:    int64(e.Mode),
			Uname:   e.Owner,
			Gname:   e.Group,
			ModTime: now,
			Format:  tar.FormatGNU,
		}
		if h.Uname == "" {
			h.Uname = "root"
		}
		if h.Gname == "" {
			h.Gname = "root"
		}
		if e.Kind == "dir" {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(e.Content); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(name+".tmp", name)
}
