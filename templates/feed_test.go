package templates

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKindFor(t *testing.T) {
	for path, want := range map[string]FeedKind{
		"source/security.xml": FeedAtom, "feed.atom": FeedAtom, "index.RSS": FeedRSS,
		"public/feed.json": FeedJSON, "feed": FeedAtom,
	} {
		if got := KindFor(path); got != want {
			t.Errorf("KindFor(%q) = %v, want %v", path, got, want)
		}
	}
}

// Independent readers of the three formats: what a feed reader would see.

type atomCheck struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Href string `xml:"href,attr"`
		Rel  string `xml:"rel,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Link    struct {
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Summary  string `xml:"summary"`
		Content  string `xml:"content"`
		Category []struct {
			Term string `xml:"term,attr"`
		} `xml:"category"`
	} `xml:"entry"`
}

type rssCheck struct {
	XMLName xml.Name `xml:"rss"`
	Channel struct {
		Title         string `xml:"title"`
		LastBuildDate string `xml:"lastBuildDate"`
		Items         []struct {
			Title       string `xml:"title"`
			Link        string `xml:"link"`
			Description string `xml:"description"`
			Guid        string `xml:"guid"`
			PubDate     string `xml:"pubDate"`
			Content     string `xml:"http://purl.org/rss/1.0/modules/content/ encoded"`
		} `xml:"item"`
	} `xml:"channel"`
}

type jsonCheck struct {
	Version string `json:"version"`
	Title   string `json:"title"`
	Items   []struct {
		ID            string `json:"id"`
		URL           string `json:"url"`
		Title         string `json:"title"`
		ContentText   string `json:"content_text"`
		ContentHTML   string `json:"content_html"`
		DatePublished string `json:"date_published"`
	} `json:"items"`
}

// feedIDs parses a feed as its format and returns the entry ids in order.
func feedIDs(t *testing.T, kind FeedKind, b []byte) []string {
	t.Helper()
	var ids []string
	switch kind {
	case FeedAtom:
		var f atomCheck
		if err := xml.Unmarshal(b, &f); err != nil {
			t.Fatalf("not Atom: %v\n%s", err, b)
		}
		for _, e := range f.Entries {
			ids = append(ids, e.ID)
		}
	case FeedRSS:
		var f rssCheck
		if err := xml.Unmarshal(b, &f); err != nil {
			t.Fatalf("not RSS: %v\n%s", err, b)
		}
		for _, e := range f.Channel.Items {
			ids = append(ids, e.Guid+e.Link)
		}
	case FeedJSON:
		var f jsonCheck
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, b)
		}
		for _, e := range f.Items {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func TestUpdateFeed(t *testing.T) {
	m := fixtureModel(t)
	for _, tc := range []struct {
		file string
		kind FeedKind
	}{
		{"existing.xml", FeedAtom},
		{"existing.rss", FeedRSS},
		{"existing.json", FeedJSON},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			existing, err := os.ReadFile(filepath.Join("testdata", "feeds", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			kind := KindFor(tc.file)
			if kind != tc.kind {
				t.Fatalf("KindFor(%s) = %v", tc.file, kind)
			}
			before := feedIDs(t, kind, existing)
			out, err := UpdateFeed(existing, kind, m, "ignored for an existing feed", "https://async.rs/")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "feed-updated"+filepath.Ext(tc.file), out)

			after := feedIDs(t, kind, out)
			if len(after) != len(before)+1 {
				t.Fatalf("entries %q, want the %d old ones and the new one", after, len(before))
			}
			if !strings.Contains(after[0], m.URL) {
				t.Errorf("the new entry should come first: %q", after)
			}
			if !slices.Equal(after[1:], before) {
				t.Errorf("old entries changed: %q, want %q", after[1:], before)
			}

			again, err := UpdateFeed(out, kind, m, "ignored", "https://async.rs/")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, out) {
				t.Errorf("a second update changed the feed:\n%s\n---\n%s", out, again)
			}

			// A changed advisory replaces its entry in place.
			m2 := *m
			m2.Title = "Use-after-free in async_std::task (updated)"
			third, err := UpdateFeed(out, kind, &m2, "ignored", "https://async.rs/")
			if err != nil {
				t.Fatal(err)
			}
			if ids := feedIDs(t, kind, third); !slices.Equal(ids, after) {
				t.Errorf("replacing the entry changed the ids: %q", ids)
			}
			if !bytes.Contains(third, []byte("(updated)")) {
				t.Error("the entry was not replaced")
			}
		})
	}
}

func TestUpdateAtomKeepsDetails(t *testing.T) {
	m := fixtureModel(t)
	existing, err := os.ReadFile(filepath.Join("testdata", "feeds", "existing.xml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := UpdateFeed(existing, FeedAtom, m, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var f atomCheck
	if err := xml.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	if f.Title != "async.rs security advisories" || f.Updated != "2026-12-01T14:00:00Z" || len(f.Links) != 2 || f.Links[0].Rel != "self" {
		t.Errorf("feed head: %+v", f)
	}
	e := f.Entries[0]
	if e.Title != m.Title || e.Link.Href != m.URL || e.Updated != "2026-12-01T14:00:00Z" || !strings.Contains(e.Summary, m.ID) {
		t.Errorf("new entry: %+v", e)
	}
	old := f.Entries[1]
	if len(old.Category) != 1 || old.Category[0].Term != "security" || old.Content != "<p>Upgrade to <b>1.13.1</b>.</p>" {
		t.Errorf("old entry lost its category or xhtml content: %+v", old)
	}
	if n := bytes.Count(out, []byte(`xmlns="`)); n != 1 {
		t.Errorf("the namespace should be declared once, found %d times:\n%s", n, out)
	}
}

