package templates

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/gorilla/feeds"
)

// The RSS and JSON Feed forms of the advisory's feed entry.

// rssIn reads an RSS 2.0 feed; it is written back as gorilla/feeds'
// RssFeed.
type rssIn struct {
	XMLName xml.Name `xml:"rss"`
	Channel struct {
		Title          string          `xml:"title"`
		Link           string          `xml:"link"`
		Description    string          `xml:"description"`
		Language       string          `xml:"language"`
		Copyright      string          `xml:"copyright"`
		ManagingEditor string          `xml:"managingEditor"`
		WebMaster      string          `xml:"webMaster"`
		PubDate        string          `xml:"pubDate"`
		LastBuildDate  string          `xml:"lastBuildDate"`
		Category       string          `xml:"category"`
		Generator      string          `xml:"generator"`
		Docs           string          `xml:"docs"`
		Ttl            int             `xml:"ttl"`
		Image          *feeds.RssImage `xml:"image"`
		Items          []struct {
			Title       string              `xml:"title"`
			Link        string              `xml:"link"`
			Description string              `xml:"description"`
			Content     string              `xml:"http://purl.org/rss/1.0/modules/content/ encoded"`
			Author      string              `xml:"author"`
			Category    string              `xml:"category"`
			Comments    string              `xml:"comments"`
			Enclosure   *feeds.RssEnclosure `xml:"enclosure"`
			Guid        *feeds.RssGuid      `xml:"guid"`
			PubDate     string              `xml:"pubDate"`
			Source      string              `xml:"source"`
		} `xml:"item"`
	} `xml:"channel"`
}

func updateRSS(existing []byte, m *Model, feedTitle, siteURL string) ([]byte, error) {
	t0 := m.Published.UTC()
	out := &feeds.RssFeed{}
	if len(bytes.TrimSpace(existing)) > 0 {
		var in rssIn
		if err := xml.Unmarshal(existing, &in); err != nil {
			return nil, fmt.Errorf("read RSS feed: %w", err)
		}
		c := in.Channel
		out = &feeds.RssFeed{
			Title: c.Title, Link: c.Link, Description: c.Description, Language: c.Language,
			Copyright: c.Copyright, ManagingEditor: c.ManagingEditor, WebMaster: c.WebMaster,
			PubDate: c.PubDate, LastBuildDate: c.LastBuildDate, Category: c.Category,
			Generator: c.Generator, Docs: c.Docs, Ttl: c.Ttl, Image: c.Image,
		}
		for _, it := range c.Items {
			item := &feeds.RssItem{
				Title: it.Title, Link: it.Link, Description: it.Description, Author: it.Author,
				Category: it.Category, Comments: it.Comments, Enclosure: it.Enclosure, Guid: it.Guid,
				PubDate: it.PubDate, Source: it.Source,
			}
			if it.Content != "" {
				item.Content = &feeds.RssContent{Content: it.Content}
			}
			out.Items = append(out.Items, item)
		}
	} else {
		out.Title, out.Link, out.Description = feedTitle, siteURL, feedTitle
	}
	out.LastBuildDate = laterStamp(out.LastBuildDate, time.RFC1123Z, t0, time.RFC1123)

	item := &feeds.RssItem{
		Title: m.Title,
		Link:  m.URL,
		// RSS descriptions are HTML.
		Description: html.EscapeString(m.Summary()),
		Category:    "security",
		Guid:        &feeds.RssGuid{Id: m.URL, IsPermaLink: "true"},
		PubDate:     t0.Format(time.RFC1123Z),
	}
	if email := m.AuthorEmail(); email != "" {
		item.Author = fmt.Sprintf("%s (%s)", email, m.Author())
	}
	ids, err := existingIDs(existing)
	if err != nil {
		return nil, err
	}
	stamps := make([]string, len(out.Items))
	for i, it := range out.Items {
		stamps[i] = it.PubDate
	}
	out.Items = place(out.Items, item, ids, m.URL, stamps, time.RFC1123Z, time.RFC1123)

	s, err := feeds.ToXML(out)
	if err != nil {
		return nil, err
	}
	return []byte(s + "\n"), nil
}

// --- JSON Feed ---

func updateJSON(existing []byte, m *Model, feedTitle, siteURL string) ([]byte, error) {
	t0 := m.Published.UTC()
	f := &feeds.JSONFeed{}
	if len(bytes.TrimSpace(existing)) > 0 {
		if err := json.Unmarshal(existing, f); err != nil {
			return nil, fmt.Errorf("read JSON feed: %w", err)
		}
	} else {
		f.Version, f.Title, f.HomePageUrl = jsonFeedVersion, feedTitle, siteURL
	}
	summary := m.Summary()
	item := &feeds.JSONItem{
		Id:            m.URL,
		Url:           m.URL,
		Title:         m.Title,
		Summary:       summary,
		ContentText:   summary, // an item needs content_text or content_html
		PublishedDate: &t0,
		Tags:          []string{"security"},
		Authors:       []*feeds.JSONAuthor{{Name: m.Author()}},
	}
	ids, err := existingIDs(existing)
	if err != nil {
		return nil, err
	}
	stamps := make([]string, len(f.Items))
	for i, it := range f.Items {
		if it.PublishedDate != nil {
			stamps[i] = it.PublishedDate.Format(time.RFC3339)
		}
	}
	f.Items = place(f.Items, item, ids, m.URL, stamps, time.RFC3339)

	s, err := f.ToJSON()
	if err != nil {
		return nil, err
	}
	return []byte(s + "\n"), nil
}

// place puts the new entry where the one with its id is, or else first,
// or last in a feed listed oldest first.
func place[E any](entries []E, e E, ids []string, id string, stamps []string, layouts ...string) []E {
	for i := range entries {
		if ids[i] == id {
			entries[i] = e
			return entries
		}
	}
	if oldestFirst(stamps, layouts) {
		return append(entries, e)
	}
	return append([]E{e}, entries...)
}

// oldestFirst reports whether the first entry of a feed is older than the
// last; unreadable dates say no.
func oldestFirst(stamps []string, layouts []string) bool {
	if len(stamps) < 2 {
		return false
	}
	first, ok1 := parseAny(stamps[0], layouts)
	last, ok2 := parseAny(stamps[len(stamps)-1], layouts)
	return ok1 && ok2 && first.Before(last)
}

func parseAny(s string, layouts []string) (time.Time, bool) {
	for _, l := range layouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}
