package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// Finding is one problem a check found, with the fix where there is one.
type Finding struct {
	Subject string // what it is about: "release 1.13", "source.token_env"
	Msg     string
	Fix     string
}

func (f Finding) String() string {
	s := f.Subject + ": " + f.Msg
	if f.Fix != "" {
		s += "\n      fix: " + f.Fix
	}
	return s
}

// FindingsError lists every problem a stage found, not just the first.
type FindingsError struct {
	Findings []Finding
}

func (e *FindingsError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  - " + f.String()
	}
	noun := "problems"
	if len(lines) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("%d %s:\n%s", len(lines), noun, strings.Join(lines, "\n"))
}

// AsFindings returns the findings of err, if it carries any.
func AsFindings(err error) []Finding {
	var fe *FindingsError
	if errors.As(err, &fe) {
		return fe.Findings
	}
	return nil
}
