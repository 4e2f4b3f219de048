package templates

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/feeds"
)

// FeedKind is a feed format.
type FeedKind int

const (
	FeedAtom FeedKind = iota // the default
	FeedRSS
	FeedJSON // JSON Feed 1.1
)

func (k FeedKind) String() string {
	switch k {
	case FeedRSS:
		return "RSS"
	case FeedJSON:
		return "JSON Feed"
	}
	return "Atom"
}

// KindFor picks the format from a feed's file name: .rss is RSS, .json is
// JSON Feed, anything else (.xml, .atom) Atom.
func KindFor(path string) FeedKind {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".rss":
		return FeedRSS
	case ".json":
		return FeedJSON
	}
	return FeedAtom
}

const (
	atomNS          = "http://www.w3.org/2005/Atom"
	jsonFeedVersion = "https://jsonfeed.org/version/1.1"
)

// UpdateFeed adds the advisory's entry to a feed and returns the new feed.
// Every entry of existing is kept; an entry with the advisory's id (its
// URL) is replaced in place, so a second update changes nothing. An empty
// existing starts a new feed of the given kind, titled feedTitle, for the
// site at siteURL. A non-empty existing keeps its own format, found from
// its content: a blog's feed.xml may well be RSS.
func UpdateFeed(existing []byte, kind FeedKind, m *Model, feedTitle, siteURL string) ([]byte, error) {
	if m.URL == "" {
		return nil, fmt.Errorf("the advisory has no URL (blog.url) to identify its feed entry by")
	}
	if k, ok := sniffFeed(existing); ok {
		kind = k
	}
	switch kind {
	case FeedRSS:
		return updateRSS(existing, m, feedTitle, siteURL)
	case FeedJSON:
		return updateJSON(existing, m, feedTitle, siteURL)
	}
	return updateAtom(existing, m, feedTitle, siteURL)
}

// sniffFeed tells a feed's format from its first element or character.
func sniffFeed(b []byte) (FeedKind, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	if b[0] == '{' {
		return FeedJSON, true
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return 0, false
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "feed":
				return FeedAtom, true
			case "rss":
				return FeedRSS, true
			}
			return 0, false
		}
	}
}

