package runbooks

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcctl/dcctl/graceful"
	"github.com/dcctl/dcctl/internal/testcluster"
)

// stopWhen is a runbook's output that asks the run to stop once a line
// containing mark was written: the operator's first Ctrl-C at that moment.
type stopWhen struct {
	mark  string
	stop  *graceful.Stop
	cause error
	mu    sync.Mutex
	buf   bytes.Buffer
}

func (w *stopWhen) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(string(p), w.mark) {
		w.stop.Request(w.cause)
	}
	return len(p), nil
}

// TestRollingRestartStopAtTheGateBefore: the first Ctrl-C while the next
// node waits at the gate before its restart ends the wait at once: the node
// is not restarted, the step is journaled interrupted (not failed), and the
// run ends stopped with the cause. Here the gate cannot pass (the meta
// leader went down after the pre-checks, so the cluster cannot lose another
// node): before, the run waited out the gate's timeout and failed there.
func TestRollingRestartStopAtTheGateBefore(t *testing.T) {
	l := newLab(t, testcluster.Spec{AppAccount: "SHOP", AppUser: "till", SysAccount: "OPS", SysUser: "oncall",
		Clusters: []testcluster.ClusterSpec{{Name: "TRIO", Domain: "trio", Nodes: []testcluster.NodeSpec{{Name: "t-1", DC: "x"}, {Name: "t-2", DC: "x"}, {Name: "t-3", DC: "y"}}}}})
	ctx, st := graceful.New(t.Context())
	cause := errors.New("interrupted (SIGINT)")
	out := &stopWhen{mark: "gate: can the cluster lose", stop: st, cause: cause}
	e := l.env()
	e.Out = out
	e.Timeout = 20 * time.Second
	e.Confirm = func(string) error {
		// after the pre-checks: the last node to restart (the leader) goes down
		l.c.Stop(l.c.MetaLeader("trio"))
		return nil
	}
	err := Run(ctx, e, &RollingRestart{})
	t.Logf("%v\n%s", err, out.buf.String())
	if err == nil || !errors.Is(err, cause) {
		t.Fatalf("Run: %v, want the run stopped with %v", err, cause)
	}
	if calls := l.hosts.Calls(); len(calls) != 0 {
		t.Errorf("unit calls %v after a stop at the first gate: none wanted", calls)
	}
	entries, jerr := ReadJournal(e.Journal.Path())
	if jerr != nil {
		t.Fatal(jerr)
	}
	if !slices.ContainsFunc(entries, func(en Entry) bool {
		return en.Phase == "step" && strings.HasPrefix(en.Name, "restart(") && en.Result == "interrupted"
	}) {
		t.Errorf("no step journaled interrupted: %+v", entries)
	}
	if last := entries[len(entries)-1]; last.Result != "interrupted" {
		t.Errorf("last entry %+v, want the run interrupted", last)
	}
}
