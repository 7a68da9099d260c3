package remote

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// sizeRecorder is a reader of content that records the largest buffer it
// was asked to fill.
type sizeRecorder struct {
	r       io.Reader
	largest int
}

func (s *sizeRecorder) Read(p []byte) (int, error) {
	s.largest = max(s.largest, len(p))
	return s.r.Read(p)
}

// The stderr writers of the sessions that stay open for a whole run (the
// lock's stream, the SFTP session) are filled through a small buffer, not
// io.Copy's 32 KiB one, and keep what they kept before.
func TestLongSessionsReadStderrThroughASmallBuffer(t *testing.T) {
	content := strings.Repeat("stderr line\n", 1000)
	var stream lockedBuffer
	var kept bytes.Buffer
	limited := &limitedBuffer{b: &kept, max: 100}
	for name, w := range map[string]io.Writer{"stream": &stream, "sftp": limited} {
		src := &sizeRecorder{r: strings.NewReader(content)}
		if n, err := io.Copy(w, src); err != nil || n != int64(len(content)) {
			t.Fatalf("%s: copied %d bytes (%v), want %d", name, n, err, len(content))
		}
		if src.largest > smallCopyBuffer {
			t.Errorf("%s: stderr read through a buffer of %d bytes, want at most %d", name, src.largest, smallCopyBuffer)
		}
	}
	if string(stream.Bytes()) != content {
		t.Errorf("stream's stderr: %d bytes kept, want all %d", len(stream.Bytes()), len(content))
	}
	if kept.String() != content[:100] {
		t.Errorf("sftp's stderr: kept %q, want its first 100 bytes", kept.String())
	}
}
