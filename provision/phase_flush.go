package provision

import "github.com/dcctl/dcctl/remote"

// flushUploads waits for the flush of the uploaded files that
// verifyUploads started in the background, beside the checks, and fails
// the install if it failed: no file is renamed into place before it is on
// disk, so a crash right after cannot leave an empty file where the old
// one was. It ends the checks' script, so that renames over SFTP
// (installFiles) come after it too. A file the sftp-server flushed itself
// (remote.Staged.Flushed) is not flushed again.
type flushUploads struct{}

func (flushUploads) Title() string { return "flush the uploaded files to disk" }

func (flushUploads) ShouldRun(p *HostPlan) bool {
	return stagedBinary(p) != nil || len(stagedText(p)) > 0
}

func (flushUploads) Script(h *hostRun) string {
	f := unflushed(h)
	if len(f) == 0 {
		return ":"
	}
	return remote.StagedFlushed(f) + " || { echo 'could not flush the uploaded files to disk' >&2; rm -f --" + stagedTemps(h.p) + "; return 1; }"
}
