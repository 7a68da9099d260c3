package runbooks

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestBackupSettles: the domain is settled first, so the checks name it
// and the stream; an unknown domain refuses the run as its target, before
// any check reaches a server, naming the domains there are.
func TestBackupSettles(t *testing.T) {
	names, err := settledChecks(t, &Backup{Stream: "orders", Domain: "us", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, names, "metaLeader(us)", "streamIsFileBacked(orders)", "baseline(orders)")

	_, err = settledChecks(t, &Backup{Stream: "orders", Domain: "eu", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `domain "eu" (domains: hub, us)`) {
		t.Errorf("unknown domain: %v", err)
	}
	err = Run(context.Background(), inventoryEnv(t), &Backup{Stream: "orders", Domain: "eu", Dir: t.TempDir()})
	var r *RefusedError
	if !errors.As(err, &r) || r.Check != "target" {
		t.Errorf("Run with an unknown domain = %v, want a refusal by its target", err)
	}
}
