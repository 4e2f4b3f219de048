package github

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	testToken = "sandbox-gh-0c9f2e71"
	testRepo  = "demo-org/demo"
	testID    = "GHSA-4x7m-9pqr-c2vw"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s, err := Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddDraft(testRepo, Draft{GHSAID: testID, Summary: "Out-of-bounds read", Description: "A read past the end.", CVEID: "CVE-2026-00001"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// call makes a request as GitHub's clients do and decodes the JSON answer.
func call(t *testing.T, s *Server, method, path, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

const path = "/repos/" + testRepo + "/security-advisories/" + testID

func TestADraftIsReadWithTheTokenAndHiddenWithout(t *testing.T) {
	s := start(t, Options{})
	code, a, _ := call(t, s, "GET", path, testToken, "")
	if code != 200 || a["state"] != "draft" || a["cve_id"] != "CVE-2026-00001" || a["summary"] != "Out-of-bounds read" || a["ghsa_id"] != testID {
		t.Fatalf("GET with the token: %d %v", code, a)
	}
	if !strings.HasSuffix(a["html_url"].(string), "/demo-org/demo/security/advisories/"+testID) {
		t.Errorf("html_url = %v", a["html_url"])
	}
	if code, _, _ := call(t, s, "GET", path, "", ""); code != 404 {
		t.Errorf("GET of a draft without a token: %d, want 404 (GitHub hides what the caller cannot see)", code)
	}
	if code, e, _ := call(t, s, "GET", path, "wrong", ""); code != 401 || e["message"] != "Bad credentials" {
		t.Errorf("GET with an unknown token: %d %v, want 401 Bad credentials", code, e)
	}
	if code, _, _ := call(t, s, "GET", "/repos/"+testRepo+"/security-advisories/GHSA-aaaa-bbbb-cccc", testToken, ""); code != 404 {
		t.Errorf("GET of an unknown advisory: %d, want 404", code)
	}
	if code, _, _ := call(t, s, "PATCH", path, "", `{"state":"published"}`); code != 401 {
		t.Errorf("PATCH without a token: %d, want 401", code)
	}
}

const publish = `{"vulnerabilities":[{"package":{"ecosystem":"rust","name":"demo-core"},"vulnerable_version_range":">= 1.1.0, < 1.1.1","patched_versions":"1.1.1"}],"severity":"high","state":"published"}`

func TestPublishingADraftSetsItsVulnerabilitiesAndPublishedAtOnTheServersClock(t *testing.T) {
	s := start(t, Options{ClockOffset: time.Hour})
	code, a, h := call(t, s, "PATCH", path, testToken, publish)
	if code != 200 {
		t.Fatalf("PATCH: %d %v", code, a)
	}
	if a["state"] != "published" || a["severity"] != "high" {
		t.Errorf("after publishing: state %v severity %v", a["state"], a["severity"])
	}
	vulns := a["vulnerabilities"].([]any)
	if len(vulns) != 1 || vulns[0].(map[string]any)["patched_versions"] != "1.1.1" {
		t.Errorf("vulnerabilities = %v", vulns)
	}
	at, err := time.Parse(time.RFC3339, a["published_at"].(string))
	if err != nil || time.Until(at) < 59*time.Minute {
		t.Errorf("published_at = %v, want an hour ahead of this machine (the server's clock)", a["published_at"])
	}
	date, _ := http.ParseTime(h.Get("Date"))
	if time.Until(date) < 59*time.Minute {
		t.Errorf("Date = %s, want the server's clock, an hour ahead", h.Get("Date"))
	}
	// A published advisory is public, and never goes back to draft.
	if code, _, _ := call(t, s, "GET", path, "", ""); code != 200 {
		t.Errorf("GET of a published advisory without a token: %d, want 200", code)
	}
	code, e, _ := call(t, s, "PATCH", path, testToken, `{"state":"draft"}`)
	if code != 422 || fieldsOf(e) != "state" {
		t.Errorf("published -> draft: %d %v, want 422 on state", code, e)
	}
}

func TestGitHubsRefusalsAreItsOwn(t *testing.T) {
	s := start(t, Options{ReadToken: "read-only-7a1b", Users: []string{"octocat"}})
	for _, c := range []struct {
		name, token, body string
		status            int
		message, fields   string
	}{
		{"unknown key", testToken, `{"state":"published","severity_level":"high"}`, 422, `"severity_level" is not a permitted key`, ""},
		{"unknown ecosystem", testToken, `{"vulnerabilities":[{"package":{"ecosystem":"crates.io","name":"x"}}]}`, 422, "is not one of", ""},
		{"both severity and cvss", testToken, `{"severity":"high","cvss_vector_string":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}`, 422, "Validation Failed", "severity,cvss_vector_string"},
		{"bad range", testToken, `{"vulnerabilities":[{"package":{"ecosystem":"rust","name":"x"},"vulnerable_version_range":"1.0 - 1.2"}]}`, 422, "Validation Failed", "vulnerabilities[0].vulnerable_version_range"},
		{"unknown user", testToken, `{"credits":[{"login":"nobody-here","type":"finder"}]}`, 422, "Validation Failed", "credits"},
		{"publish with no product", testToken, `{"state":"published"}`, 422, "Validation Failed", "state"},
		{"read-only token", "read-only-7a1b", publish, 403, "Resource not accessible", ""},
	} {
		code, e, _ := call(t, s, "PATCH", path, c.token, c.body)
		if code != c.status || !strings.Contains(e["message"].(string), c.message) || fieldsOf(e) != c.fields {
			t.Errorf("%s: %d %v, want %d %q on fields %q", c.name, code, e, c.status, c.message, c.fields)
		}
	}
	if a, _ := s.Advisory(testRepo, testID); a.State != "draft" || len(a.Vulnerabilities) != 0 {
		t.Errorf("a refused PATCH changed the advisory: %+v", a)
	}
}

func TestACVSSVectorGivesTheScoreAndTheSeverity(t *testing.T) {
	s := start(t, Options{})
	code, a, _ := call(t, s, "PATCH", path, testToken, `{"cvss_vector_string":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}`)
	if code != 200 {
		t.Fatal(code, a)
	}
	cvss := a["cvss"].(map[string]any)
	if cvss["score"] != 9.8 || a["severity"] != "critical" {
		t.Errorf("cvss %v severity %v, want 9.8 critical", cvss, a["severity"])
	}
	if got, _ := cvss3Score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"); got != 6.1 {
		t.Errorf("score %v, want 6.1 (a reflected XSS)", got)
	}
}

func TestAdvisoriesOutliveARestartInDir(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Options{Dir: dir})
	if code, _, _ := call(t, s, "PATCH", path, testToken, publish); code != 200 {
		t.Fatal(code)
	}
	s.Close()
	again, err := Start("", Options{Token: testToken, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if a, ok := again.Advisory(testRepo, testID); !ok || a.State != "published" || a.PublishedAt == nil {
		t.Errorf("after a restart: %+v, want it published", a)
	}
}

func fieldsOf(e map[string]any) string {
	list, _ := e["errors"].([]any)
	var out []string
	for _, x := range list {
		out = append(out, x.(map[string]any)["field"].(string))
	}
	return strings.Join(out, ",")
}
