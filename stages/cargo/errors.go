package cargo

import (
	"regexp"
	"strings"
)

// What a failed cargo said, cut to what went wrong.

// commandLine is cargo's arguments as an error shows them: without the
// --config pairs embargo adds (the registry's plumbing), unless verbose.
func commandLine(args []string, verbose bool) string {
	if verbose {
		return strings.Join(args, " ")
	}
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--config" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return strings.Join(out, " ")
}

// progressRE matches cargo's progress lines ("   Compiling demo v1.0.0
// (...)"): right-aligned verbs, not what went wrong.
var progressRE = regexp.MustCompile(`^\s*(Adding|Archiving|Blocking|Checking|Compiling|Downloaded|Downloading|Finished|Fresh|Locking|Packaged|Packaging|Published|Removing|Running|Unpacking|Updating|Uploaded|Uploading|Verifying|Waiting|Warning|Documenting)\s`)

// errorLines is what a failed cargo said went wrong: from its first error
// on, without progress lines, and of a "Caused by:" chain only the last
// cause, the one that names the reason.
func errorLines(out string) string {
	var kept []string
	var cause []string // the latest "Caused by:" block
	inCause, started := false, false
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !started && !strings.HasPrefix(line, "error") {
			continue
		}
		started = true
		switch {
		case progressRE.MatchString(line):
		case strings.TrimSpace(line) == "Caused by:":
			inCause, cause = true, nil
		case inCause && (strings.HasPrefix(line, " ") || strings.TrimSpace(line) == ""):
			if strings.TrimSpace(line) != "" {
				cause = append(cause, "  caused by: "+strings.TrimSpace(line))
			}
		default:
			if inCause {
				kept, cause, inCause = append(kept, cause...), nil, false
			}
			if strings.TrimSpace(line) != "" || len(kept) > 0 && kept[len(kept)-1] != "" {
				kept = append(kept, line)
			}
		}
	}
	kept = append(kept, cause...)
	return strings.TrimRight(strings.Join(kept, "\n"), "\n")
}
