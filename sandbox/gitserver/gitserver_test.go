package gitserver

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

const token = "s3cret-token"

func setup(t *testing.T) (*Server, string, *git.Repository, plumbing.Hash) {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "public.git")
	if _, err := git.PlainInit(bare, true); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(root, Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	work := t.TempDir()
	repo, err := git.PlainInit(work, false)
	if err != nil {
		t.Fatal(err)
	}
	h := commit(t, repo, work, "README.md", "hello\n")
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{srv.RepoURL("public.git")}}); err != nil {
		t.Fatal(err)
	}
	return srv, bare, repo, h
}

func commit(t *testing.T, repo *git.Repository, work, name, content string) plumbing.Hash {
	t.Helper()
	if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "T", Email: "t@example.org", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit("add "+name, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func refHash(t *testing.T, bare, ref string) (plumbing.Hash, bool) {
	t.Helper()
	r, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := r.Reference(plumbing.ReferenceName(ref), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return ref2.Hash(), true
}

func push(repo *git.Repository, auth transport.AuthMethod, atomic bool, specs ...string) error {
	var rs []config.RefSpec
	for _, s := range specs {
		rs = append(rs, config.RefSpec(s))
	}
	return repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: rs, Auth: auth, Atomic: atomic})
}

func TestPushRequiresToken(t *testing.T) {
	srv, bare, repo, _ := setup(t)

	err := push(repo, nil, false, "refs/heads/master:refs/heads/main")
	if !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Fatalf("push without token: got %v, want authentication required", err)
	}
	err = push(repo, &githttp.BasicAuth{Username: "x", Password: "wrong"}, false, "refs/heads/master:refs/heads/main")
	if err == nil {
		t.Fatal("push with wrong token succeeded")
	}
	if _, ok := refHash(t, bare, "refs/heads/main"); ok {
		t.Fatal("unauthorized push changed a ref")
	}
	rps := srv.ReceivePacks()
	if len(rps) == 0 {
		t.Fatal("no receive-pack request recorded")
	}
	for _, r := range rps {
		if r.Status != http.StatusUnauthorized || r.Authorized {
			t.Fatalf("unauthorized receive-pack recorded as %+v", r)
		}
	}

	resp, err := http.Get(srv.RepoURL("public.git") + "/info/refs?service=git-receive-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="GitHub"` {
		t.Fatalf("advertisement without token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestPushWithTokenAndAnonymousClone(t *testing.T) {
	srv, bare, repo, h := setup(t)
	start := time.Now()

	auth := &githttp.BasicAuth{Username: "anyone", Password: token}
	if err := push(repo, auth, false, "refs/heads/master:refs/heads/main"); err != nil {
		t.Fatalf("push with token: %v", err)
	}
	if got, ok := refHash(t, bare, "refs/heads/main"); !ok || got != h {
		t.Fatalf("public main = %v (%v), want %v", got, ok, h)
	}

	clone, err := git.PlainClone(t.TempDir(), false, &git.CloneOptions{
		URL:           srv.RepoURL("public.git"),
		ReferenceName: "refs/heads/main",
		SingleBranch:  true,
	})
	if err != nil {
		t.Fatalf("anonymous clone: %v", err)
	}
	head, err := clone.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Hash() != h {
		t.Fatalf("cloned head %v, want %v", head.Hash(), h)
	}

	reqs := srv.Requests()
	var services []string
	prev := start
	for _, r := range reqs {
		if r.Time.Before(prev) {
			t.Fatalf("request times out of order: %+v", reqs)
		}
		prev = r.Time
		services = append(services, r.Method+" "+r.Service)
	}
	want := []string{
		"GET git-receive-pack", "POST git-receive-pack",
		"GET git-upload-pack", "POST git-upload-pack",
	}
	if strings.Join(services, ",") != strings.Join(want, ",") {
		t.Fatalf("services = %v, want %v", services, want)
	}
	for _, r := range srv.ReceivePacks() {
		if !r.Authorized || r.Status != http.StatusOK {
			t.Fatalf("receive-pack recorded as %+v", r)
		}
	}
	if n := len(srv.ReceivePacks()); n != 2 {
		t.Fatalf("%d receive-pack requests, want 2", n)
	}
	if p := srv.Pushes(); len(p) != 1 || p[0].Method != http.MethodPost {
		t.Fatalf("pushes = %+v, want the one receive-pack POST", p)
	}
}

func TestAtomicPush(t *testing.T) {
	srv, bare, repo, h1 := setup(t)
	wt, _ := repo.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Branch: "refs/heads/fix", Create: true}); err != nil {
		t.Fatal(err)
	}
	h2 := commit(t, repo, wt.Filesystem.Root(), "FIX.md", "fixed\n")

	req, _ := http.NewRequest("GET", srv.RepoURL("public.git")+"/info/refs?service=git-receive-pack", nil)
	req.SetBasicAuth("u", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "atomic") {
		t.Fatalf("receive-pack advertisement (%d) lacks atomic: %q", resp.StatusCode, body)
	}

	auth := &githttp.BasicAuth{Username: "u", Password: token}
	if err := push(repo, auth, true, "refs/heads/master:refs/heads/main", "refs/heads/fix:refs/heads/release-1"); err != nil {
		t.Fatalf("atomic push: %v", err)
	}
	if got, _ := refHash(t, bare, "refs/heads/main"); got != h1 {
		t.Fatalf("main = %v, want %v", got, h1)
	}
	if got, _ := refHash(t, bare, "refs/heads/release-1"); got != h2 {
		t.Fatalf("release-1 = %v, want %v", got, h2)
	}
}

