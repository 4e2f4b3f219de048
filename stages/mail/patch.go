package mail

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// Patch is one commit in git format-patch's form, a file to attach.
type Patch struct {
	// Name is format-patch's: "0001-Stop-polling-a-dropped-task.patch".
	Name string
	Data []byte
}

var notSlug = regexp.MustCompile(`[^A-Za-z0-9._]+`)

// FormatPatch makes the patches of commits, in the order given (oldest
// first, as git format-patch numbers them), each against its first
// parent (a root commit against the empty tree): what git format-patch
// writes, which git am applies. The held fixes of a release line are its
// commits past the public branch.
func FormatPatch(commits []*object.Commit) ([]Patch, error) {
	var out []Patch
	for i, c := range commits {
		p, err := formatPatch(c, i+1, len(commits))
		if err != nil {
			return nil, fmt.Errorf("format the patch of commit %s: %w", c.Hash, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func formatPatch(c *object.Commit, n, total int) (Patch, error) {
	tree, err := c.Tree()
	if err != nil {
		return Patch{}, err
	}
	var parent *object.Tree
	if c.NumParents() > 0 {
		pc, err := c.Parent(0)
		if err != nil {
			return Patch{}, err
		}
		if parent, err = pc.Tree(); err != nil {
			return Patch{}, err
		}
	}
	changes, err := object.DiffTree(parent, tree)
	if err != nil {
		return Patch{}, err
	}
	diff, err := changes.Patch()
	if err != nil {
		return Patch{}, err
	}
	subject, body, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	subject = strings.TrimSpace(subject)
	body = strings.TrimSpace(body)

	var b bytes.Buffer
	// The first line is format-patch's own mark, the same date in every
	// patch: it says the file is a patch, not when it was made.
	fmt.Fprintf(&b, "From %s Mon Sep 17 00:00:00 2001\n", c.Hash)
	fmt.Fprintf(&b, "From: %s <%s>\n", c.Author.Name, c.Author.Email)
	fmt.Fprintf(&b, "Date: %s\n", c.Author.When.Format(time.RFC1123Z))
	prefix := "[PATCH]"
	if total > 1 {
		prefix = fmt.Sprintf("[PATCH %d/%d]", n, total)
	}
	fmt.Fprintf(&b, "Subject: %s %s\n\n", prefix, subject)
	if body != "" {
		b.WriteString(body + "\n")
	}
	b.WriteString("---\n")
	stats := diff.Stats()
	b.WriteString(stats.String())
	adds, dels := 0, 0
	for _, s := range stats {
		adds += s.Addition
		dels += s.Deletion
	}
	// As git's summary: a count that is zero is left out.
	fmt.Fprintf(&b, " %d file%s changed", len(stats), plural(len(stats)))
	if adds > 0 {
		fmt.Fprintf(&b, ", %d insertion%s(+)", adds, plural(adds))
	}
	if dels > 0 {
		fmt.Fprintf(&b, ", %d deletion%s(-)", dels, plural(dels))
	}
	b.WriteString("\n\n")
	if err := diff.Encode(&b); err != nil {
		return Patch{}, err
	}
	b.WriteString("-- \nembargo\n\n")
	slug := strings.Trim(notSlug.ReplaceAllString(subject, "-"), "-.")
	if len(slug) > 52 {
		slug = strings.TrimRight(slug[:52], "-.")
	}
	return Patch{Name: fmt.Sprintf("%04d-%s.patch", n, slug), Data: b.Bytes()}, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
