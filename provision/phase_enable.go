package provision

// enableUnit enables the unit of a node that runs, is a standby, or is
// about to be started for the first time; a node an operator stopped stays
// disabled. For a first install it runs in the install script, not with
// the start: `enable` reloads systemd (~0.1 s of each host's CPU), and the
// first starts, which a new cluster needs close together to elect its meta
// leader at the first try, are then a bare `systemctl start` on every host.
type enableUnit struct{}

func (enableUnit) Title() string { return "enable the unit" }
func (enableUnit) ShouldRun(p *HostPlan) bool {
	return p.Enable && !p.LeftStopped
}
func (enableUnit) Script(h *hostRun) string  { return "systemctl enable " + shellQuote(h.unit()) }
func (enableUnit) Done(h *hostRun, _ string) { h.say("enabled " + h.unit()) }
