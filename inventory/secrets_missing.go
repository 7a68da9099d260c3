package inventory

import (
	"fmt"
	"strings"
)

// MissingSecretsError says that some users have no password: the secrets
// file is missing, or it lacks them, and no DCCTL_PASSWORD_<USER> is set.
// dcctl never fills the gap with new passwords on its own: servers that run
// with the old ones would then lock every client and leaf link out.
type MissingSecretsError struct {
	File        string
	FileMissing bool
	Users       []string
}

func (e *MissingSecretsError) Error() string {
	var b strings.Builder
	if e.FileMissing {
		fmt.Fprintf(&b, "secrets file %s does not exist", e.File)
	} else {
		fmt.Fprintf(&b, "secrets file %s has no password for user %s", e.File, strings.Join(e.Users, ", "))
	}
	b.WriteString(" and dcctl does not invent passwords that servers may not know. Recover with one of: ")
	fmt.Fprintf(&b, "restore the file from a backup (mode 0600); or set ")
	var envs []string
	for _, u := range e.Users {
		envs = append(envs, EnvVar(u))
	}
	b.WriteString(strings.Join(envs, ", "))
	b.WriteString(" to the passwords the servers use; or, if they are lost, roll out new ones on purpose with `dcctl runbook rotate-passwords --replace-lost` (every client then needs the new passwords)")
	if e.FileMissing {
		b.WriteString(". Only `dcctl provision` creates a secrets file, for a deployment where no host has a dcctl config yet")
	}
	return b.String()
}
