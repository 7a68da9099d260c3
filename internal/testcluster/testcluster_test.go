package testcluster_test

import (
	"testing"

	"github.com/dcctl/dcctl/internal/testcluster"
)

func TestSeedBoots(t *testing.T) {
	c := testcluster.Start(t, testcluster.WriteInventory(t, testcluster.Seed()))
	for _, d := range []string{"hub", "us", "emea"} {
		t.Logf("%s leader %s", d, c.MetaLeader(d))
	}
}
