package words

import "testing"

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "no nodes"}, {1, "1 node"}, {2, "2 nodes"}, {12, "12 nodes"}} {
		if got := Count(c.n, "node"); got != c.want {
			t.Errorf("Count(%d, node) = %q, want %q", c.n, got, c.want)
		}
	}
}
