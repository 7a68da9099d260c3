package remote

import (
	"bytes"
	"path/filepath"
	"testing"
)

// BenchmarkPut24MB pushes a file the size of nats-server through the
// in-process sshd (encryption, flow control, the host-side sha256 and rename
// included): go test -run - -bench Put ./remote
func BenchmarkPut24MB(b *testing.B) {
	e := newTestEnv(b)
	c := e.dial(b)
	content := randomBytes(b, 24<<20)
	f := File{Path: filepath.Join(e.dir, "nats-server"), Mode: 0o755, SHA256: sum(content)}
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		f.Content = bytes.NewReader(content)
		if err := c.Put(b.Context(), f, nil); err != nil {
			b.Fatal(err)
		}
	}
}