// FeedIDs lists the entry ids of an Atom, RSS or JSON feed, in order, by
// the rules UpdateFeed places entries by: an Atom entry's id, an RSS item's
// guid (or its link), a JSON Feed item's id (or its url).
func FeedIDs(b []byte) ([]string, FeedKind, error) {
	kind, ok := sniffFeed(b)
	if !ok {
		return nil, FeedAtom, fmt.Errorf("neither an Atom feed, RSS nor a JSON Feed")
	}
	var ids []string
	switch kind {
	case FeedJSON:
		var f struct {
			Items []struct {
				ID  json.RawMessage `json:"id"`
				URL string          `json:"url"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, kind, fmt.Errorf("not a valid JSON Feed: %w", err)
		}
		for _, it := range f.Items {
			var id string
			if json.Unmarshal(it.ID, &id) != nil {
				id = strings.Trim(string(it.ID), `"`) // a number, say
			}
			ids = append(ids, firstNonEmpty(id, it.URL))
		}
	default:
		var x struct {
			Entries []struct {
				ID string `xml:"id"`
			} `xml:"entry"`
			Items []struct {
				GUID string `xml:"guid"`
				Link string `xml:"link"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(b, &x); err != nil {
			return nil, kind, fmt.Errorf("not a valid Atom or RSS feed: %w", err)
		}
		for _, e := range x.Entries {
			ids = append(ids, strings.TrimSpace(e.ID))
		}
		for _, it := range x.Items {
			ids = append(ids, firstNonEmpty(it.GUID, it.Link))
		}
	}
	return ids, kind, nil
}

// existingIDs is FeedIDs of a feed being updated, none for a new one.
func existingIDs(existing []byte) ([]string, error) {
	if len(bytes.TrimSpace(existing)) == 0 {
		return nil, nil
	}
	ids, _, err := FeedIDs(existing)
	return ids, err
}

// laterStamp returns whichever of the feed's own stamp and t is later,
// formatted by layout; an unreadable stamp gives way to t.
func laterStamp(stamp, layout string, t time.Time, parse ...string) string {
	for _, l := range append([]string{layout}, parse...) {
		if old, err := time.Parse(l, strings.TrimSpace(stamp)); err == nil && old.After(t) {
			return stamp
		}
	}
	return t.Format(layout)
}

// --- Atom ---

// atomFeed reads and writes an Atom feed. gorilla/feeds' AtomFeed keeps
// one feed link and one category string per entry; this keeps them all.
type atomFeed struct {
	XMLName  xml.Name           `xml:"feed"`
	Xmlns    string             `xml:"xmlns,attr"`
	Title    string             `xml:"title"`
	ID       string             `xml:"id"`
	Updated  string             `xml:"updated"`
	Subtitle string             `xml:"subtitle,omitempty"`
	Rights   string             `xml:"rights,omitempty"`
	Icon     string             `xml:"icon,omitempty"`
	Logo     string             `xml:"logo,omitempty"`
	Links    []feeds.AtomLink   `xml:"link"`
	Authors  []feeds.AtomPerson `xml:"author"`
	Entries  []*atomEntry       `xml:"entry"`
}

// FeedXml lets gorilla/feeds write it.
func (f *atomFeed) FeedXml() any { return f }

type atomEntry struct {
	Title        string             `xml:"title"`
	ID           string             `xml:"id"`
	Updated      string             `xml:"updated"`
	Published    string             `xml:"published,omitempty"`
	Authors      []feeds.AtomPerson `xml:"author"`
	Contributors []feeds.AtomPerson `xml:"contributor"`
	Categories   []atomCategory     `xml:"category"`
	Links        []feeds.AtomLink   `xml:"link"`
	Rights       string             `xml:"rights,omitempty"`
	Summary      *atomText          `xml:"summary"`
	Content      *atomText          `xml:"content"`
}

type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Src  string `xml:"src,attr,omitempty"`
	Body string `xml:",chardata"`
}

// UnmarshalXML keeps the markup of xhtml text, which chardata alone would
// drop, as escaped html.
func (t *atomText) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Type  string `xml:"type,attr"`
		Src   string `xml:"src,attr"`
		Inner string `xml:",innerxml"`
		Text  string `xml:",chardata"`
	}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	t.Type, t.Src, t.Body = raw.Type, raw.Src, raw.Text
	if raw.Type == "xhtml" {
		t.Type, t.Body = "html", unwrapDiv(strings.TrimSpace(raw.Inner))
	}
	return nil
}

// unwrapDiv drops the div that wraps xhtml text in Atom and is not part of
// the text.
func unwrapDiv(s string) string {
	if !strings.HasPrefix(s, "<div") || !strings.HasSuffix(s, "</div>") {
		return s
	}
	open := strings.IndexByte(s, '>')
	if open < 0 || open > len(s)-len("</div>") {
		return s
	}
	return strings.TrimSpace(s[open+1 : len(s)-len("</div>")])
}

// normalize drops the namespaces reading recorded in element names: written
// back, each would repeat the feed's xmlns on its element.
func (f *atomFeed) normalize() {
	f.XMLName, f.Xmlns = xml.Name{}, atomNS
	unname := func(ls []feeds.AtomLink) {
		for i := range ls {
			ls[i].XMLName = xml.Name{}
		}
	}
	unname(f.Links)
	for _, e := range f.Entries {
		unname(e.Links)
	}
}

func updateAtom(existing []byte, m *Model, feedTitle, siteURL string) ([]byte, error) {
	t0 := m.Published.UTC()
	f := &atomFeed{}
	if len(bytes.TrimSpace(existing)) > 0 {
		if err := xml.Unmarshal(existing, f); err != nil {
			return nil, fmt.Errorf("read Atom feed: %w", err)
		}
	} else {
		f.Title, f.ID = feedTitle, siteURL
		if siteURL != "" {
			f.Links = []feeds.AtomLink{{Href: siteURL, Rel: "alternate"}}
		}
	}
	f.normalize()
	f.Updated = laterStamp(f.Updated, time.RFC3339, t0)

	e := &atomEntry{
		Title:     m.Title,
		ID:        m.URL,
		Updated:   t0.Format(time.RFC3339),
		Published: t0.Format(time.RFC3339),
		Links:     []feeds.AtomLink{{Href: m.URL, Rel: "alternate", Type: "text/html"}},
		Summary:   &atomText{Type: "text", Body: m.Summary()},
		// Atom wants an author per entry unless the feed names one.
		Authors:    []feeds.AtomPerson{{Name: m.Author()}},
		Categories: []atomCategory{{Term: "security"}},
	}
	ids, err := existingIDs(existing)
	if err != nil {
		return nil, err
	}
	stamps := make([]string, len(f.Entries))
	for i, x := range f.Entries {
		stamps[i] = firstNonEmpty(x.Published, x.Updated)
	}
	f.Entries = place(f.Entries, e, ids, m.URL, stamps, time.RFC3339)

	s, err := feeds.ToXML(f)
	if err != nil {
		return nil, err
	}
	return []byte(s + "\n"), nil
}

// --- RSS ---
