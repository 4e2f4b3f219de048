package advisory

import (
	"fmt"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// What the advisory stage's steps record.

// The advisory stage's steps.
var (
	blogFetchedKey   = pipeline.Key[BlogFetched]{Stage: release.Advisory, Step: "clone"}
	postCommittedKey = pipeline.Key[PostCommitted]{Stage: release.Advisory, Step: "write"}
	postPushedKey    = pipeline.Key[PostPushed]{Stage: release.Advisory, Step: "push"}
	postOnBlogKey    = pipeline.Key[PostOnBlog]{Stage: release.Advisory, Step: "verify"}
)

// BlogFetched is the clone step: the blog's branch as fetched.
type BlogFetched struct {
	Branch string `json:"branch"`
	Tip    string `json:"tip"`
}

func (b BlogFetched) Summary() string {
	if b.Tip == "" {
		return ""
	}
	return fmt.Sprintf("%s at %s", b.Branch, vault.ShortHex(b.Tip))
}

// PostCommitted is the write step: the commit made privately, or nothing
// when the blog has the post already.
type PostCommitted struct {
	Commit string   `json:"commit,omitempty"`
	Files  []string `json:"files,omitempty"`
	Text   string   `json:"summary,omitempty"`
}

func (p PostCommitted) Summary() string { return p.Text }

// PostPushed is the push step, the advisory's one public write.
type PostPushed struct {
	Commit   string    `json:"commit,omitempty"`
	Parent   string    `json:"parent,omitempty"`
	PushedAt time.Time `json:"pushed_at,omitzero"`
	Attempts int       `json:"attempts,omitempty"`
	// Replaced is the post with other content that --force replaced.
	Replaced string `json:"replaced,omitempty"`
	Text     string `json:"summary,omitempty"`
}

func (p PostPushed) Summary() string { return p.Text }

// Moments: the push is the advisory's public write.
func (p PostPushed) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "pushed_at", At: p.PushedAt, Public: true}}
}

// PostOnBlog is the verify step: the remote branch holds the post.
type PostOnBlog struct {
	Post   string `json:"post"`
	Branch string `json:"branch"`
	Tip    string `json:"tip"`
	URL    string `json:"url"`
}

func (p PostOnBlog) Summary() string {
	if p.Tip == "" {
		return ""
	}
	return fmt.Sprintf("%s on %s at %s (%s)", p.Post, p.Branch, vault.ShortHex(p.Tip), p.URL)
}
