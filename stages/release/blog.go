package release

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/templates"
)

// BlogChange is what the blog still needs: the files to write on top of
// the tip it was computed against, or nothing.
type BlogChange struct {
	Tip   plumbing.Hash
	Files map[string][]byte
	// Replaced is set when --force replaces a post with other content.
	Replaced bool
}

// Paths lists the files of the change, for messages.
func (ch *BlogChange) Paths() string {
	return strings.Join(slices.Sorted(maps.Keys(ch.Files)), ", ")
}

// BlogWants compares the blog at tip with the rendered post and feed and
// returns what must still be written, or nil when the blog has it all. A
// post with other content is an error naming the file, unless --force.
func BlogWants(r *Run, c BlogFiles, tip plumbing.Hash, m *templates.Model, post templates.File) (*BlogChange, error) {
	ch := &BlogChange{Tip: tip, Files: map[string][]byte{}}
	have, exists, err := c.File(tip, post.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case !exists:
		ch.Files[post.Path] = post.Content
	case !bytes.Equal(have, post.Content):
		if !r.Mode.Force {
			return nil, &pipeline.RerunError{From: Advisory, Force: true, Err: fmt.Errorf("%s already exists on the blog's %s (at %s) with other content: compare it with `embargo render`; a re-run with --force replaces it",
				post.Path, r.Config.Blog.Branch, Short(tip))}
		}
		r.Warnf("%s on the blog has other content: replacing it (--force)", post.Path)
		ch.Files[post.Path] = post.Content
		ch.Replaced = true
	}
	if feed := r.Config.Blog.Feed; feed != "" {
		existing, _, err := c.File(tip, feed)
		if err != nil {
			return nil, err
		}
		updated, err := templates.UpdateFeed(existing, templates.KindFor(feed), m, feedTitle(m), siteURL(m.URL))
		if err != nil {
			return nil, fmt.Errorf("feed %s on the blog: %w", feed, err)
		}
		// UpdateFeed changes nothing when the entry is there as rendered.
		if !bytes.Equal(updated, existing) {
			ch.Files[feed] = updated
		}
	}
	if len(ch.Files) == 0 {
		return nil, nil
	}
	return ch, nil
}

func feedTitle(m *templates.Model) string { return m.Package + " security advisories" }

// siteURL is the site the post is served from: its URL's scheme and host.
func siteURL(postURL string) string {
	u, err := url.Parse(postURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}

// BlogFetchError names blog.branch when the blog repository lacks it.
// BlogFetchError names blog.branch when the blog repository lacks it.
func BlogFetchError(b *config.BlogSection, err error) error {
	if errors.Is(err, blog.ErrNoBranch) {
		return fmt.Errorf("the blog repository %s has no branch %s: check blog.branch", b.Repo, b.Branch)
	}
	return err
}
