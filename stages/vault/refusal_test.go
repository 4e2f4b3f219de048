package vault

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/sandbox/gitserver"
)

// ProbePush proves a push credential before T0 as the forge would judge
// it at T0, and writes nothing: the push token is let in; a token the
// forge does not know, one that may only read, none where one is needed
// and a repository that does not exist are each refused with the forge's
// status and words, which Refusal reads back.
func TestProbePushIsJudgedAsThePushWouldBe(t *testing.T) {
	const token, readOnly = "push-token-3f9a", "read-token-77c1"
	type want struct {
		status int
		said   string
	}
	cases := []struct {
		forge      gitserver.Forge
		name, repo string
		auth       transport.AuthMethod
		want       want
	}{
		{gitserver.GitHub, "the push token", "public.git", Auth(token), want{}},
		{gitserver.GitHub, "a wrong token", "public.git", Auth("wrong-token"), want{401, "Invalid username or token. Password authentication is not supported for Git operations."}},
		{gitserver.GitHub, "a read-only token", "public.git", Auth(readOnly), want{403, "Permission to public.git denied to sandbox-reader."}},
		{gitserver.GitHub, "no token", "public.git", nil, want{401, ""}},
		{gitserver.GitHub, "an unknown repository", "missing.git", Auth(token), want{404, "Repository not found."}},
		{gitserver.GitHub, "an empty repository", "empty.git", Auth(token), want{}},
		{gitserver.Gitea, "the push token", "public.git", Auth(token), want{}},
		{gitserver.Gitea, "a wrong token", "public.git", Auth("wrong-token"), want{401, "Failed to authenticate user"}},
		{gitserver.Gitea, "a read-only token", "public.git", Auth(readOnly), want{403, "Forbidden"}},
		{gitserver.Gitea, "no token", "public.git", nil, want{401, "Unauthorized"}},
		{gitserver.Gitea, "an unknown repository", "missing.git", Auth(token), want{403, "Push to create is not enabled for users."}},
	}
	servers := map[gitserver.Forge]*gitserver.Server{}
	for _, f := range []gitserver.Forge{gitserver.GitHub, gitserver.Gitea} {
		w := newPushWorld(t)
		root := filepath.Dir(w.public)
		if _, err := git.PlainInit(filepath.Join(root, "empty.git"), true); err != nil {
			t.Fatal(err)
		}
		srv, err := gitserver.Start(root, gitserver.Options{Token: token, ReadOnlyToken: readOnly, Forge: f})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		servers[f] = srv
	}
	for _, tc := range cases {
		srv := servers[tc.forge]
		err := ProbePush(context.Background(), srv.RepoURL(tc.repo), tc.auth)
		status, said, ok := Refusal(err)
		switch {
		case tc.want.status == 0 && err != nil:
			t.Errorf("forge %d, %s: refused: %v", tc.forge, tc.name, err)
		case tc.want.status != 0 && (!ok || status != tc.want.status || said != tc.want.said):
			t.Errorf("forge %d, %s: %v read as (%d, %q, %v), want (%d, %q)", tc.forge, tc.name, err, status, said, ok, tc.want.status, tc.want.said)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("forge %d, %s: the error shows the token: %v", tc.forge, tc.name, err)
		}
	}
	for f, srv := range servers {
		if n := len(srv.Pushes()); n != 0 {
			t.Errorf("forge %d: a probe sent %d pushes", f, n)
		}
	}
}

// A read that gets no answer is no refusal; a repository missing at a
// local path is one, a 404.
func TestRefusalOfNoAnswerAndOfAMissingLocalRepository(t *testing.T) {
	if _, _, ok := Refusal(errors.New("dial tcp 127.0.0.1:1: connect: connection refused")); ok {
		t.Error("a refused connection read as a refusal of the remote")
	}
	v, err := Open(filepath.Join(t.TempDir(), "vault.git"))
	if err != nil {
		t.Fatal(err)
	}
	err = v.FetchPublic(context.Background(), filepath.Join(t.TempDir(), "nowhere.git"), nil)
	if status, _, ok := Refusal(err); !ok || status != 404 {
		t.Errorf("a missing local repository: %v read as (%d, %v), want a 404", err, status, ok)
	}
}
