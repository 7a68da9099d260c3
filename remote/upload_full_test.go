package remote

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// smallFilesystem mounts a 1 MiB tmpfs in the test's directory: a host
// filesystem that a binary upload fills. It needs root (scripts/test.sh
// runs the tests as root) and skips, saying so, without.
func smallFilesystem(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (run as root, as scripts/test.sh does)")
	}
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "dcctl-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// TestPutOnAFullOrReadOnlyFilesystemSaysWhich: an upload that fills the
// target's filesystem, and one into a filesystem mounted read-only, fail
// with an error that names the host and says which it was, leave the old
// file as it was and no temporary file. Over SFTP the server says only
// "Failure" for both, as OpenSSH's sftp-server does (the in-process one
// imitates it here), so the error used to stop there.
func TestPutOnAFullOrReadOnlyFilesystemSaysWhich(t *testing.T) {
	forTransfers(t, func(t *testing.T, e *testEnv, c *Client) {
		e.srv.OpenSSHStatus.Store(true)
		mnt := smallFilesystem(t, e.dir)
		path := filepath.Join(mnt, "nats-server")
		old := []byte("old binary")
		if err := os.WriteFile(path, old, 0o755); err != nil {
			t.Fatal(err)
		}
		content := randomBytes(t, 4<<20)
		err := c.Put(t.Context(), File{Path: path, Mode: 0o755, SHA256: sum(content), Size: int64(len(content)), Content: bytes.NewReader(content)}, nil)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "no space left") || !strings.Contains(err.Error(), c.Name()) {
			t.Fatalf("Put onto a full filesystem: got %v, want an error naming the host and saying there is no space left", err)
		}
		t.Logf("full: %v", err)
		tempGone(t, path)
		assertFile(t, path, old)

		if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
		small := []byte("listen: 4222\n")
		err = c.Put(t.Context(), File{Path: path, Mode: 0o644, SHA256: sum(small), Content: bytes.NewReader(small)}, nil)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "read-only file system") {
			t.Fatalf("Put onto a read-only filesystem: got %v, want an error saying so", err)
		}
		t.Logf("read-only: %v", err)
		assertFile(t, path, old)
	})
}
