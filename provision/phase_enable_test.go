package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/templates"
)

// A first install's enable reloads systemd only when systemd does not
// already hold the unit file as it is on disk.
func TestPhaseEnableReloadsOnlyWhenNeeded(t *testing.T) {
	for name, c := range map[string]struct {
		show   func(unitFile string) string
		reload bool
	}{
		"loaded from the new file": {func(f string) string {
			return "NeedDaemonReload=no\nFragmentPath=" + f + "\nLoadState=loaded\nUnitFileState=enabled\n"
		}, false},
		// a standby node made active: systemd loaded its unit before the
		// enable and keeps its state until a reload (lab: every provision
		// after replace-peer planned "enable" again)
		"loaded, its unit file state from before the enable": {func(f string) string {
			return "NeedDaemonReload=no\nFragmentPath=" + f + "\nLoadState=loaded\nUnitFileState=disabled\n"
		}, true},
		"loaded from an older file": {func(f string) string {
			return "LoadState=loaded\nNeedDaemonReload=yes\nFragmentPath=" + f + "\nUnitFileState=enabled\n"
		}, true},
		"loaded from elsewhere": {func(string) string {
			return "LoadState=loaded\nNeedDaemonReload=no\nFragmentPath=/run/systemd/system/other.service\n"
		}, true},
		"not found": {func(string) string { return "LoadState=not-found\nNeedDaemonReload=no\nFragmentPath=\n" }, true},
		"no answer": {func(string) string { return "" }, true},
	} {
		t.Run(name, func(t *testing.T) {
			h := newPhaseHost(t)
			file := templates.PathsFor(h.s.Inv).Unit
			if err := os.WriteFile(filepath.Join(h.bin, "show"), []byte(c.show(file)), 0o644); err != nil {
				t.Fatal(err)
			}
			p := h.plan(t)
			if log, err := h.run(t, p, installPhases()...); err != nil {
				t.Fatalf("install: %v\n%s", err, log)
			}
			got := h.systemctlLog(t)
			if !strings.Contains(got, "enable --no-reload dcctl-test-natsd.service") {
				t.Errorf("systemctl calls %q, want an enable without its reload", got)
			}
			if reloaded := strings.Contains(got, "daemon-reload"); reloaded != c.reload {
				t.Errorf("systemctl calls %q: daemon-reload %v, want %v", got, reloaded, c.reload)
			}
		})
	}
}
