package templates

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// mailWidth is the longest line of the announcement, as mailing lists expect.
const mailWidth = 72

var (
	headerRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*: `)
	// listRE matches what starts a line and must stay in front of it:
	// indentation, quote marks and a list marker.
	listRE = regexp.MustCompile(`^(\s*(?:>\s?)*\s*(?:[-*+]\s+|\d+[.)]\s+)?)`)
)

// wrapMail breaks every line longer than width at spaces. Header lines (the
// first block, "Subject: ...") are folded with a leading space, as RFC 5322
// unfolds them. A paragraph of plain prose with a line too long is reflowed
// as a whole, as Markdown reads it anyway; any other line is wrapped on its
// own, its continuation keeping its indentation, quote marks and list
// indentation. A URL longer than a line stands alone on its line; any other
// word that long is split.
func wrapMail(b []byte, width int) []byte {
	lines := strings.Split(string(b), "\n")
	var out []string
	inHeader, inFence := true, false
	long := func(l string) bool { return utf8.RuneCountInString(l) > width }
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case line == "":
			inHeader = false
			out = append(out, line)
			continue
		case inHeader && headerRE.MatchString(line):
			if long(line) {
				out = append(out, wrapLine(line, "", " ", width)...)
			} else {
				out = append(out, line)
			}
			continue
		case isFence(line):
			inFence = !inFence
		case !inFence && isProse(line):
			j := i
			for j+1 < len(lines) && isProse(lines[j+1]) {
				j++
			}
			para := lines[i : j+1]
			if slices.ContainsFunc(para, long) {
				out = append(out, wrapLine(strings.Join(para, " "), "", "", width)...)
			} else {
				out = append(out, para...)
			}
			i = j
			continue
		}
		if !long(line) {
			out = append(out, line)
			continue
		}
		prefix := listRE.FindString(line)
		out = append(out, wrapLine(line[len(prefix):], prefix, continuation(prefix), width)...)
	}
	return []byte(strings.Join(out, "\n"))
}

func isFence(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")
}

// isProse: a line of a plain paragraph, which may be joined with its
// neighbours: not blank, not indented, not a "Field: value" line, list
// item, quote, heading, table row or fence, and not ending in a Markdown
// hard break.
func isProse(line string) bool {
	if line == "" || line[0] == ' ' || line[0] == '\t' || isFence(line) || strings.HasSuffix(line, "  ") || headerRE.MatchString(line) {
		return false
	}
	if strings.ContainsRune("#|>", rune(line[0])) {
		return false
	}
	return listRE.FindString(line) == ""
}

// continuation turns a line's prefix into the one its wrapped lines carry:
// quote marks stay, list markers become spaces.
func continuation(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		if r == '>' || r == ' ' || r == '\t' {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func wrapLine(text, first, cont string, width int) []string {
	var out []string
	cur := first
	empty := true // cur holds no word yet
	flush := func() {
		out = append(out, strings.TrimRight(cur, " "))
		cur, empty = cont, true
	}
	for _, w := range strings.Fields(text) {
		n := utf8.RuneCountInString(w)
		room := width - utf8.RuneCountInString(cur)
		if !empty {
			room--
		}
		if n <= room {
			if !empty {
				cur += " "
			}
			cur += w
			empty = false
			continue
		}
		if !empty {
			flush()
		}
		avail := width - utf8.RuneCountInString(cur)
		if n <= avail || strings.Contains(w, "://") || avail <= 0 {
			cur += w
			empty = false
			continue
		}
		// A word too long for any line: split it.
		rs := []rune(w)
		for len(rs) > avail {
			cur += string(rs[:avail])
			empty = false
			flush()
			rs = rs[avail:]
		}
		cur += string(rs)
		empty = false
	}
	if !empty || len(out) == 0 {
		out = append(out, strings.TrimRight(cur, " "))
	}
	return out
}
