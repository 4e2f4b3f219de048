package pipeline_test

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// screen is as much of a terminal as the live line meets: text wraps at
// the width, a resize rewraps the rows (as tmux, VTE and iTerm2 do, the
// cursor staying with the text it follows), and the output understands
// \r, \n (as a terminal's line discipline does, with a carriage return),
// ESC[K, ESC[J and ESC[nA; colours are ignored. It shows what an
// operator sees: every row of the scrollback.
type screen struct {
	width int
	rows  [][]rune
	// wrapped[i] is true when row i continues row i-1 (the text wrapped).
	wrapped []bool
	x, y    int
}

func newScreen(width int) *screen {
	return &screen{width: width, rows: [][]rune{nil}, wrapped: []bool{false}}
}

func (s *screen) Write(p []byte) (int, error) {
	text := string(p)
	for i := 0; i < len(text); {
		if text[i] == '\033' && i+1 < len(text) && text[i+1] == '[' {
			j := i + 2
			for j < len(text) && (text[j] >= '0' && text[j] <= '9' || text[j] == ';') {
				j++
			}
			n, err := strconv.Atoi(text[i+2 : j])
			if err != nil {
				n = 1
			}
			switch text[j] {
			case 'K':
				s.clearRow()
			case 'J':
				s.clearRow()
				s.rows, s.wrapped = s.rows[:s.y+1], s.wrapped[:s.y+1]
			case 'A':
				s.y = max(s.y-n, 0)
			}
			i = j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch r {
		case '\r':
			s.x = 0
		case '\n':
			s.x = 0
			s.down(false)
		default:
			if s.x >= s.width {
				s.x = 0
				s.down(true)
			}
			row := s.rows[s.y]
			for len(row) <= s.x {
				row = append(row, ' ')
			}
			row[s.x] = r
			s.rows[s.y] = row
			s.x++
		}
	}
	return len(p), nil
}

func (s *screen) clearRow() {
	if len(s.rows[s.y]) > s.x {
		s.rows[s.y] = s.rows[s.y][:s.x]
	}
}

func (s *screen) down(wrap bool) {
	s.y++
	if s.y == len(s.rows) {
		s.rows, s.wrapped = append(s.rows, nil), append(s.wrapped, wrap)
	}
}

// resize rewraps every line at width; the cursor stays at the same place
// in its line's text.
func (s *screen) resize(width int) {
	var lines [][]rune
	cursorLine, cursorAt := 0, 0
	for i, row := range s.rows {
		if i == 0 || !s.wrapped[i] {
			lines = append(lines, nil)
		}
		if i == s.y {
			cursorLine, cursorAt = len(lines)-1, len(lines[len(lines)-1])+s.x
		}
		last := len(lines) - 1
		if i+1 < len(s.rows) && s.wrapped[i+1] {
			for len(row) < s.width {
				row = append(row, ' ')
			}
		}
		lines[last] = append(lines[last], row...)
	}
	s.width, s.rows, s.wrapped = width, nil, nil
	for i, line := range lines {
		first := len(s.rows)
		for start := 0; ; start += width {
			end := min(start+width, len(line))
			s.rows, s.wrapped = append(s.rows, line[start:end]), append(s.wrapped, start > 0)
			if end >= len(line) {
				break
			}
		}
		if i == cursorLine {
			s.y, s.x = first+cursorAt/width, cursorAt%width
			if cursorAt > 0 && cursorAt%width == 0 && cursorAt >= len(line) {
				s.y, s.x = first+cursorAt/width-1, width // at the end of a full row
			}
			for s.y >= len(s.rows) {
				s.rows, s.wrapped = append(s.rows, nil), append(s.wrapped, true)
			}
		}
	}
}

// lines are the rows of the scrollback, trailing blanks removed.
func (s *screen) lines() []string {
	out := make([]string, len(s.rows))
	for i, row := range s.rows {
		out[i] = strings.TrimRight(string(row), " ")
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
