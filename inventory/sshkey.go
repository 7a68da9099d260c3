package inventory

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
)

// sshKeyProblem says why path, a readable file, cannot sign an SSH login, or
// nil. Existing is not enough: the usual slip is pointing ssh_key at the
// .pub file, which every connection then fails on, host after host.
func sshKeyProblem(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = ssh.ParsePrivateKey(data)
	var passphrase *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &passphrase):
		return fmt.Errorf("%s is protected by a passphrase and dcctl does not prompt for one: load it into ssh-agent (ssh-add %s)", path, path)
	}
	if _, _, _, _, perr := ssh.ParseAuthorizedKey(data); perr == nil {
		return fmt.Errorf("%s is a public key: ssh_key names the private key file", path)
	}
	return fmt.Errorf("%s is not an SSH private key: %v", path, err)
}
