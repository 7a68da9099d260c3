package inventory

import (
	"fmt"
	"strings"
)

// PasswordSource says where user's password (the one Password returns)
// comes from, for an error that asks the operator to check it: the
// environment variable, or the key in the secrets file. Never the password.
func (s *Secrets) PasswordSource(user string) string {
	u := s.users[user]
	if u.fromEnv {
		return EnvVar(user) + " in the environment"
	}
	key := user
	if key == "" || strings.Trim(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		// not a bare TOML key
		key = fmt.Sprintf("%q", key)
	}
	field := "password"
	if u.stage.switched() {
		field = "next_password" // a rotation under way switched the name over
	}
	return fmt.Sprintf("%s of [users.%s] in %s", field, key, s.file)
}
