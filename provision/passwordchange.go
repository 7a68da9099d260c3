package provision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"
)

// A password edited in the secrets file (or a new DCCTL_PASSWORD_<USER>)
// reaches the servers as a new hash in the accounts block: a reload. A
// server takes one password per user name, and a reload re-checks every
// connection, so from that moment clients still on the old password are
// refused (docs/runbooks.md, rotate-passwords). The plan says so, since
// "reload: accounts" alone reads as harmless.

// changedPasswords names the users of both configs whose password (hash)
// differs: users added or removed are not password changes.
func changedPasswords(old, new []byte) []string {
	before, after := userHashes(old), userHashes(new)
	var out []string
	for u, h := range after {
		if was, ok := before[u]; ok && was != h {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// userHashes maps each user of a rendered config's accounts to its
// password (a bcrypt hash); nil for a config it cannot parse.
func userHashes(config []byte) map[string]string {
	m, err := conf.Parse(includeLine.ReplaceAllString(string(config), ""))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	accounts, _ := m["accounts"].(map[string]any)
	for _, a := range accounts {
		acc, _ := a.(map[string]any)
		users, _ := acc["users"].([]any)
		for _, u := range users {
			um, _ := u.(map[string]any)
			name, _ := um["user"].(string)
			pw, _ := um["password"].(string)
			if name != "" {
				out[name] = pw
			}
		}
	}
	return out
}

// passwordNote is the plan's word on users whose password changes on a
// running node: who is refused from when, and the way without a cut
// (rotate-passwords) for passwords from the secrets file. Users whose
// rotation is under way are the runbook's own doing and left out. Never
// the password.
func (pl *planning) passwordNote() {
	p := pl.p
	if !pl.running || !pl.configChanged || (p.Action != ActionReload && p.Action != ActionRestart) {
		return
	}
	var file, env []string
	for _, u := range changedPasswords(pl.configOld, pl.configNew) {
		switch {
		case pl.sec == nil || pl.sec.Rotation(u) != "":
		case pl.sec.FromEnv(u):
			env = append(env, u)
		default:
			file = append(file, u)
		}
	}
	when := "after the reload"
	if p.Action == ActionRestart {
		when = "once it restarts"
	}
	if users := append(append([]string{}, file...), env...); len(users) > 0 {
		who := "user "
		if len(users) > 1 {
			who = "users "
		}
		note := fmt.Sprintf("new password for %s%s: clients still using the old one are refused %s",
			who, strings.Join(users, ", "), when)
		if len(file) > 0 {
			note += fmt.Sprintf("; to change it without cutting them off, put the old one back in %s and run `dcctl runbook rotate-passwords --user %s` (both are accepted until --finish)",
				pl.sec.File(), strings.Join(file, " --user "))
		}
		p.Why = append(p.Why, note)
	}
}
