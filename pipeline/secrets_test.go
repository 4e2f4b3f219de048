package pipeline_test

import (
	"strings"
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestScrubRemovesEveryTokenHandedOut(t *testing.T) {
	const (
		short = "ghs_Ab12Cd34"
		long  = "ghs_Ab12Cd34Ef56Gh78" // contains short: must go whole
		blog  = "blog-deploy-key-9f8e7d"
	)
	s := pipeline.NewSecrets(envOf(map[string]string{
		"EMBARGO_GIT_TOKEN":    short,
		"CARGO_REGISTRY_TOKEN": long,
		"EMBARGO_BLOG_TOKEN":   blog,
	}))
	// Handed out shortest first, the order that would leave a tail if the
	// shorter one were replaced first.
	if v, ok := s.Get("EMBARGO_GIT_TOKEN"); !ok || v != short {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	s.Get("CARGO_REGISTRY_TOKEN")
	if !s.Present("EMBARGO_BLOG_TOKEN") {
		t.Fatal("Present = false for a set variable")
	}

	got := s.Scrub("git: " + short + "; cargo: " + long + "; blog: " + blog + "; again " + short)
	if want := "git: ***; cargo: ***; blog: ***; again ***"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
}

func TestScrubLeavesValuesNeverHandedOut(t *testing.T) {
	s := pipeline.NewSecrets(envOf(map[string]string{"CARGO_REGISTRY_TOKEN": "cio-secret-value"}))
	text := "publishing async-std 1.13.1 to crates-io"
	if got := s.Scrub(text); got != text {
		t.Errorf("Scrub changed ordinary text: %q", got)
	}
	if _, ok := s.Get("UNSET_VARIABLE"); ok {
		t.Error("Get of an unset variable succeeded")
	}
}

func TestScrubRemovesPasswordsInURLs(t *testing.T) {
	s := pipeline.NewSecrets(nil)
	got := s.Scrub("fatal: could not push to https://x-access-token:tok123@github.com/async-rs/async-std.git (403)")
	if strings.Contains(got, "tok123") {
		t.Errorf("Scrub = %q still holds the password", got)
	}
	if want := "https://x-access-token:***@github.com/async-rs/async-std.git"; !strings.Contains(got, want) {
		t.Errorf("Scrub = %q, want it to keep the rest of the URL: %q", got, want)
	}
	var none *pipeline.Secrets
	if got := none.Scrub("https://user:pw@host/x"); strings.Contains(got, "pw@") {
		t.Errorf("Scrub without secrets = %q still holds the password", got)
	}
}

func TestScrubRemovesATokenUsedAsURLUser(t *testing.T) {
	s := pipeline.NewSecrets(nil)
	got := s.Scrub("push to https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/org/repo.git failed; ssh://git@host kept")
	if strings.Contains(got, "ghp_") || !strings.Contains(got, "https://***@github.com") || !strings.Contains(got, "ssh://git@host") {
		t.Errorf("scrubbed: %q", got)
	}
}

// An armored key is a secret of several lines: a line of it quoted alone
// (a parser's error, a program's output) is removed too, and the short
// lines that carry nothing of it are left.
func TestScrubRemovesEachLineOfASecretOfSeveralLines(t *testing.T) {
	const key = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgEZ0Qk4xYJKwYBBAHaRw8BAQdAc2VjcmV0LWtleS1tYXRlcmlhbC1vbmUt\nbGluZS10d28tb2YtdGhlLWtleS1tYXRlcmlhbC1oZXJl\n=Ab1c\n-----END PGP PRIVATE KEY BLOCK-----\n"
	s := pipeline.NewSecrets(envOf(map[string]string{"EMBARGO_SIGNING_KEY": key}))
	if !s.Present("EMBARGO_SIGNING_KEY") {
		t.Fatal("Present = false for a set variable")
	}
	for _, line := range []string{"lFgEZ0Qk4xYJKwYBBAHaRw8BAQdAc2VjcmV0LWtleS1tYXRlcmlhbC1vbmUt", "bGluZS10d28tb2YtdGhlLWtleS1tYXRlcmlhbC1oZXJl"} {
		if got := s.Scrub("openpgp: invalid data at " + line + " (line 3)"); strings.Contains(got, line) {
			t.Errorf("Scrub = %q still holds a line of the key", got)
		}
	}
	if got := s.Scrub("key:\n" + key); strings.Contains(got, "lFgEZ0Qk") || strings.Contains(got, "bGluZS10") {
		t.Errorf("Scrub of the whole key = %q", got)
	}
	if text := "checksum =Ab1c of 2 lines"; s.Scrub(text) != text {
		t.Errorf("Scrub changed ordinary text: %q", s.Scrub(text))
	}
}
