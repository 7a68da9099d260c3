package provision

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/remote"
)

// The install step ends the host's SFTP session once its files are in
// place, without waiting for the run to close the connection.
func TestInstallEndsItsSFTPSession(t *testing.T) {
	h := newPhaseHost(t)
	p := h.plan(t)
	if log, err := h.run(t, p, installPhases()...); err != nil {
		t.Fatalf("install: %v\n%s", err, log)
	}
	if n := h.srv.SFTPSessions.Load(); n != 1 {
		t.Fatalf("the install opened %d SFTP sessions, want 1", n)
	}
	// The server sees the end once the channel's close reaches it.
	for deadline := time.Now().Add(10 * time.Second); h.srv.SFTPEnded.Load() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("the install's SFTP session is still open after the install")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A later upload opens a new one.
	c, err := h.s.Client(t.Context(), h.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	f := remote.File{Path: filepath.Join(t.TempDir(), "later"), Mode: 0o600, Content: strings.NewReader("later\n")}
	if err := c.Put(t.Context(), f, nil); err != nil {
		t.Fatalf("upload after the session ended: %v", err)
	}
	if n := h.srv.SFTPSessions.Load(); n != 2 {
		t.Errorf("%d SFTP sessions after a later upload, want 2", n)
	}
}
