package pki

import (
	"testing"
	"time"
)

// TestRenewalBegunInTheSecondOfIssue: certificates issued in the very
// second a renewal begins are still to renew (certificate times count whole
// seconds: judged by time alone, every node looked renewed, and the runbook
// renewed none); a node counts as renewed once it holds another
// certificate, also when read back from the files by a later run.
func TestRenewalBegunInTheSecondOfIssue(t *testing.T) {
	inv := loadInv(t, twoNodes)
	now := time.Now().Truncate(time.Second).Add(100 * time.Millisecond)
	m, err := Prepare(inv, now)
	if err == nil {
		err = m.Save()
	}
	if err != nil {
		t.Fatal(err)
	}
	rot, err := m.BeginRotation(now.Add(500 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range inv.Nodes {
		if m.Renewed(n.Name, rot) {
			t.Errorf("%s counts as renewed before any renewal", n.Name)
		}
	}
	first := inv.Nodes[0]
	if err := m.Renew(first, now.Add(600*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(inv)
	if err != nil {
		t.Fatal(err)
	}
	rot, err = again.Rotation()
	if err != nil || rot == nil {
		t.Fatalf("rotation read back: %v %v", rot, err)
	}
	for _, n := range inv.Nodes {
		if got, want := again.Renewed(n.Name, rot), n.Name == first.Name; got != want {
			t.Errorf("%s: renewed %v, want %v", n.Name, got, want)
		}
	}
}
