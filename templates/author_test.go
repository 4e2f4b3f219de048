package templates

import (
	"strings"
	"testing"
)

func TestBlogAuthorIsThePostsAuthorInEveryStyle(t *testing.T) {
	in := fixtureInput(t)
	in.BlogAuthor = "The async-std developers"
	m, err := NewModel(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range BlogStyles {
		o, err := Render(m, style, Conventions{}, "", nil)
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
	in.BlogAuthor = ""
	if m, err = NewModel(in); err != nil {
		t.Fatal(err)
	}
	if got := m.Author(); got != "Jane Doe" {
		t.Errorf("default author %q, want the handler's name", got)
	}
}
