package provision

import (
	"os"
	"strings"

	"github.com/dcctl/dcctl/remote"
)

// verifyUploads checks on the host that every uploaded file is the one
// sent (its sha256), and sets its owner and mode, before anything runs or
// renames it. Over SFTP the upload ran nothing on the host: this is where
// the host's check happens, in the same script as the install.
type verifyUploads struct{}

func (verifyUploads) Title() string { return "verify the uploaded files" }

func (verifyUploads) ShouldRun(p *HostPlan) bool {
	return stagedBinary(p) != nil || len(stagedText(p)) > 0
}

func (verifyUploads) Script(h *hostRun) string {
	var b strings.Builder
	for _, fc := range h.p.Files {
		if fc.ModeOnly {
			continue
		}
		f := fc.File
		rf := remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group, SHA256: f.SHA256}
		b.WriteString(remote.StagedCheck(rf) + " || { rc=$?; rm -f --" + stagedTemps(h.p) + "; return $rc; }\n")
	}
	return b.String()
}
