package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestRefreshAppliedAfterRestart: a unit started or restarted by hand
// (`dcctl node restart`) runs the files on disk, so the applied marker then
// names their sums; otherwise the next provision takes them for files not
// yet in effect and restarts the node again (it cannot, behind the gate, in
// a cluster of two). The script runs here for real, on files in a temporary
// directory.
func TestRefreshAppliedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	conf, gone := filepath.Join(dir, "nats-server.conf"), filepath.Join(dir, "gone.conf")
	if err := os.WriteFile(conf, []byte("new config\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, ".dcctl-applied")
	old := "0000000000000000000000000000000000000000000000000000000000000000"
	if err := os.WriteFile(marker, []byte(old+" "+conf+"\n"+old+" "+gone+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// The whole restart script, systemctl a shell function that succeeds.
	inv := &inventory.Inventory{NATS: inventory.NATS{ConfigDir: dir, Service: "corp-mq"}}
	if out, err := exec.Command("sh", "-c", "systemctl() { :; }\n"+startScript(inv, UnitRestart)).CombinedOutput(); err != nil {
		t.Fatalf("script: %v: %s", err, out)
	}
	sum := sha256.Sum256([]byte("new config\n"))
	got, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + " " + conf + "\n"; string(got) != want {
		t.Errorf("marker %q, want %q", got, want)
	}
	if st, err := os.Stat(marker); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("marker mode %v (%v), want 0640", st.Mode().Perm(), err)
	}
	if _, err := os.Stat(marker + ".dcctl-tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}

	// No marker (a unit dcctl never applied files to): none is made.
	os.Remove(marker)
	if out, err := exec.Command("sh", "-c", refreshAppliedScript(marker)).CombinedOutput(); err != nil {
		t.Fatalf("script without a marker: %v: %s", err, out)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a marker was made: %v", err)
	}
}
