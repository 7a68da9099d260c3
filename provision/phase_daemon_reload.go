package provision

// daemonReload makes systemd read a changed unit. A unit being enabled gets
// its reload from enableUnit, and only when systemd does not already hold
// the file as it is (a reload costs ~0.1 s of each host's CPU); an enabled
// unit gets an explicit reload.
type daemonReload struct{}

func (daemonReload) Title() string              { return "systemctl daemon-reload" }
func (daemonReload) ShouldRun(p *HostPlan) bool { return p.DaemonReload && !p.Enable }
func (daemonReload) Script(*hostRun) string     { return "systemctl daemon-reload" }
