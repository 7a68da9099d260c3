package provision

import (
	"fmt"
	"strings"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/templates"
	"github.com/dcctl/dcctl/words"
)

// CheckNewPasswords refuses passwords that PrepareSecrets generated when a
// server may already run with others: rolling them out would lock every
// client and leaf link out. plans must cover every node of the inventory.
// A new secrets file is allowed only when no host has a config from dcctl
// (no config file, no leafnode remotes file, no applied marker) and every
// host could be asked; a user new to an existing file only when no host's
// config names that user yet.
func CheckNewPasswords(inv *inventory.Inventory, sec *inventory.Secrets, plans []*HostPlan) error {
	gen := sec.Generated()
	if len(gen) == 0 {
		return nil
	}
	paths := templates.PathsFor(inv)
	var bad, unasked []string
	for _, p := range plans {
		name := p.Node.Name
		if p.Facts == nil {
			// Without a file, a host nobody can ask may run with the lost
			// passwords. A user added to an existing file is new to every
			// host that took the file's users: the others stay unchanged
			// and get it on the run that reaches them.
			if !sec.FileExists() {
				unasked = append(unasked, p.notChecked())
			}
			continue
		}
		if !sec.FileExists() {
			for _, f := range []string{paths.Config, paths.LeafRemotes} {
				if p.Facts.Files[f].Exists {
					bad = append(bad, fmt.Sprintf("%s already has %s", name, f))
				}
			}
			if len(p.Facts.Applied) > 0 && !p.Facts.Files[paths.Config].Exists {
				bad = append(bad, name+" has dcctl's applied marker")
			}
			continue
		}
		for _, fc := range p.Files {
			if fc.File.Path != paths.Config || fc.OldConfig == nil {
				continue
			}
			for _, u := range gen {
				if strings.Contains(string(fc.OldConfig), `user: "`+u+`"`) {
					bad = append(bad, fmt.Sprintf("%s already has user %s in %s", name, u, paths.Config))
				}
			}
		}
	}
	if len(bad) == 0 && len(unasked) == 0 {
		return nil
	}
	return &NewPasswordsRefusedError{Missing: &inventory.MissingSecretsError{File: sec.File(), FileMissing: !sec.FileExists(), Users: gen}, Hosts: bad, Unasked: unasked}
}

// NewPasswordsRefusedError is CheckNewPasswords' refusal: which hosts
// already run with passwords dcctl does not have, and how to recover.
type NewPasswordsRefusedError struct {
	Missing *inventory.MissingSecretsError
	Hosts   []string // hosts that have a config from dcctl
	Unasked []string // hosts that could not be asked
}

func (e *NewPasswordsRefusedError) Error() string {
	if len(e.Hosts) == 0 {
		// No host said it has a config: most often a first provision that
		// cannot log in yet, where the recovery of a lost file would send
		// the operator after a backup that never existed.
		return fmt.Sprintf("not generating passwords yet: %s could not be asked whether they already run with a config from dcctl (%s). Make every host reachable and run again; only if they do run with passwords whose secrets file is lost: %s",
			words.Count(len(e.Unasked), "host"), strings.Join(e.Unasked, "; "), e.Missing.Error())
	}
	return fmt.Sprintf("refusing to generate new passwords: servers already run with passwords dcctl does not have (%s). %s",
		strings.Join(append(append([]string{}, e.Hosts...), e.Unasked...), "; "), e.Missing.Error())
}

func (e *NewPasswordsRefusedError) Unwrap() error { return e.Missing }
