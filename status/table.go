package status

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table draws a box like natscli's reports (go-pretty's rounded style):
// a centred title, a header row, the rows and an optional footer row.
// natscli is what operators read during an incident, so matching its look
// lets them compare our output with `nats server report jetstream` at a
// glance. A small renderer of our own saves a dependency for four tables.
type table struct {
	title  string
	header []string
	rows   [][]string
	footer []string
}

func newTable(title string, header ...string) *table {
	return &table{title: title, header: header}
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func width(s string) int { return utf8.RuneCountInString(s) }

func (t *table) write(w io.Writer) {
	cols := len(t.header)
	widths := make([]int, cols)
	measure := func(r []string) {
		for i := 0; i < cols && i < len(r); i++ {
			if n := width(r[i]); n > widths[i] {
				widths[i] = n
			}
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	if t.footer != nil {
		measure(t.footer)
	}
	// Inner width: each column plus one space either side, plus the
	// separators between columns.
	inner := cols - 1
	for _, n := range widths {
		inner += n + 2
	}
	if tw := width(t.title) + 2; tw > inner {
		widths[cols-1] += tw - inner
		inner = tw
	}

	var b strings.Builder
	rule := func(left, mid, right string) {
		b.WriteString(left)
		for i, n := range widths {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", n+2))
		}
		b.WriteString(right + "\n")
	}
	line := func(r []string) {
		b.WriteString("│")
		for i, n := range widths {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", n-width(c)) + " │")
		}
		b.WriteString("\n")
	}
	if t.title != "" {
		b.WriteString("╭" + strings.Repeat("─", inner) + "╮\n")
		pad := inner - width(t.title)
		b.WriteString("│" + strings.Repeat(" ", pad/2) + t.title + strings.Repeat(" ", pad-pad/2) + "│\n")
		rule("├", "┬", "┤")
	} else {
		rule("╭", "┬", "╮")
	}
	line(t.header)
	rule("├", "┼", "┤")
	for _, r := range t.rows {
		line(r)
	}
	if t.footer != nil {
		rule("├", "┼", "┤")
		line(t.footer)
	}
	rule("╰", "┴", "╯")
	io.WriteString(w, b.String())
}
