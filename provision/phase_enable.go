package provision

// enableUnit enables the unit of a node that runs (or is a standby) but is
// not enabled; a first install is enabled as it starts (startUnit), a node
// an operator stopped stays disabled.
type enableUnit struct{}

func (enableUnit) Title() string { return "enable the unit" }

func (enableUnit) ShouldRun(p *HostPlan) bool {
	return p.Enable && p.Action != ActionStart && !p.LeftStopped
}

func (enableUnit) Script(h *hostRun) string  { return "systemctl enable " + shellQuote(h.unit()) }
func (enableUnit) Done(h *hostRun, _ string) { h.say("enabled " + h.unit()) }
