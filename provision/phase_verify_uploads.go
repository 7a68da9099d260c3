package provision

import (
	"os"

	"github.com/dcctl/dcctl/remote"
)

// verifyUploads checks on the host that every uploaded file is the one
// sent (its sha256), and sets its owner and mode, before anything runs or
// renames it. Over SFTP the upload ran nothing on the host: this is where
// the host's check happens, in the same script as the install, for every
// file at once (remote.StagedChecks). Their flush to disk starts first, in
// the background (one `sync`, also where the sftp-server could fsync: the
// checks run beside it instead of after it), and flushUploads waits for it
// before any rename. What an SFTP upload already did in the sftp-server
// (remote.Staged: owner and mode set on the open file) starts no program
// here.
type verifyUploads struct{}

func (verifyUploads) Title() string { return "verify the uploaded files" }

func (verifyUploads) ShouldRun(p *HostPlan) bool {
	return stagedBinary(p) != nil || len(stagedText(p)) > 0
}

func (verifyUploads) Script(h *hostRun) string {
	s := remote.StagedChecks(stagedFiles(h)) + " || { rc=$?; rm -f --" + stagedTemps(h.p) + "; return $rc; }"
	if f := unflushed(h); len(f) > 0 {
		s = remote.StagedFlush(f) + "\n" + s
	}
	return s
}

// stagedFiles are the files of h's plan that were uploaded to their
// temporary names, as the host's checks see them.
func stagedFiles(h *hostRun) []remote.File {
	var files []remote.File
	for _, fc := range h.p.Files {
		if fc.ModeOnly {
			continue
		}
		f := fc.File
		files = append(files, remote.File{Path: f.Path, Mode: os.FileMode(f.Mode), Owner: f.Owner, Group: f.Group, SHA256: f.SHA256,
			Settled: h.stagedAs(f.Path).Settled})
	}
	return files
}

// unflushed are the staged files whose upload did not flush them.
func unflushed(h *hostRun) []remote.File {
	var files []remote.File
	for _, f := range stagedFiles(h) {
		if !h.stagedAs(f.Path).Flushed {
			files = append(files, f)
		}
	}
	return files
}
