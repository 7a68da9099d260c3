package runbooks

import "strings"

// subjectsCollide reports whether some subject matches both filters: "*"
// matches one token, ">" one or more at the end. Two streams whose subjects
// collide would both capture a message, or (in one domain) the server
// refuses the second.
func subjectsCollide(a, b string) bool {
	at, bt := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		switch {
		case i == len(at) && i == len(bt):
			return true
		case i == len(at) || i == len(bt):
			return false
		case at[i] == ">" || bt[i] == ">":
			return true
		case at[i] == "*" || bt[i] == "*" || at[i] == bt[i]:
			continue
		default:
			return false
		}
	}
}
