package inventory

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// hostPathRE is the character set of a path on the hosts. The paths reach the
// systemd unit (ExecStart=, ReadWritePaths=) and shell commands: a space splits
// a unit value, % is a systemd specifier, $ is expanded in ExecStart=.
var hostPathRE = regexp.MustCompile(`^/[A-Za-z0-9_.+/-]*$`)

// systemDirs are directories that the operating system or other software own.
// provision gives config_dir and store_dir mode 0750 and the nats group (store_dir
// the nats owner too), and the unit may write all of store_dir: /var/lib or /etc
// so treated would break the host.
var systemDirs = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
	"/lost+found", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/snap",
	"/srv", "/sys", "/tmp", "/usr", "/var",
	"/etc/default", "/etc/ssh", "/etc/ssl", "/etc/systemd", "/etc/systemd/system",
	"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec",
	"/usr/include", "/usr/share", "/usr/src", "/usr/games",
	"/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/local/share",
	"/usr/local/etc", "/usr/local/include", "/usr/local/src",
	"/var/backups", "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log",
	"/var/mail", "/var/opt", "/var/run", "/var/spool", "/var/tmp", "/var/www",
	"/var/lib/systemd", "/opt/local",
}

// unusableTrees are trees where nats-server cannot keep its files: the unit's
// sandbox hides them, or they do not survive a reboot.
var unusableTrees = []struct{ dir, why string }{
	{"/tmp", "the unit runs with PrivateTmp=true: nats-server would see an empty /tmp of its own"},
	{"/var/tmp", "the unit runs with PrivateTmp=true: nats-server would see an empty /var/tmp of its own"},
	{"/home", "the unit runs with ProtectHome=true: /home is hidden from nats-server"},
	{"/root", "the unit runs with ProtectHome=true: /root is hidden from nats-server"},
	{"/run", "/run is emptied at every boot"},
	{"/proc", "/proc is a kernel file system"},
	{"/sys", "/sys is a kernel file system"},
	{"/dev", "/dev is a device file system"},
}

// validateHostPaths checks install_path, config_dir and store_dir: absolute,
// written plainly, in a safe character set, none a system directory, and
// none inside another (a binary in the store, a config dir in the store, a
// store in the config dir: one's ownership or cleanup would hit the other).
func validateHostPaths(c *collector, n NATS) {
	paths := []struct{ key, p string }{
		{"nats.install_path", n.InstallPath},
		{"nats.config_dir", n.ConfigDir},
		{"nats.store_dir", n.StoreDir},
	}
	ok := map[string]bool{}
	for _, hp := range paths {
		ok[hp.key] = checkHostPath(c, hp.key, hp.p)
	}
	if ok["nats.config_dir"] && ok["nats.store_dir"] {
		switch {
		case n.ConfigDir == n.StoreDir:
			c.addf("nats.store_dir", "%q is also config_dir: the JetStream store needs a directory of its own", n.StoreDir)
		case within(n.StoreDir, n.ConfigDir):
			c.addf("nats.store_dir", "%q is inside config_dir %q: keep the JetStream store and the configuration apart", n.StoreDir, n.ConfigDir)
		case within(n.ConfigDir, n.StoreDir):
			c.addf("nats.config_dir", "%q is inside store_dir %q: keep the configuration and the JetStream store apart", n.ConfigDir, n.StoreDir)
		}
	}
	if ok["nats.install_path"] {
		for _, dir := range paths[1:] {
			if ok[dir.key] && (n.InstallPath == dir.p || within(n.InstallPath, dir.p)) {
				c.addf("nats.install_path", "%q is inside %s %q: install the binary elsewhere, such as /usr/local/bin/nats-server", n.InstallPath, strings.TrimPrefix(dir.key, "nats."), dir.p)
			}
		}
	}
}

// checkHostPath reports what is wrong with one host path; true when nothing is.
func checkHostPath(c *collector, key, p string) bool {
	switch {
	case !strings.HasPrefix(p, "/"):
		c.addf(key, "must be an absolute path on the hosts, not %q", p)
		return false
	case !hostPathRE.MatchString(p):
		c.addf(key, "%q holds a character outside letters, digits and _ . + - /: it reaches the systemd unit and shell commands", p)
		return false
	case path.Clean(p) != p:
		c.addf(key, "write %q as %q (no trailing /, no . or .. parts, no //)", p, path.Clean(p))
		return false
	case slices.Contains(systemDirs, p):
		what := "a directory the system or other software owns"
		if key == "nats.install_path" {
			c.addf(key, "%q is %s: name the binary's file, such as %s/nats-server", p, what, p)
		} else {
			c.addf(key, "%q is %s: dcctl would take it over (owner, mode); use a directory of its own, such as %s/nats", p, what, suggestBase(key))
		}
		return false
	}
	for _, t := range unusableTrees {
		if within(p, t.dir) {
			c.addf(key, "%q is under %s: %s", p, t.dir, t.why)
			return false
		}
	}
	return true
}

func suggestBase(key string) string {
	if key == "nats.store_dir" {
		return "/var/lib"
	}
	return "/etc"
}

// within reports whether p lies strictly below dir; both are clean.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
