package provision

// daemonReload makes systemd read a changed unit. `systemctl enable` of a
// unit not yet enabled reloads systemd itself as it creates the links (a
// second reload costs ~0.1 s of each host's CPU); an enabled unit gets an
// explicit reload: not every systemd reloads on an enable that changes
// nothing.
type daemonReload struct{}

func (daemonReload) Title() string              { return "systemctl daemon-reload" }
func (daemonReload) ShouldRun(p *HostPlan) bool { return p.DaemonReload && !p.Enable }
func (daemonReload) Script(*hostRun) string     { return "systemctl daemon-reload" }
