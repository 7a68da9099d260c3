package provision

import "fmt"

// plural counts n things in words: "no nodes", "1 node", "2 nodes", for
// output that reads as written rather than "node(s)".
func plural(n int, thing string) string {
	switch n {
	case 0:
		return "no " + thing + "s"
	case 1:
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