func TestUpdateRSSKeepsContent(t *testing.T) {
	m := fixtureModel(t)
	existing, err := os.ReadFile(filepath.Join("testdata", "feeds", "existing.rss"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := UpdateFeed(existing, FeedRSS, m, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var f rssCheck
	if err := xml.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	if got := f.Channel.Items[2].Content; got != "<p>async-std 2.0 is out.</p>" {
		t.Errorf("content:encoded lost: %q", got)
	}
	if f.Channel.LastBuildDate != m.Published.Format(time.RFC1123Z) {
		t.Errorf("lastBuildDate %q", f.Channel.LastBuildDate)
	}
	if got := f.Channel.Items[0].PubDate; got != "Tue, 01 Dec 2026 14:00:00 +0000" {
		t.Errorf("pubDate %q", got)
	}
}

// A feed's own format wins over its file name: Hugo's index.xml is RSS.
func TestUpdateFeedSniffsFormat(t *testing.T) {
	m := fixtureModel(t)
	existing, err := os.ReadFile(filepath.Join("testdata", "feeds", "existing.rss"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := UpdateFeed(existing, KindFor("public/index.xml"), m, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(feedIDs(t, FeedRSS, out)) != 3 {
		t.Errorf("the RSS feed was not updated as RSS:\n%s", out)
	}
}

func TestNewFeeds(t *testing.T) {
	m := fixtureModel(t)
	for _, kind := range []FeedKind{FeedAtom, FeedRSS, FeedJSON} {
		t.Run(kind.String(), func(t *testing.T) {
			out, err := UpdateFeed(nil, kind, m, "async.rs security advisories", "https://async.rs/")
			if err != nil {
				t.Fatal(err)
			}
			if ids := feedIDs(t, kind, out); len(ids) != 1 || !strings.Contains(ids[0], m.URL) {
				t.Errorf("new feed entries %q", ids)
			}
			if !bytes.Contains(out, []byte("async.rs security advisories")) {
				t.Errorf("new feed lacks its title:\n%s", out)
			}
			if kind == FeedJSON {
				var f jsonCheck
				_ = json.Unmarshal(out, &f)
				it := f.Items[0]
				if f.Version != "https://jsonfeed.org/version/1.1" || it.ContentText == "" || it.DatePublished != "2026-12-01T14:00:00Z" {
					t.Errorf("JSON feed: %+v", f)
				}
			}
		})
	}
}

func TestUpdateFeedErrors(t *testing.T) {
	m := fixtureModel(t)
	if _, err := UpdateFeed([]byte("<feed><entry>"), FeedAtom, m, "", ""); err == nil {
		t.Error("a broken feed should fail")
	}
	if _, err := UpdateFeed([]byte("{"), FeedJSON, m, "", ""); err == nil {
		t.Error("a broken JSON feed should fail")
	}
	m.URL = ""
	if _, err := UpdateFeed(nil, FeedAtom, m, "", ""); err == nil {
		t.Error("an advisory without a URL has no entry id")
	}
}

// FeedIDs, which verify reads a published feed with, finds the entry
// UpdateFeed wrote in every format, and refuses what is no feed.
func TestFeedIDsOfEveryFormat(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	m := &Model{ID: "DEMO-SA-2026-001", Title: "Out-of-bounds read", Package: "demo-core",
		Published: at, Date: at, Handler: "Jane Doe <jane@example.org>", URL: "https://blog.example.org/posts/oob/"}
	for _, kind := range []FeedKind{FeedAtom, FeedRSS, FeedJSON} {
		feed, err := UpdateFeed(nil, kind, m, "demo advisories", "https://blog.example.org/")
		if err != nil {
			t.Fatal(err)
		}
		ids, got, err := FeedIDs(feed)
		if err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, feed)
		}
		if got != kind || len(ids) != 1 || ids[0] != m.URL {
			t.Errorf("%s feed read as %s with ids %q, want [%s]\n%s", kind, got, ids, m.URL, feed)
		}
	}
	if _, _, err := FeedIDs([]byte("<html></html>")); err == nil {
		t.Error("an HTML page read as a feed")
	}
}
