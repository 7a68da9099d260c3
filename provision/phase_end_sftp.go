package provision

import "context"

// endSFTP ends the host's SFTP session once the install step's file work is
// done. The session would otherwise stay open to the end of the run: at a
// thousand hosts, with a fresh provision's later steps (every first start
// at once, then the waits) still to come, that was ~44 KB a host of buffers
// (its channel's packet buffer, the SFTP client's) that nothing used again.
// A later step that uploads opens a new session.
type endSFTP struct{}

func (endSFTP) Title() string            { return "end the SFTP session" }
func (endSFTP) ShouldRun(*HostPlan) bool { return true }
func (endSFTP) Run(_ context.Context, h *hostRun) error {
	h.c.EndSFTP()
	return nil
}
