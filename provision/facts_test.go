package provision

import (
	"testing"
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

func FuzzParseFacts(f *testing.F) {
	f.Add("os Linux\narch x86_64\nsystemd yes\nuser yes\nfile abc 644 root root /a\ndir - - - - /b\nenabled enabled\nactive active\n")
	f.Add("os Linux\nfile - - - - \n")
	f.Fuzz(func(t *testing.T, s string) {
		facts, err := parseFacts(s)
		if err == nil && facts == nil {
			t.Fatal("nil facts without error")
		}
	})
}
