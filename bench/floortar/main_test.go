package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcctl/dcctl/templates"
)

// The tar holds each entry under its path without the leading slash, with
// its owner, group and mode, and no parent directories (extracting it must
// not touch /etc or /usr/local/bin); an owned directory is a directory entry.
func TestWriteTarEntries(t *testing.T) {
	out := filepath.Join(t.TempDir(), "n1.tar")
	entries := []templates.File{
		{Path: "/srv/nats/conf", Mode: 0o750, Owner: "root", Group: "natsd", Kind: "dir"},
		{Path: "/opt/bin/nats-server", Mode: 0o755, Owner: "root", Group: "root", Content: []byte("\x7fELF")},
		{Path: "/srv/nats/conf/server.conf", Mode: 0o640, Owner: "root", Group: "natsd", Content: []byte("port: 4222\n")},
		{Path: "/etc/systemd/system/natsd.service", Mode: 0o644, Content: []byte("[Unit]\n")},
	}
	if err := writeTar(out, entries, time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var got []*tar.Header
	var bodies []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, h)
		bodies = append(bodies, string(b))
	}
	want := []struct {
		name, user, group string
		mode              int64
		dir               bool
	}{
		{"srv/nats/conf/", "root", "natsd", 0o750, true},
		{"opt/bin/nats-server", "root", "root", 0o755, false},
		{"srv/nats/conf/server.conf", "root", "natsd", 0o640, false},
		{"etc/systemd/system/natsd.service", "root", "root", 0o644, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d (no parent directories)", len(got), len(want))
	}
	for i, w := range want {
		h := got[i]
		if h.Name != w.name || h.Uname != w.user || h.Gname != w.group || h.Mode != w.mode || (h.Typeflag == tar.TypeDir) != w.dir {
			t.Errorf("entry %d: %s %s:%s %o dir=%v, want %s %s:%s %o dir=%v", i, h.Name, h.Uname, h.Gname, h.Mode, h.Typeflag == tar.TypeDir, w.name, w.user, w.group, w.mode, w.dir)
		}
		if !w.dir && bodies[i] != string(entries[i].Content) {
			t.Errorf("entry %s holds %q, want %q", h.Name, bodies[i], entries[i].Content)
		}
	}
}
