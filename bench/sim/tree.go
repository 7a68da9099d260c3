package main

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// stubs are the simulated hosts' stand-ins for systemd and useradd: the
// boundary a host on this machine cannot have (no systemd runs here, and
// 1000 real nats-servers do not fit on 2 cores).
//
//go:embed stubs
var stubs embed.FS

// stubDir is where the stubs live in every host's tree; it comes first on
// the PATH of the commands the host runs.
const stubDir = "/sim/bin"

// makeTree builds one host's root: the machine's /usr bound read-only (so
// its programs, sh, coreutils, awk, flock, sha256sum, are the real ones),
// a writable /usr/local of the host's own over it, its own /etc, /var,
// /run, /tmp and /dev/null, and a /proc. It must run in the hosts process's private
// mount namespace: the bind mounts are never seen outside it and vanish
// with it.
func makeTree(root string) error {
	for _, d := range []string{"usr", "local/bin", "etc/systemd/system", "etc/alternatives", "run/systemd/system",
		"var/lib", "var/log", "root", "dev", "proc", "sim/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			return err
		}
	}
	usr := filepath.Join(root, "usr")
	if err := syscall.Mount("/usr", usr, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind /usr: %w", err)
	}
	if err := syscall.Mount("", usr, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("read-only /usr: %w", err)
	}
	if err := syscall.Mount(filepath.Join(root, "local"), filepath.Join(usr, "local"), "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /usr/local: %w", err)
	}
	// A host has its /proc: the facts read the kernel's name and
	// architecture there (/proc/sys/kernel).
	if err := syscall.Mount("proc", filepath.Join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // char 1:3
		return fmt.Errorf("mknod /dev/null: %w", err)
	}
	if err := os.Chmod(filepath.Join(root, "dev/null"), 0o666); err != nil {
		return err
	}
	// The host's identity files: copies, so that useradd on one host adds
	// its user there only. ld.so.cache lets the dynamic loader find libraries
	// in /usr/lib/<triplet>.
	for _, f := range []string{"passwd", "group", "nsswitch.conf", "ld.so.cache", "localtime"} {
		if err := copyFile("/etc/"+f, filepath.Join(root, "etc", f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	// /usr/bin/awk and friends are links through /etc/alternatives.
	alts, err := os.ReadDir("/etc/alternatives")
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, a := range alts {
		if target, err := os.Readlink(filepath.Join("/etc/alternatives", a.Name())); err == nil {
			if err := os.Symlink(target, filepath.Join(root, "etc/alternatives", a.Name())); err != nil {
				return err
			}
		}
	}
	entries, err := stubs.ReadDir("stubs")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := stubs.ReadFile("stubs/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, stubDir, e.Name()), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// unmountTree undoes makeTree's mounts (the namespace's end would too).
func unmountTree(root string) {
	syscall.Unmount(filepath.Join(root, "proc"), syscall.MNT_DETACH)
	syscall.Unmount(filepath.Join(root, "usr/local"), syscall.MNT_DETACH)
	syscall.Unmount(filepath.Join(root, "usr"), syscall.MNT_DETACH)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
