package provision

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/remote"
)

func TestParseFacts(t *testing.T) {
	out := "os Linux\narch x86_64\nsystemd yes\nuser no\n" +
		"file abc123 640 root nats /etc/nats/nats-server.conf\n" +
		"file - - - - /etc/nats/with space.conf\n" +
		"temp /usr/local/bin/nats-server\n" +
		"dir x 750 nats nats /var/lib/nats\n" +
		"enabled enabled\nactive failed\n"
	f, err := parseFacts(out)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Files["/etc/nats/nats-server.conf"]
	if !c.Exists || c.SHA256 != "abc123" || c.Mode != 0o640 || c.Owner != "root" || c.Group != "nats" {
		t.Errorf("file fact %+v", c)
	}
	if sp, ok := f.Files["/etc/nats/with space.conf"]; !ok || sp.Exists {
		t.Errorf("missing file with a space: %+v %v", sp, ok)
	}
	if f.User || !f.Systemd || f.UnitActive != "failed" || len(f.LeftoverTemp) != 1 || f.Dirs["/var/lib/nats"].Mode != 0o750 {
		t.Errorf("facts %+v", f)
	}
	for _, bad := range []string{"", "garbage\n", "os Linux\nfile x\n", "os Linux\nfile abc 9z9 a b /p\n"} {
		if _, err := parseFacts(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParseFacts: whatever the facts script prints (any OS and unit
// states, names, modes, paths with spaces, facts in any order) comes back
// as it was; output that is not facts is refused, and facts always have
// the OS they were parsed from.
func FuzzParseFacts(f *testing.F) {
	f.Add("Linux", "x86_64", true, false, "/etc/nats/with space.conf", "abc123", uint16(0o640), "root", "nats", "/var/lib/nats", "enabled", "active", "ops at 2026-11-27", "garbage\n")
	f.Add("GNU/Linux", "aarch64", false, true, "/opt/x", "-", uint16(0), "-", "-", "/srv/ü d", "not-found", "failed", "", "os \nfile x\n")
	f.Fuzz(func(t *testing.T, osName, arch string, systemd, user bool, path, sha string, mode uint16, owner, group, dir, enabled, active, stoppedBy, junk string) {
		if got, err := parseFacts(junk); err == nil && (got == nil || got.OS == "") {
			t.Fatalf("parse(%q) = %+v without an error", junk, got)
		}
		mode &= 0o7777
		for _, v := range []string{osName, arch, path, dir, enabled, active, stoppedBy} {
			if strings.ContainsAny(v, "\r\n") {
				return
			}
		}
		for _, v := range []string{sha, owner, group} {
			if v == "" || strings.ContainsAny(v, " \r\n") {
				return
			}
		}
		if strings.TrimSpace(osName) == "" || path == "" || dir == "" || sha == "-" ||
			enabled != strings.TrimSpace(enabled) || active != strings.TrimSpace(active) || stoppedBy != strings.TrimSpace(stoppedBy) {
			return
		}
		yes := func(b bool) string {
			if b {
				return "yes"
			}
			return "no"
		}
		out := "os " + osName + "\narch " + arch + "\nsystemd " + yes(systemd) + "\nuser " + yes(user) + "\n" +
			fmt.Sprintf("file %s %o %s %s %s\n", sha, mode, owner, group, path) +
			"dir - - - - " + dir + "\ntemp " + path + "\napplied " + sha + " " + path + "\n" +
			"enabled " + enabled + "\nactive " + active + "\nstopped " + stoppedBy + "\n"
		got, err := parseFacts(out)
		if err != nil {
			t.Fatalf("parse(%q): %v", out, err)
		}
		want := &Facts{OS: osName, Arch: arch, Systemd: systemd, User: user,
			Files:        map[string]FileFact{path: {Exists: true, SHA256: sha, Mode: uint32(mode), Owner: owner, Group: group}},
			Dirs:         map[string]FileFact{dir: {}},
			LeftoverTemp: []string{path}, Applied: map[string]string{path: sha},
			UnitEnabled: enabled, UnitActive: active, Stopped: true, StoppedBy: stoppedBy}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parse(%q)\n = %+v\nwant %+v", out, got, want)
		}
	})
}

// TestFactsScriptOnThisMachine runs the facts script under the local sh, as
// the host would, and parses what it prints.
func TestFactsScriptOnThisMachine(t *testing.T) {
	dir := t.TempDir()
	withSpace := filepath.Join(dir, "with space.conf")
	os.WriteFile(withSpace, []byte("hello\n"), 0o640)
	os.WriteFile(withSpace+remote.TempSuffix, []byte("half"), 0o600)
	missing := filepath.Join(dir, "missing")
	script := factsScript("root", "dcctl-test-no-such-unit", filepath.Join(dir, "marker"), filepath.Join(dir, "sums"), filepath.Join(dir, "stopped"), []string{withSpace, missing}, []string{dir, filepath.Join(dir, "nodir")})
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("facts script: %v", err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := f.Files[withSpace]
	if !got.Exists || got.SHA256 != sha256Hex([]byte("hello\n")) || got.Mode != 0o640 {
		t.Errorf("file fact %+v from:\n%s", got, out)
	}
	if m, ok := f.Files[missing]; !ok || m.Exists {
		t.Errorf("missing file: %+v %v", m, ok)
	}
	if !f.Dirs[dir].Exists || f.Dirs[filepath.Join(dir, "nodir")].Exists {
		t.Errorf("dir facts %+v", f.Dirs)
	}
	if len(f.LeftoverTemp) != 1 || f.LeftoverTemp[0] != withSpace {
		t.Errorf("leftover temp %v", f.LeftoverTemp)
	}
	if !f.User {
		t.Errorf("user root not found")
	}
	// The kernel's name and architecture, as uname says them.
	if u, err := exec.Command("uname", "-sm").Output(); err != nil || f.OS+" "+f.Arch != strings.TrimSpace(string(u)) {
		t.Errorf("os %q arch %q, uname -sm says %q (%v)", f.OS, f.Arch, u, err)
	}
	if f.Stopped {
		t.Errorf("stopped by an operator without a stop marker")
	}
	// The host's clock, from stat's look at /proc/self/: this machine's,
	// to the kernel's coarse clock (a tick).
	if d := f.Clock.Sub(time.Now()); f.Clock.IsZero() || d > time.Second || d < -time.Minute {
		t.Errorf("host clock %v, %v from this machine's", f.Clock, d)
	}

	// The stop marker `dcctl node stop` leaves: read, with who wrote it.
	os.WriteFile(filepath.Join(dir, "stopped"), []byte(stopMarkerContent(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))+"\n"), 0o640)
	out, err = exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("facts script: %v", err)
	}
	if f, err = parseFacts(string(out)); err != nil {
		t.Fatal(err)
	}
	if !f.Stopped || !strings.HasSuffix(f.StoppedBy, " at 2026-11-27T03:00:00Z") || !strings.Contains(f.StoppedBy, "@") {
		t.Errorf("stop marker read as stopped %v by %q", f.Stopped, f.StoppedBy)
	}
}

// TestFactsSumsStamp: a file whose signature matches the sums stamp gets the
// stamped sha256 (not hashed again); once the file is written, it is hashed.
func TestFactsSumsStamp(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nats-server")
	sums := filepath.Join(dir, "sums")
	os.WriteFile(bin, []byte("binary v1\n"), 0o755)
	sig, err := exec.Command("stat", "-c", statSignature, bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	stamped := strings.Repeat("ab", 32)
	os.WriteFile(sums, []byte(strings.TrimSpace(string(sig))+" "+stamped+" "+bin+"\n"), 0o640)
	facts := func() string {
		out, err := exec.Command("sh", "-c", factsScript("root", "dcctl-test-no-such-unit", filepath.Join(dir, "marker"), sums, filepath.Join(dir, "stopped"), []string{bin}, nil)).Output()
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseFacts(string(out))
		if err != nil {
			t.Fatal(err)
		}
		return f.Files[bin].SHA256
	}
	if got := facts(); got != stamped {
		t.Errorf("stamped file hashed again: %s", got)
	}
	// A stamp line of the same signature for another path does not vouch
	// for this file.
	os.WriteFile(sums, []byte(strings.TrimSpace(string(sig))+" "+stamped+" "+bin+".other\n"), 0o640)
	if got := facts(); got != sha256Hex([]byte("binary v1\n")) {
		t.Errorf("file stamped under another path: got %s, want the real sha256", got)
	}
	os.WriteFile(bin, []byte("binary v2\n"), 0o755) // same size, new content
	if got := facts(); got != sha256Hex([]byte("binary v2\n")) {
		t.Errorf("changed file: got %s, want the real sha256", got)
	}
}

// On a host with every file in place and stamped, the facts script starts
// two programs: one stat for the files and directories, one systemctl;
// nothing per file, no uname where /proc/sys/kernel/arch is, no id for a
// user that owns one of the paths (it started ~40 before, then six: a no-op's
// CPU on a host is mostly forks). Every command it runs is counted through
// shims on PATH.
func TestFactsScriptStartsFewProcesses(t *testing.T) {
	dir := t.TempDir()
	shims := filepath.Join(dir, "shims")
	os.Mkdir(shims, 0o755)
	log := filepath.Join(dir, "calls")
	for _, name := range []string{"uname", "id", "stat", "awk", "sha256sum", "cut", "sed", "head", "dirname", "cat", "date", "tr", "grep"} {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(shims, name), []byte("#!/bin/sh\necho "+name+" >> "+log+"\nexec "+real+" \"$@\"\n"), 0o755)
	}
	// systemd answers show's properties in its own order
	os.WriteFile(filepath.Join(shims, "systemctl"), []byte("#!/bin/sh\necho systemctl >> "+log+"\nprintf 'ActiveState=active\\nLoadState=loaded\\nUnitFileState=enabled\\n'\n"), 0o755)
	var files []string
	var stamp strings.Builder
	for _, name := range []string{"nats-server", "nats-server.conf", "leafnode-remotes.conf", "nats.service"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(name+"\n"), 0o640)
		sig, err := exec.Command("stat", "-c", statSignature, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		stamp.WriteString(strings.TrimSpace(string(sig)) + " " + sha256Hex([]byte(name+"\n")) + " " + p + "\n")
		files = append(files, p)
	}
	sums, marker := filepath.Join(dir, "sums"), filepath.Join(dir, "marker")
	os.WriteFile(sums, []byte(stamp.String()), 0o640)
	os.WriteFile(marker, []byte(sha256Hex([]byte("x"))+" "+files[0]+"\n"), 0o640)
	cmd := exec.Command("sh", "-c", factsScript("root", "nats", marker, sums, filepath.Join(dir, "stopped"), files, []string{dir, shims}))
	cmd.Env = append(os.Environ(), "PATH="+shims)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("facts script: %v", err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, p := range files {
		if got := f.Files[p]; !got.Exists || got.SHA256 != sha256Hex([]byte(filepath.Base(p)+"\n")) || got.Mode != 0o640 {
			t.Errorf("%s: fact %+v", p, got)
		}
	}
	if !f.Dirs[dir].Exists || !f.Dirs[shims].Exists || len(f.Applied) != 1 || f.UnitActive != "active" || f.UnitEnabled != "enabled" || !f.User {
		t.Errorf("facts %+v", f)
	}
	calls, _ := os.ReadFile(log)
	list := strings.Fields(string(calls))
	// stat (files and directories), systemctl once; the user (root) owns
	// the files
	sort.Strings(list)
	want := "stat systemctl"
	if _, err := os.Stat("/proc/sys/kernel/arch"); err != nil {
		want += " uname" // a kernel before 6.1
	}
	if got := strings.Join(list, " "); got != want {
		t.Errorf("the facts script ran %q, want %q (no hashing)", got, want)
	}
}

// runFactsWith runs the facts script for user and unit with shims for id
// and systemctl first on PATH.
func runFactsWith(t *testing.T, user, id, systemctl string) *Facts {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "id"), []byte("#!/bin/sh\n"+id+"\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "systemctl"), []byte("#!/bin/sh\n"+systemctl+"\n"), 0o755)
	cmd := exec.Command("sh", "-c", factsScript(user, "nats", filepath.Join(dir, "marker"), filepath.Join(dir, "sums"), filepath.Join(dir, "stopped"), nil, []string{dir}))
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("facts script: %v", err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return f
}

// The user is looked up in /etc/passwd by the shell, and through id (NSS)
// when it is not there: a user from LDAP or systemd still counts, one that
// exists nowhere does not.
func TestFactsUserBeyondPasswd(t *testing.T) {
	const unit = "echo LoadState=loaded"
	if f := runFactsWith(t, "dcctl-test-nss-only", `[ "$2" = dcctl-test-nss-only ] && echo 4242`, unit); !f.User {
		t.Errorf("a user id knows, outside /etc/passwd: user %v", f.User)
	}
	if f := runFactsWith(t, "dcctl-test-nowhere", "exit 1", unit); f.User {
		t.Errorf("a user that exists nowhere: user %v", f.User)
	}
	if f := runFactsWith(t, "root", "exit 1", unit); !f.User {
		t.Errorf("root, in /etc/passwd (id not asked): user %v", f.User)
	}
}

// The unit's states come from one systemctl show, mapped to what
// is-enabled and is-active answer (as the lab's systemd 252 does): a unit
// systemd cannot find is "not-found", other unit file states pass through,
// whatever order systemd prints the properties in.
func TestFactsUnitStatesFromShow(t *testing.T) {
	for _, tc := range []struct{ show, enabled, active string }{
		{`printf 'LoadState=not-found\nActiveState=inactive\nUnitFileState=\n'`, "not-found", "inactive"},
		{`printf 'ActiveState=active\nUnitFileState=enabled\nLoadState=loaded\n'`, "enabled", "active"},
		{`printf 'UnitFileState=disabled\nLoadState=loaded\nActiveState=failed\n'`, "disabled", "failed"},
		{`printf 'LoadState=masked\nUnitFileState=masked\nActiveState=inactive\n'`, "masked", "inactive"},
		{`printf 'LoadState=loaded\nUnitFileState=static\nActiveState=activating\n'`, "static", "activating"},
		{`echo "System has not been booted with systemd" >&2; exit 1`, "", ""},
	} {
		f := runFactsWith(t, "root", "exit 1", tc.show)
		if f.UnitEnabled != tc.enabled || f.UnitActive != tc.active {
			t.Errorf("%s: enabled %q active %q, want %q %q", tc.show, f.UnitEnabled, f.UnitActive, tc.enabled, tc.active)
		}
	}
}
