package provision

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPhaseCheckConfigOnAFullDiskSaysSoAndLeavesNothing: the new config is
// checked by nats-server -t in a copy beside the live files
// (<config_dir>/.dcctl-check); when config_dir's filesystem has room for
// the upload but not for that copy, the host fails with the copy's own
// error (not as a config nats-server rejected, which it used to say), and
// neither the check directory nor a temporary file is left; the live
// config is unchanged.
func TestPhaseCheckConfigOnAFullDiskSaysSoAndLeavesNothing(t *testing.T) {
	h := newPhaseHost(t)
	confDir := h.path("etc/acme/nats")
	if err := os.MkdirAll(confDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "dcctl-test", confDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", confDir).Run() })
	h.installed(t)
	conf := filepath.Join(confDir, "nats-server.conf")
	if err := os.WriteFile(conf, []byte("# changed by hand\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// Leave one free page: the upload of the new config takes it, and the
	// copies for the check find none.
	var st syscall.Statfs_t
	if err := syscall.Statfs(confDir, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(confDir, "filler")
	if err := os.WriteFile(filler, make([]byte, (int64(st.Bavail)-1)*st.Bsize), 0o600); err != nil {
		t.Fatal(err)
	}
	p := h.plan(t)
	log, err := h.run(t, p, installPhases()...)
	if err == nil {
		t.Fatalf("install with no room for the check's copies succeeded\n%s", log)
	}
	t.Logf("error: %v", err)
	if strings.Contains(err.Error(), "rejected") || !strings.Contains(err.Error(), "No space left on device") || !strings.Contains(err.Error(), "n1") {
		t.Errorf("error %q: want the copy's failure on n1, not a rejected config", err)
	}
	if got, _ := os.ReadFile(conf); string(got) != "# changed by hand\n" {
		t.Error("the config was replaced")
	}
	if _, err := os.Lstat(filepath.Join(confDir, ".dcctl-check")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check directory left behind: %v", err)
	}
	noTemps(t, conf)
}
