package templates

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// renderFront renders style's post for m following conv, and returns its
// front matter as written and as YAML reads it back.
func renderFront(t *testing.T, m *Model, style string, conv Conventions) (string, map[string]any) {
	t.Helper()
	o, err := Render(m, style, conv, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	post := string(o.Post.Content)
	head, _, ok := strings.Cut(strings.TrimPrefix(post, "---\n"), "\n---\n")
	if !ok {
		t.Fatalf("no front matter:\n%s", post)
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte(head), &got); err != nil {
		t.Fatalf("front matter is not YAML: %v\n%s", err, head)
	}
	return head, got
}

// A site that writes tags as a comma string gets the tag as a string,
// where its generator splits it back into the same tags; one that
// writes a list a line an item gets that.
func TestTagsFollowTheSite(t *testing.T) {
	m := fixtureModel(t)
	from := []string{"a.md"}
	for _, c := range []struct {
		style string
		conv  Conventions
		want  string
	}{
		{"middleman", Conventions{From: from, Tags: "string", TagSeparator: ","}, "tags: security\n"},
		{"jekyll", Conventions{From: from, Tags: "string"}, "tags: security\n"},
		{"hugo", Conventions{From: from, Tags: "string"}, "tags: security\n"},
		{"middleman", Conventions{From: from, Tags: "block"}, "tags:\n  - security\n"},
		{"hugo", Conventions{From: from, Tags: "list", Quote: map[string]string{"tags": "single"}}, "tags: ['security']\n"},
		// The site spells it Security: one tag page, not two.
		{"middleman", Conventions{From: from, Tags: "list", KnownTags: []string{"Release", "Security"}}, "tags: [Security]\n"},
	} {
		head, got := renderFront(t, m, c.style, c.conv)
		if !strings.Contains(head+"\n", c.want) {
			t.Errorf("%s %+v: front matter\n%s\nlacks %q", c.style, c.conv, head, c.want)
		}
		if got["tags"] == nil {
			t.Errorf("%s: no tags read back: %v", c.style, got)
		}
	}
}

// A string of tags is written only where the generator reads the same
// tags from it: hugo takes a string as one tag, jekyll splits on spaces.
func TestTagsStayAListWhereAStringWouldChangeThem(t *testing.T) {
	f := FrontMatter{conv: Conventions{From: []string{"a.md"}, Tags: "string", TagSeparator: ", "}, m: fixtureModel(t)}
	for style, want := range map[string]string{
		"middleman": "security, memory safety",
		"hugo":      "[security, memory safety]",
		"jekyll":    "[security, memory safety]",
	} {
		f.style = style
		if got := f.Tags("security", "memory safety"); got != want {
			t.Errorf("%s: %q, want %q", style, got, want)
		}
	}
}

// Strings are quoted as the posts quote them, but never so that YAML
// reads back another value.
func TestQuotingFollowsTheSiteAndKeepsTheValue(t *testing.T) {
	m := fixtureModel(t)
	m.Title = "async-std 1.13.1: a fix"
	conv := Conventions{From: []string{"a.md"}, Quote: map[string]string{"title": "plain", "author": "single"}}
	head, got := renderFront(t, m, "middleman", conv)
	if got["title"] != m.Title || got["author"] != "Jane Doe" {
		t.Errorf("read back %v", got)
	}
	if !strings.Contains(head, `title: "async-std 1.13.1: a fix"`) || !strings.Contains(head, "author: 'Jane Doe'") {
		t.Errorf("front matter:\n%s", head)
	}
	m.Title = "Yes"
	if head, got = renderFront(t, m, "middleman", conv); got["title"] != "Yes" {
		t.Errorf("a title Ruby's YAML reads as true: %v\n%s", got, head)
	}
	m.Title = "Use-after-free in async_std::task"
	if head, _ = renderFront(t, m, "middleman", conv); !strings.Contains(head, "title: Use-after-free in async_std::task\n") {
		t.Errorf("a title that needs no quotes:\n%s", head)
	}
}

// The date takes the posts' layout, but never dates the post after T0
// where the site is.
func TestTheDateFollowsTheSiteButNeverPassesT0(t *testing.T) {
	m := fixtureModel(t) // T0 2026-12-01T14:00:00Z
	day := Conventions{From: []string{"a.md"}, Date: time.DateOnly, Zone: "UTC"}
	if head, _ := renderFront(t, m, "hugo", day); !strings.Contains(head, "date: 2026-12-01\n") {
		t.Errorf("a site dating by day:\n%s", head)
	}
	// In Honolulu the 1st begins at 10:00 UTC, before T0: the day will do.
	day.Zone = "Pacific/Honolulu"
	if head, _ := renderFront(t, m, "hugo", day); !strings.Contains(head, "date: 2026-12-01\n") {
		t.Errorf("a site in Honolulu:\n%s", head)
	}
	// With T0 at 02:00 UTC, the 1st begins after T0 there: the post is
	// dated T0 instead, in the site's zone.
	early := *m
	early.Published = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	if head, _ := renderFront(t, &early, "hugo", day); !strings.Contains(head, "date: 2026-11-30T16:00:00-10:00\n") {
		t.Errorf("a day beginning after T0:\n%s", head)
	}
	// A time without a zone, where the site leaves the zone to the
	// machine that builds it, gets its offset.
	local := Conventions{From: []string{"a.md"}, Date: "2006-01-02 15:04", Keys: []string{"date"}}
	if head, _ := renderFront(t, m, "jekyll", local); !strings.Contains(head, "date: 2026-12-01 14:00 +0000\n") {
		t.Errorf("a zone-less time:\n%s", head)
	}
	// Posts dated by their file names: no date, unless the file's day
	// would begin after T0 somewhere.
	if head, _ := renderFront(t, m, "jekyll", Conventions{From: []string{"a.md"}, Keys: []string{"title"}}); strings.Contains(head, "date:") {
		t.Errorf("a site without dates:\n%s", head)
	}
	if head, _ := renderFront(t, &early, "jekyll", Conventions{From: []string{"a.md"}, Keys: []string{"title"}}); !strings.Contains(head, "date: 2026-12-01 02:00:00 +0000\n") {
		t.Errorf("a site without dates, T0 early in the day:\n%s", head)
	}
}

// Optional keys are written where the site's posts use them.
func TestOptionalKeysFollowTheSite(t *testing.T) {
	m := fixtureModel(t)
	head, got := renderFront(t, m, "hugo", Conventions{From: []string{"a.md"}, Keys: []string{"title", "date", "tags", "author"}})
	if _, ok := got["summary"]; ok {
		t.Errorf("summary written for a site whose posts have none:\n%s", head)
	}
	head, got = renderFront(t, m, "middleman", Conventions{From: []string{"a.md"}, Published: true})
	if got["published"] != true {
		t.Errorf("published: true not written:\n%s", head)
	}
	head, got = renderFront(t, m, "jekyll", Conventions{From: []string{"a.md"}, Keys: []string{"layout"}, Layout: "article"})
	if got["layout"] != "article" {
		t.Errorf("layout:\n%s", head)
	}
}