func TestNoTokenAllowsPush(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "r.git")
	if _, err := git.PlainInit(bare, true); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	work := t.TempDir()
	repo, _ := git.PlainInit(work, false)
	h := commit(t, repo, work, "a", "a")
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{srv.RepoURL("r.git")}}); err != nil {
		t.Fatal(err)
	}
	if err := push(repo, nil, false, "refs/heads/master:refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	if got, _ := refHash(t, bare, "refs/heads/main"); got != h {
		t.Fatalf("main = %v, want %v", got, h)
	}
}

// A forge whose clock is off: its Date headers and its request log read
// the same clock, and its front page answers without git.
func TestClockOffsetMovesDateAndRequestLogTogether(t *testing.T) {
	root := t.TempDir()
	if _, err := git.PlainInit(filepath.Join(root, "public.git"), true); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(root, Options{ClockOffset: 42 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	before := time.Now()
	var dates []time.Time
	for _, u := range []string{srv.URL + "/", srv.RepoURL("public.git") + "/info/refs?service=git-upload-pack"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("GET %s: Date %q: %v", u, resp.Header.Get("Date"), err)
		}
		dates = append(dates, d)
	}
	after := time.Now()
	lo, hi := before.Add(42*time.Second).Truncate(time.Second), after.Add(42*time.Second)
	for _, d := range dates {
		if d.Before(lo) || d.After(hi) {
			t.Errorf("Date %s, want between %s and %s (42 s ahead)", d.Format(time.RFC3339), lo.Format(time.RFC3339), hi.Format(time.RFC3339Nano))
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[1].Service != UploadPack {
		t.Fatalf("requests %+v, want the front page and the ref advertisement", reqs)
	}
	for _, r := range reqs {
		if r.Time.Before(before.Add(42*time.Second)) || r.Time.After(after.Add(42*time.Second)) {
			t.Errorf("%s %s logged at %s, not on the server's clock (42 s ahead)", r.Method, r.Path, r.Time.Format(time.RFC3339Nano))
		}
	}
}

// Each refusal is the forge's own: its status, its realm and its words,
// for a push and for a fetch, with no credential, an unknown one, a
// read-only one and the push token, to a repository that exists and to
// one that does not.
func TestRefusalsAreTheForgesOwn(t *testing.T) {
	const readOnly = "read-only-token"
	type answer struct {
		status      int
		realm, said string
	}
	ok := answer{status: http.StatusOK}
	cases := []struct {
		forge         Forge
		cred, service string
		repo          string
		want          answer
	}{
		{GitHub, "", ReceivePack, "public.git", answer{401, `Basic realm="GitHub"`, ""}},
		{GitHub, "wrong", ReceivePack, "public.git", answer{401, `Basic realm="GitHub"`, "Invalid username or token. Password authentication is not supported for Git operations.\n"}},
		{GitHub, "wrong", UploadPack, "public.git", answer{401, `Basic realm="GitHub"`, "Invalid username or token. Password authentication is not supported for Git operations.\n"}},
		{GitHub, readOnly, ReceivePack, "public.git", answer{403, "", "Permission to public.git denied to sandbox-reader.\n"}},
		{GitHub, readOnly, UploadPack, "public.git", ok},
		{GitHub, token, ReceivePack, "public.git", ok},
		{GitHub, "", UploadPack, "public.git", ok},
		{GitHub, token, ReceivePack, "missing.git", answer{404, "", "Repository not found.\n"}},
		{GitHub, "", UploadPack, "missing.git", answer{404, "", "Repository not found.\n"}},
		{GitHub, "", ReceivePack, "missing.git", answer{401, `Basic realm="GitHub"`, ""}},
		{Gitea, "", ReceivePack, "public.git", answer{401, `Basic realm="Gitea"`, "Unauthorized\n"}},
		{Gitea, "wrong", ReceivePack, "public.git", answer{401, "", "Failed to authenticate user\n"}},
		{Gitea, "wrong", UploadPack, "public.git", answer{401, "", "Failed to authenticate user\n"}},
		{Gitea, readOnly, ReceivePack, "public.git", answer{403, "", "Forbidden\n"}},
		{Gitea, token, ReceivePack, "public.git", ok},
		{Gitea, "", UploadPack, "public.git", ok},
		{Gitea, "", UploadPack, "missing.git", answer{401, `Basic realm="Gitea"`, "Unauthorized\n"}},
		{Gitea, token, UploadPack, "missing.git", answer{404, "", "Repository not found\n"}},
		{Gitea, token, ReceivePack, "missing.git", answer{403, "", "Push to create is not enabled for users.\n"}},
	}
	servers := map[Forge]*Server{}
	for _, f := range []Forge{GitHub, Gitea} {
		root := t.TempDir()
		if _, err := git.PlainInit(filepath.Join(root, "public.git"), true); err != nil {
			t.Fatal(err)
		}
		srv, err := Start(root, Options{Token: token, ReadOnlyToken: readOnly, Forge: f})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		servers[f] = srv
	}
	for _, tc := range cases {
		srv := servers[tc.forge]
		req, _ := http.NewRequest(http.MethodGet, srv.RepoURL(tc.repo)+"/info/refs?service="+tc.service, nil)
		if tc.cred != "" {
			req.SetBasicAuth("x-access-token", tc.cred)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := answer{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)}
		if tc.want.status == http.StatusOK {
			got.said = tc.want.said // the advertisement itself
		}
		if got != tc.want {
			t.Errorf("forge %d, credential %q, %s of %s: got %+v, want %+v", tc.forge, tc.cred, tc.service, tc.repo, got, tc.want)
		}
	}
	for f, srv := range servers {
		// Only the push token's requests are authorized: one to each
		// repository.
		var authorized []string
		for _, r := range srv.ReceivePacks() {
			if r.Authorized {
				authorized = append(authorized, r.Path)
			}
		}
		if want := []string{"/public.git/info/refs", "/missing.git/info/refs"}; !slices.Equal(authorized, want) && !slices.Equal(authorized, []string{want[1], want[0]}) {
			t.Errorf("forge %d: authorized receive-packs %q, want %q", f, authorized, want)
		}
	}
	if n := len(servers[GitHub].Pushes()) + len(servers[Gitea].Pushes()); n != 0 {
		t.Errorf("%d pushes recorded, none made", n)
	}
}
