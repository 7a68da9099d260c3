package status

import (
	"strings"
	"testing"
)

// TestTableLayout: natscli's rounded box; a title wider than the columns
// widens the table (go-pretty shares the room out among the columns) instead
// of wrapping; headers keep their case; cells are
// measured in runes, not bytes.
func TestTableLayout(t *testing.T) {
	tb := newTable("A title wider than the columns", "Name", "Lag")
	tb.add("nöde-1*", "0")
	tb.add("n2", "12")
	tb.footer = []string{"", "12"}
	var b strings.Builder
	tb.write(&b)
	want := `╭────────────────────────────────╮
│ A title wider than the columns │
├──────────────────┬─────────────┤
│ Name             │ Lag         │
├──────────────────┼─────────────┤
│ nöde-1*          │ 0           │
│ n2               │ 12          │
├──────────────────┼─────────────┤
│                  │ 12          │
╰──────────────────┴─────────────╯
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
