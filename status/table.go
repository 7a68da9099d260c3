package status

import (
	"io"

	pretty "github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// table is one of the report's boxes, drawn by go-pretty in the rounded
// style natscli uses: a centred title, a header row, the rows and an
// optional footer row. natscli is what operators read during an incident,
// so matching its look lets them compare our output with
// `nats server report jetstream` at a glance.
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

func (t *table) write(w io.Writer) {
	tw := pretty.NewWriter()
	tw.SetStyle(pretty.StyleRounded)
	st := tw.Style()
	st.Title.Align = text.AlignCenter
	// Headers and footers as written (go-pretty upper-cases them by default).
	st.Format.Header, st.Format.Footer = text.FormatDefault, text.FormatDefault
	if t.title != "" {
		tw.SetTitle(t.title)
		// A title wider than the columns widens the table rather than wrap:
		// the title's width plus the border and a space on either side.
		st.Size.WidthMin = text.RuneWidthWithoutEscSequences(t.title) + 4
	}
	tw.AppendHeader(row(t.header))
	for _, r := range t.rows {
		tw.AppendRow(row(r))
	}
	if t.footer != nil {
		tw.AppendFooter(row(t.footer))
	}
	io.WriteString(w, tw.Render()+"\n")
}

func row(cells []string) pretty.Row {
	r := make(pretty.Row, len(cells))
	for i, c := range cells {
		r[i] = c
	}
	return r
}
