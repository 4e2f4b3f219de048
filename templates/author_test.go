package templates

import (
	"strings"
	"testing"
)

func TestBlogAuthorIsThePostsAuthorInEveryStyle(t *testing.T) {
	cfg := loadFixture(t)
	cfg.Blog.Author = "The async-std developers"
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range BlogStyles {
		o, err := Render(m, style, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		post := string(o.Post.Content)
		if !strings.Contains(post, `author = "The async-std developers"`) && !strings.Contains(post, `author: "The async-std developers"`) {
			t.Errorf("%s post does not carry blog.author:\n%s", style, post)
		}
		if strings.Contains(post, "Jane Doe") {
			t.Errorf("%s post still names the handler:\n%s", style, post)
		}
	}

	// Left out, the author is the handler's name.
	cfg.Blog.Author = ""
	if m, err = NewModel(cfg); err != nil {
		t.Fatal(err)
	}
	if got := m.Author(); got != "Jane Doe" {
		t.Errorf("default author %q, want the handler's name", got)
	}
}
