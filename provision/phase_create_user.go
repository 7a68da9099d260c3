package provision

import "fmt"

// createUser creates the system user nats-server runs as.
type createUser struct{}

func (createUser) Title() string              { return "create the system user" }
func (createUser) ShouldRun(p *HostPlan) bool { return p.CreateUser }

func (createUser) Script(h *hostRun) string {
	return fmt.Sprintf("id -u %[1]s >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %[1]s", shellQuote(h.s.Inv.NATS.User))
}

func (createUser) Done(h *hostRun, _ string) { h.say("created system user " + h.s.Inv.NATS.User) }
