package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Advisory is a repository security advisory as the server keeps it.
type Advisory struct {
	GHSAID          string          `json:"ghsa_id"`
	CVEID           *string         `json:"cve_id"`
	Summary         string          `json:"summary"`
	Description     string          `json:"description"`
	Severity        *string         `json:"severity"`
	CVSSVector      *string         `json:"cvss_vector_string"`
	State           string          `json:"state"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	PublishedAt     *time.Time      `json:"published_at"`
	ClosedAt        *time.Time      `json:"closed_at"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Credits         []Credit        `json:"credits"`
	CWEIDs          []string        `json:"cwe_ids"`

	owner, repo string
}

// Vulnerability is one affected package of an advisory.
type Vulnerability struct {
	Package                Package  `json:"package"`
	VulnerableVersionRange *string  `json:"vulnerable_version_range"`
	PatchedVersions        *string  `json:"patched_versions"`
	VulnerableFunctions    []string `json:"vulnerable_functions"`
}

// Package names a package in its ecosystem.
type Package struct {
	Ecosystem string  `json:"ecosystem"`
	Name      *string `json:"name"`
}

// Credit is a GitHub user credited on an advisory.
type Credit struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

func (a *Advisory) clone() Advisory {
	b, _ := json.Marshal(a)
	var c Advisory
	json.Unmarshal(b, &c)
	c.owner, c.repo = a.owner, a.repo
	return c
}

