package cli

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/async-rs/embargo/pipeline"
)

// table lays out rows in columns aligned on what a terminal shows: a
// cell's colour takes no width (tabwriter would count its escape codes).
// The last cell of a row is not padded.
type table struct {
	rows [][]cell
}

// cell is a table's cell: its text, painted in color ("" for none).
type cell struct {
	text, color string
}

func (t *table) row(cells ...cell) { t.rows = append(t.rows, cells) }

// gap is the space between two columns.
const gap = "  "

func (t *table) write(w io.Writer) {
	var widths []int
	for _, row := range t.rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, row := range t.rows {
		var b strings.Builder
		for i, c := range row {
			b.WriteString(pipeline.Paint(c.color, c.text))
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)) + gap)
			}
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	}
}
