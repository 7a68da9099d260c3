// Package words holds the wording every package's output shares, so that
// it reads the same everywhere.
package words

import "strconv"

// Count counts n things in words: "no nodes", "1 node", "2 nodes", for
// output that reads as written rather than "node(s)". thing is singular
// and takes an "s" in the plural.
func Count(n int, thing string) string {
	switch n {
	case 0:
		return "no " + thing + "s"
	case 1:
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