// render is the advisory as GitHub's REST API serves it.
func (s *Server) render(a *Advisory) map[string]any {
	ids := []map[string]string{{"type": "GHSA", "value": a.GHSAID}}
	if a.CVEID != nil {
		ids = append(ids, map[string]string{"type": "CVE", "value": *a.CVEID})
	}
	var cvss any
	if a.CVSSVector != nil {
		score, _ := cvss3Score(*a.CVSSVector)
		cvss = map[string]any{"vector_string": *a.CVSSVector, "score": score}
	}
	var detailed []map[string]any
	for _, c := range a.Credits {
		detailed = append(detailed, map[string]any{"user": map[string]any{"login": c.Login, "type": "User"}, "type": c.Type, "state": "pending"})
	}
	site := strings.TrimSuffix(s.URL, "/api/v3")
	return map[string]any{
		"ghsa_id":             a.GHSAID,
		"cve_id":              a.CVEID,
		"url":                 fmt.Sprintf("%s/repos/%s/%s/security-advisories/%s", s.URL, a.owner, a.repo, a.GHSAID),
		"html_url":            fmt.Sprintf("%s/%s/%s/security/advisories/%s", site, a.owner, a.repo, a.GHSAID),
		"summary":             a.Summary,
		"description":         a.Description,
		"severity":            a.Severity,
		"author":              nil,
		"publisher":           nil,
		"identifiers":         ids,
		"state":               a.State,
		"created_at":          a.CreatedAt,
		"updated_at":          a.UpdatedAt,
		"published_at":        a.PublishedAt,
		"closed_at":           a.ClosedAt,
		"withdrawn_at":        nil,
		"submission":          nil,
		"vulnerabilities":     a.Vulnerabilities,
		"cvss":                cvss,
		"cwes":                []any{},
		"cwe_ids":             nonNil(a.CWEIDs),
		"credits":             a.Credits,
		"credits_detailed":    nonNilMaps(detailed),
		"collaborating_users": []any{},
		"collaborating_teams": []any{},
		"private_fork":        nil,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMaps(s []map[string]any) []map[string]any {
	if s == nil {
		return []map[string]any{}
	}
	return s
}

// update is a PATCH body that passed the schema; a nil field was absent.
type update struct {
	Summary, Description, State *string
	CVEID, Severity, CVSSVector **string
	Vulnerabilities             *[]Vulnerability
	Credits                     *[]Credit
	CWEIDs                      *[]string
	present                     map[string]bool
}

var (
	ghsaIDPattern  = regexp.MustCompile(`^GHSA(-[a-z0-9]{4}){3}$`)
	cvePattern     = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	loginPattern   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	ecosystems     = []string{"rubygems", "npm", "pip", "maven", "nuget", "composer", "go", "rust", "erlang", "actions", "pub", "other", "swift"}
	creditTypes    = []string{"analyst", "finder", "reporter", "coordinator", "remediation_developer", "remediation_reviewer", "remediation_verifier", "tool", "sponsor", "other"}
	severities     = []string{"critical", "high", "medium", "low"}
	states         = []string{"published", "closed", "draft"}
	permittedKeys  = []string{"summary", "description", "cve_id", "vulnerabilities", "cwe_ids", "credits", "severity", "cvss_vector_string", "state", "collaborating_users", "collaborating_teams"}
	vulnKeys       = []string{"package", "vulnerable_version_range", "patched_versions", "vulnerable_functions"}
	rangeCondition = regexp.MustCompile(`^(>=|>|<=|<|=)\s*v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// parseUpdate checks a PATCH body against the schema of
// repository-advisory-update: only its keys, each of its type and enum.
// A message says what is wrong, as GitHub's "Invalid request." does.
func parseUpdate(body map[string]json.RawMessage) (update, string) {
	u := update{present: map[string]bool{}}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(permittedKeys, k) {
			return u, fmt.Sprintf("%q is not a permitted key.", k)
		}
	}
	str := func(k string, dst **string, enum []string) string {
		raw, ok := body[k]
		if !ok {
			return ""
		}
		var s string
		if err := strictJSON(raw, &s); err != nil {
			return fmt.Sprintf("For 'properties/%s', %s is not a string.", k, raw)
		}
		if enum != nil && !slices.Contains(enum, s) {
			return fmt.Sprintf("For 'properties/%s', %q is not one of %q.", k, s, enum)
		}
		*dst = &s
		return ""
	}
	nullable := func(k string, dst ***string, enum []string) string {
		raw, ok := body[k]
		if !ok {
			return ""
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			var none *string
			*dst = &none
			return ""
		}
		var s *string
		if msg := str(k, &s, enum); msg != "" {
			return msg
		}
		*dst = &s
		return ""
	}
	for _, check := range []func() string{
		func() string { return str("summary", &u.Summary, nil) },
		func() string { return str("description", &u.Description, nil) },
		func() string { return str("state", &u.State, states) },
		func() string { return nullable("cve_id", &u.CVEID, nil) },
		func() string { return nullable("severity", &u.Severity, severities) },
		func() string { return nullable("cvss_vector_string", &u.CVSSVector, nil) },
		func() string { return parseVulnerabilities(body, &u) },
		func() string { return parseCredits(body, &u) },
		func() string { return parseStrings(body, "cwe_ids", &u.CWEIDs) },
		func() string { var x *[]string; return parseStrings(body, "collaborating_users", &x) },
		func() string { var x *[]string; return parseStrings(body, "collaborating_teams", &x) },
	} {
		if msg := check(); msg != "" {
			return u, msg
		}
	}
	for k := range body {
		u.present[k] = true
	}
	return u, ""
}

func parseVulnerabilities(body map[string]json.RawMessage, u *update) string {
	raw, ok := body["vulnerabilities"]
	if !ok {
		return ""
	}
	var items []map[string]json.RawMessage
	if err := strictJSON(raw, &items); err != nil {
		return "For 'properties/vulnerabilities', it is not an array of objects."
	}
	out := []Vulnerability{}
	for i, it := range items {
		for k := range it {
			if !slices.Contains(vulnKeys, k) {
				return fmt.Sprintf("For 'items', %q is not a permitted key (vulnerabilities[%d]).", k, i)
			}
		}
		var v Vulnerability
		if err := strictJSON(mustJSON(it), &v); err != nil {
			return fmt.Sprintf("For 'items' of vulnerabilities[%d]: %v.", i, err)
		}
		if _, ok := it["package"]; !ok {
			return fmt.Sprintf("For 'items', \"package\" is required (vulnerabilities[%d]).", i)
		}
		if !slices.Contains(ecosystems, v.Package.Ecosystem) {
			return fmt.Sprintf("For 'properties/ecosystem', %q is not one of %q.", v.Package.Ecosystem, ecosystems)
		}
		out = append(out, v)
	}
	u.Vulnerabilities = &out
	return ""
}

func parseCredits(body map[string]json.RawMessage, u *update) string {
	raw, ok := body["credits"]
	if !ok {
		return ""
	}
	var items []map[string]json.RawMessage
	if err := strictJSON(raw, &items); err != nil {
		return "For 'properties/credits', it is not an array of objects."
	}
	out := []Credit{}
	for _, it := range items {
		var c Credit
		if err := strictJSON(mustJSON(it), &c); err != nil || c.Login == "" || c.Type == "" {
			return "For 'items', \"login\" and \"type\" are required strings (credits)."
		}
		if !slices.Contains(creditTypes, c.Type) {
			return fmt.Sprintf("For 'properties/type', %q is not one of %q.", c.Type, creditTypes)
		}
		out = append(out, c)
	}
	u.Credits = &out
	return ""
}

func parseStrings(body map[string]json.RawMessage, k string, dst **[]string) string {
	raw, ok := body[k]
	if !ok {
		return ""
	}
	var s []string
	if err := strictJSON(raw, &s); err != nil {
		return fmt.Sprintf("For 'properties/%s', it is not an array of strings.", k)
	}
	*dst = &s
	return ""
}

func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// apply makes u's changes to a, as GitHub validates them: errors name the
// fields at fault.
func (s *Server) apply(a *Advisory, u update) []FieldError {
	var errs []FieldError
	bad := func(field, code, msg string) {
		errs = append(errs, FieldError{Resource: "RepositoryAdvisory", Code: code, Field: field, Message: msg})
	}
	sev, cvss := u.Severity != nil && *u.Severity != nil, u.CVSSVector != nil && *u.CVSSVector != nil
	if sev && cvss {
		bad("severity", "custom", "Severity cannot be set together with a cvss_vector_string; choose one.")
		bad("cvss_vector_string", "custom", "A cvss_vector_string cannot be set together with a severity; choose one.")
	}
	if u.Summary != nil {
		if strings.TrimSpace(*u.Summary) == "" {
			bad("summary", "missing_field", "Summary can't be blank.")
		}
		a.Summary = *u.Summary
	}
	if u.Description != nil {
		a.Description = *u.Description
	}
	if u.CVEID != nil {
		if id := *u.CVEID; id != nil && !cvePattern.MatchString(*id) {
			bad("cve_id", "invalid", fmt.Sprintf("%q is not a CVE ID.", *id))
		}
		a.CVEID = *u.CVEID
	}
	if cvss {
		if _, ok := cvss3Score(**u.CVSSVector); !ok && !strings.HasPrefix(**u.CVSSVector, "CVSS:4.0/") {
			bad("cvss_vector_string", "invalid", "Cvss vector string is invalid.")
		}
		a.CVSSVector, a.Severity = *u.CVSSVector, nil
		if score, ok := cvss3Score(**u.CVSSVector); ok {
			level := severityOf(score)
			a.Severity = &level
		}
	} else if u.CVSSVector != nil {
		a.CVSSVector = nil
	}
	if u.Severity != nil && !cvss {
		a.Severity = *u.Severity
		if sev {
			a.CVSSVector = nil
		}
	}
	if u.Vulnerabilities != nil {
		for i, v := range *u.Vulnerabilities {
			if v.VulnerableVersionRange != nil && !validRange(*v.VulnerableVersionRange) {
				bad(fmt.Sprintf("vulnerabilities[%d].vulnerable_version_range", i), "invalid", fmt.Sprintf("%q is not a valid version range.", *v.VulnerableVersionRange))
			}
		}
		a.Vulnerabilities = *u.Vulnerabilities
	}
	if u.Credits != nil {
		for _, c := range *u.Credits {
			if !loginPattern.MatchString(c.Login) || (s.opts.Users != nil && !slices.Contains(s.opts.Users, c.Login)) {
				bad("credits", "invalid", fmt.Sprintf("Could not find a user with login %q.", c.Login))
			}
		}
		a.Credits = *u.Credits
	}
	if u.CWEIDs != nil {
		a.CWEIDs = *u.CWEIDs
	}
	if u.State != nil && *u.State != a.State {
		errs = append(errs, s.transition(a, *u.State)...)
	}
	return errs
}

// transition moves a to state: a draft is published or closed, a closed
// one reopened as a draft; a published advisory never goes back.
func (s *Server) transition(a *Advisory, state string) []FieldError {
	bad := func(msg string) []FieldError {
		return []FieldError{{Resource: "RepositoryAdvisory", Code: "invalid", Field: "state", Message: msg}}
	}
	now := s.now().UTC().Truncate(time.Second)
	switch {
	case a.State == "published":
		return bad(fmt.Sprintf("A published advisory cannot be moved to %s.", state))
	case a.State == "triage":
		if state == "published" {
			return bad("A reported vulnerability must be accepted (moved to draft) before it is published.")
		}
	case state == "published":
		if strings.TrimSpace(a.Summary) == "" || strings.TrimSpace(a.Description) == "" {
			return bad("An advisory needs a summary and a description to be published.")
		}
		named := false
		for _, v := range a.Vulnerabilities {
			named = named || (v.Package.Name != nil && *v.Package.Name != "")
		}
		if !named {
			return bad("An advisory needs at least one affected product with a package name to be published.")
		}
		a.PublishedAt = &now
	}
	if state == "closed" {
		a.ClosedAt = &now
	} else {
		a.ClosedAt = nil
	}
	a.State = state
	return nil
}

// validRange is GitHub's version range syntax: comparisons joined by
// commas, at most one lower and one upper bound ("= 1.2.3" alone).
func validRange(r string) bool {
	var lower, upper, exact int
	for _, part := range strings.Split(r, ",") {
		part = strings.TrimSpace(part)
		if !rangeCondition.MatchString(part) {
			return false
		}
		switch {
		case strings.HasPrefix(part, ">"):
			lower++
		case strings.HasPrefix(part, "<"):
			upper++
		default:
			exact++
		}
	}
	return (exact == 1 && lower+upper == 0) || (exact == 0 && lower <= 1 && upper <= 1)
}

func contextWith(r *http.Request, lr *Request) context.Context {
	return context.WithValue(r.Context(), logKey{}, lr)
}
