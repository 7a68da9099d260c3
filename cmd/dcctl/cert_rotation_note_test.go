package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
)

// TestCertRotationNote: status reminds of a rotation left under way, with
// what to do at each stage, and says nothing otherwise.
func TestCertRotationNote(t *testing.T) {
	inv, err := inventory.Load(copyExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if note := certRotationNote(inv); note != "" {
		t.Errorf("no rotation: %q", note)
	}
	m, err := pki.Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeginRollover(inv, time.Now()); err != nil {
		t.Fatal(err)
	}
	if note := certRotationNote(inv); !strings.Contains(note, pki.BundlePath(inv.File)) || !strings.Contains(note, "rotate-certs --finish") {
		t.Errorf("trust-both: %q", note)
	}
	if err := m.Promote(); err != nil {
		t.Fatal(err)
	}
	if note := certRotationNote(inv); !strings.Contains(note, "finishing") || !strings.Contains(note, "rotate-certs --finish") {
		t.Errorf("new-ca-issues: %q", note)
	}
}
