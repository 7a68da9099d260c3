package runbooks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcctl/dcctl/internal/testcluster"
	"github.com/dcctl/dcctl/internal/testwait"
)

// TestPlacementShortfallRefusedAtOnce: with every server of the domain
// online and current, too few servers tagged TAG (or too few servers at
// all) for the replicas is refused at once: the count cannot grow in
// seconds. The session's requests time out after 2 minutes, so its settle
// window is over 4 minutes, longer than the check is given here: a check
// that waited the window out ends by the deadline instead of refusing.
// With a tagged server down, the check still lets it come back.
func TestPlacementShortfallRefusedAtOnce(t *testing.T) {
	s := testcluster.Other()
	s.Clusters = s.Clusters[:1]
	hub := s.Clusters[0]
	far := hub.Nodes[len(hub.Nodes)-1].DC // 2 of the 5 servers
	l := newLabTimeout(t, s, 2*time.Minute)
	e := l.env()
	d := hub.Domain
	check := func(c Check) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), testwait.Converge)
		defer cancel()
		err := c.Run(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s waited until its deadline instead of refusing: %v", c.Name, err)
		}
		return err
	}
	three, six := 3, 6
	if err := check(enoughTaggedServers(e, d, []string{"dc:" + far}, &three)); err == nil || !strings.Contains(err.Error(), "2 online servers (") || !strings.Contains(err.Error(), "3 replicas need 3") {
		t.Errorf("3 replicas on the 2 servers tagged dc:%s: %v", far, err)
	}
	if err := check(enoughTaggedServers(e, d, []string{"dc:nowhere"}, &three)); err == nil || !strings.Contains(err.Error(), "no online server tagged dc:nowhere") {
		t.Errorf("a tag no server carries: %v", err)
	}
	if err := check(enoughServers(e, d, &six)); err == nil || !strings.Contains(err.Error(), "has 5 online servers") {
		t.Errorf("6 replicas on 5 servers: %v", err)
	}

	// A tagged server that is down may be restarting: the check waits for
	// it (within the settle window) and passes once it is back.
	down := hub.Nodes[len(hub.Nodes)-1].Name
	l.c.Stop(down)
	back := make(chan struct{})
	go func() {
		defer close(back)
		l.c.Start(down)
	}()
	two := 2
	if err := check(enoughTaggedServers(e, d, []string{"dc:" + far}, &two)); err != nil {
		t.Errorf("2 replicas on dc:%s while %s restarts: %v", far, down, err)
	}
	<-back
}
