package cargo

import (
	"strings"
	"testing"
)

// A failed cargo's error holds what went wrong, not its progress: its
// error lines with the compiler's pointer to the code, and of a "Caused
// by:" chain the last cause, which names the reason.
func TestErrorLinesKeepWhatWentWrong(t *testing.T) {
	out := `   Packaging demo-core v1.13.1 (/w/demo-core)
    Updating ` + "`embargo-target`" + ` index
    Packaged 5 files, 1.8KiB (1.2KiB compressed)
   Verifying demo-core v1.13.1 (/w/demo-core)
   Compiling demo-core v1.13.1 (/w/target/package/demo-core-1.13.1)
error: this file contains an unclosed delimiter
  --> src/lib.rs:23:14
   |
23 | fn broken( {
   |          - ^

error: failed to publish demo to registry at http://127.0.0.1:1/

Caused by:
  failed to get a 200 OK response

Caused by:
  the remote server responded with an error (status 503 Service Unavailable): down for maintenance
`
	got := errorLines(out)
	for _, want := range []string{"error: this file contains an unclosed delimiter", "  --> src/lib.rs:23:14", "23 | fn broken( {",
		"error: failed to publish demo", "  caused by: the remote server responded with an error (status 503 Service Unavailable): down for maintenance"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	for _, noise := range []string{"Packaging", "Compiling", "Updating", "failed to get a 200 OK", "Caused by:"} {
		if strings.Contains(got, noise) {
			t.Errorf("keeps %q:\n%s", noise, got)
		}
	}
	if got := commandLine([]string{"--config", `source.crates-io.replace-with="x"`, "package", "--locked", "-p", "demo"}, false); got != "package --locked -p demo" {
		t.Errorf("command line %q, want the --config pairs left out", got)
	}
}
