package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/sftp"
)

// A simulated host serves the sftp subsystem as OpenSSH does, with a
// program run for the session: this one (sftpEnv set), chrooted into the
// host's tree, serving pkg/sftp's server on its stdin and stdout. So
// transfers over SFTP write real files in the tree, with the server's own
// semantics, as uploads over exec do through the shell.

// sftpEnv, set to 1, makes the program an sftp-server.
const sftpEnv = "DCCTL_SIM_SFTP_SERVER"

// sftpServerPath is where the sftp-server is in every host's tree.
const sftpServerPath = stubDir + "/sftp-server"

// serveSFTP serves SFTP on stdin and stdout until the client ends it.
func serveSFTP() int {
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{os.Stdin, os.Stdout})
	if err == nil {
		err = srv.Serve()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "sftp-server:", err)
		return 1
	}
	return 0
}

// sftpServerBinary copies this program into the work directory, from where
// every host's tree gets a hard link to it (same file system, no copies).
func sftpServerBinary(dir string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bin", "sftp-server")
	return out, os.WriteFile(out, b, 0o755)
}
