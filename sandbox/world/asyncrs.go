package world

// The async.rs blog's authors, as its data/authors.yaml lists them.
var AsyncRSAuthors = []string{"Stjepan Glavina", "Florian Gilcher", "The async-std developers"}

// asyncRSFiles shape the middleman fixture like async.rs: an author
// registry, an article layout that looks each article's author up in it,
// posts by its authors, and build.sh standing in for `bundle exec
// middleman build`, which fails as middleman does when an article's author
// is not in the registry, and otherwise writes each article's page to
// build/blog/<slug>/index.html.
var asyncRSFiles = map[string]string{
	"data/authors.yaml": "Stjepan Glavina:\n  url: https://github.com/stjepang\n" +
		"Florian Gilcher:\n  url: https://github.com/skade\n" +
		"The async-std developers:\n  url: https://github.com/async-rs\n",
	"source/layouts/article.erb": "<article>\n  <h1><%= current_article.title %></h1>\n" +
		"  <p>by <%= link_to current_article.data.author, data.authors[current_article.data.author].url %></p>\n" +
		"  <%= yield %>\n</article>\n",
	"source/blog/2026-01-10-hello.html.md":          "---\ntitle: Hello\ndate: 2026-01-10\ntags: [news]\nauthor: The async-std developers\n---\n\nThe blog is open.\n",
	"source/blog/2026-03-02-async-std-1-13.html.md": "---\ntitle: async-std 1.13\ndate: 2026-03-02\ntags: [release]\nauthor: Florian Gilcher\n---\n\nA release.\n",
	"build.sh": `#!/bin/sh
# Stands in for "bundle exec middleman build": the article layout's
# data.authors[author].url fails on an author data/authors.yaml lacks.
set -e
rm -rf build
for f in source/blog/*.html.md; do
	unquote() { sed -e 's/^ *//' -e 's/^"\(.*\)"$/\1/'; }
	author=$(sed -n 's/^author://p' "$f" | head -n 1 | unquote)
	title=$(sed -n 's/^title://p' "$f" | head -n 1 | unquote)
	if ! grep -qxF "$author:" data/authors.yaml; then
		echo "== Building $f"
		echo "NoMethodError: undefined method 'url' for nil:NilClass"
		echo "  source/layouts/article.erb:3:in 'block in singleton class'"
		exit 1
	fi
	base=$(basename "$f" .html.md)
	slug=${base#????-??-??-}
	mkdir -p "build/blog/$slug"
	printf '<html><head><title>%s</title></head><body><article><h1>%s</h1><p>by %s</p></article></body></html>\n' "$title" "$title" "$author" > "build/blog/$slug/index.html"
done
echo "== Built $(ls build/blog | wc -l) articles"
`,
}

// BuildAsyncRSBlog creates dir/blog.git, a middleman blog shaped like
// async.rs (see asyncRSFiles), whose build is build.sh.
func BuildAsyncRSBlog(dir, siteURL, author string) (*Blog, error) {
	b, err := BuildBlogWith(dir, "middleman", siteURL, author, asyncRSFiles)
	if err != nil {
		return nil, err
	}
	b.Build = "sh build.sh"
	return b, nil
}
