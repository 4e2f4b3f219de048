package github

import (
	"slices"
	"strings"
	"testing"

	sandbox "github.com/async-rs/embargo/sandbox/github"
)

const (
	token = "ghp_sandboxTokenNeverPrinted0123"
	repo  = "demo-org/demo"
	id    = "GHSA-4x7m-9pqr-c2vw"
)

func server(t *testing.T) *sandbox.Server {
	t.Helper()
	s, err := sandbox.Start("", sandbox.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddDraft(repo, sandbox.Draft{GHSAID: id, Summary: "Out-of-bounds read", Description: "A read past the end."}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUpdatePublishesAndGitHubsRefusalsNameTheirFields(t *testing.T) {
	s := server(t)
	c := New(s.URL, Options{Token: token, RetryMax: -1})
	_, err := c.Update(t.Context(), repo, id, Update{Severity: "high", CVSSVectorString: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	var e *Error
	if StatusOf(err) != 422 || !asError(err, &e) || !slices.Equal(e.Fields, []string{"severity", "cvss_vector_string"}) {
		t.Fatalf("severity and cvss together: %v, want a 422 naming both fields", err)
	}
	a, err := c.Update(t.Context(), repo, id, Update{
		Vulnerabilities: []Vulnerability{{Package: Package{Ecosystem: "rust", Name: "demo-core"}, VulnerableVersionRange: "< 1.1.1", PatchedVersions: "1.1.1"}},
		Severity:        "high", Credits: []Credit{{Login: "octocat", Type: "finder"}}, State: "published",
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != "published" || a.PublishedAt == nil || len(a.Vulnerabilities) != 1 || a.Vulnerabilities[0].PatchedVersions != "1.1.1" || len(a.Credits) != 1 {
		t.Errorf("after the update: %+v", a)
	}
	if _, err := New(s.URL, Options{Token: "ghp_wrongTokenAlsoNeverPrinted99"}).Advisory(t.Context(), repo, id); StatusOf(err) != 401 || strings.Contains(err.Error(), "ghp_") {
		t.Errorf("a wrong token: %v, want a 401 that does not repeat the token", err)
	}
	if _, err := c.Advisory(t.Context(), repo, "GHSA-aaaa-bbbb-cccc"); StatusOf(err) != 404 {
		t.Errorf("an unknown advisory: %v, want 404", err)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}
