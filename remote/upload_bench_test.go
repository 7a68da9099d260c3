package remote

import (
	"bytes"
	"path/filepath"
	"testing"
)

// BenchmarkUpload24MB pushes a file the size of nats-server through the
// in-process sshd over each transfer, side by side in one run (encryption,
// flow control, the host-side sha256 and rename included; the SFTP server is
// pkg/sftp's, in the same process):
//
//	go test -run '^$' -bench Upload -benchtime 5x ./remote
func BenchmarkUpload24MB(b *testing.B) {
	content := randomBytes(b, 24<<20)
	for _, tr := range []string{TransferSFTP, TransferExec} {
		b.Run(tr, func(b *testing.B) {
			e := newTestEnv(b)
			c := e.dial(b, func(cfg *Config) { cfg.Transfer = tr })
			f := File{Path: filepath.Join(e.dir, "nats-server"), Mode: 0o755, SHA256: sum(content), Size: int64(len(content))}
			b.SetBytes(int64(len(content)))
			for b.Loop() {
				f.Content = bytes.NewReader(content)
				if err := c.Put(b.Context(), f, nil); err != nil {
					b.Fatal(err)
				}
			}
			if tr == TransferSFTP && e.srv.SFTPSessions.Load() == 0 {
				b.Fatal("no SFTP session was opened")
			}
		})
	}
}
