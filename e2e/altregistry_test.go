package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/cargo"
)

// newAltRegistryRelease is the example released to an alternative registry
// named name (as a project on Gitea configures `[registry] name =
// "forge"`): demo depends on demo-core by path, version and `registry =
// name`, and both say `publish = [name]`.
func newAltRegistryRelease(t *testing.T, t0 time.Time, name string, opts registry.Options) *release {
	t.Helper()
	return buildReleaseWith(t, t0, gitserver.Options{}, &opts, func(o *demo.Options) { o.RegistryName = name })
}

// received is the sha256 of each .crate the kept rehearsal's sandbox
// registry received, by name@version.
func (rl *release) received() map[string]string {
	rl.t.Helper()
	files, _ := filepath.Glob(filepath.Join(rl.dir, ".embargo", "rehearsal", "*", "registry", "crates", "*", "*.crate"))
	out := map[string]string{}
	for _, f := range files {
		sum, err := cargo.FileSha256(f)
		if err != nil {
			rl.t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(f))+"@"+strings.TrimSuffix(filepath.Base(f), ".crate")] = sum
	}
	return out
}

// A sealed release to an alternative registry, a private one (auth-required)
// included, is rehearsed with the sealed bytes. cargo writes the registry's
// index URL into the package of a crate that depends on another of the
// release; the rehearsal's cargo keeps the real URL, and reaches its
// sandbox through a proxy answering for the real registry, which sees
// nothing but embargo's own reads.
func TestRehearsalOfAnAlternativeRegistryUploadsTheSealedBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts registry.Options
	}{
		{"forge", registry.Options{}},
		{privateRegistry, registry.Options{AuthRequired: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rl := newAltRegistryRelease(t, time.Now().Add(time.Hour), tc.name, tc.opts)
			if res := rl.run([]string{"seal"}); res.code != 0 {
				t.Fatalf("seal: %s", res)
			}
			sealed := readSealFile(t, rl.dir)
			before := len(rl.registry.Requests())
			res := rl.run([]string{"rehearse", "--keep"})
			if res.code != 0 {
				t.Fatalf("rehearse: %s", res)
			}
			got := rl.received()
			n := 0
			for _, l := range sealed.Lines {
				for _, c := range l.Crates {
					n++
					if nv := c.Name + "@" + c.Version; got[nv] != c.Sha256 {
						t.Errorf("the sandbox received %s with sha256 %q, sealed %s", nv, got[nv], c.Sha256)
					}
				}
			}
			if n == 0 || len(got) != n {
				t.Errorf("the sandbox received %v, want the %d sealed crates", got, n)
			}
			// Its cargo resolved through embargo's view of the index, as
			// at T0, the proxy passing it through.
			j, err := pipeline.ReadJournal(filepath.Join(rl.keptRehearsal(), "journal.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range j.Steps("publish") {
				if res := flatResult(st); strings.HasPrefix(st.Name, "publish ") && res["resolved_through"] != "index view" {
					t.Errorf("%s resolved through %q, want the index view", st.Name, res["resolved_through"])
				}
			}
			for _, r := range rl.registry.Requests()[before:] {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					t.Errorf("the real registry saw %s %s", r.Method, r.Path)
				}
			}
			rl.assertUnreleased()
			rl.assertNoSecret(res.stdout, res.stderr)
		})
	}
}

// A rehearsal of a sealed release rehearses the seal: when the held tip
// packages to other bytes than sealed (here the held branch moved since),
// the rehearsal fails before T0 naming both checksums, and its sandbox
// receives nothing.
func TestRehearsalOfASealedReleaseRefusesOtherBytesNamingBothChecksums(t *testing.T) {
	t.Parallel()
	rl := newAltRegistryRelease(t, time.Now().Add(time.Hour), "forge", registry.Options{})
	if res := rl.run([]string{"seal"}); res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	sealed := readSealFile(t, rl.dir)
	moved, err := world.CommitFile(rl.ex.World.Source, "embargo/1.13", "demo-core/src/extra.rs", "// after the seal\n", "A change after the seal")
	if err != nil {
		t.Fatal(err)
	}
	retag(t, rl.ex.World.Source, "v1.13.1", moved)
	res := rl.run([]string{"rehearse"})
	if res.code != 1 {
		t.Fatalf("rehearse: want exit 1, got %s", res)
	}
	var want string
	for _, l := range sealed.Lines {
		for _, c := range l.Crates {
			if l.Line == "1.13" && c.Name == "demo-core" {
				want = c.Sha256
			}
		}
	}
	got, err := cargo.FileSha256(cargo.PackagedFile(filepath.Join(rl.keptRehearsal(), "work", "1.13"), "demo-core", "1.13.1"))
	if err != nil || want == "" || got == want {
		t.Fatalf("the rehearsal packaged demo-core@1.13.1 as %q (%v), sealed %q: want other bytes", got, err, want)
	}
	if out := res.stdout + res.stderr; !strings.Contains(out, "demo-core@1.13.1 packages to sha256 "+got+", not the sealed "+want) {
		t.Errorf("the rehearsal does not name both checksums of demo-core@1.13.1 (%s, sealed %s):\n%s", got, want, out)
	}
	if got := rl.received(); len(got) != 0 {
		t.Errorf("the sandbox received %v", got)
	}
}

// retag moves the annotated tag of the repository at repoPath to commit.
func retag(t *testing.T, repoPath, tag, commit string) {
	t.Helper()
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteTag(tag); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: time.Now()}
	if _, err := repo.CreateTag(tag, plumbing.NewHash(commit), &git.CreateTagOptions{Tagger: sig, Message: "Release again\n"}); err != nil {
		t.Fatal(err)
	}
}

// keptRehearsal is the state directory of the one rehearsal kept.
func (rl *release) keptRehearsal() string {
	rl.t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(rl.dir, ".embargo", "rehearsal", "*", "state"))
	if len(dirs) != 1 {
		rl.t.Fatalf("kept rehearsals: %v", dirs)
	}
	return dirs[0]
}

// At T0 on a private alternative registry answering each request after
// 150 ms, a crate's uploaded_at is when the registry accepted its upload:
// no earlier than the registry's answer to the PUT, where cargo_started is
// before the PUT arrived; and the dependents resolved their dependency
// through embargo's view of the index, which serves only cargo.
func TestReleaseToAnAlternativeRegistryRecordsTheAcceptance(t *testing.T) {
	t.Parallel()
	const latency = 150 * time.Millisecond
	rl := newAltRegistryRelease(t, time.Now().Add(3*time.Second).Truncate(time.Second), privateRegistry, registry.Options{AuthRequired: true, Latency: latency})
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	puts := map[string]registry.Request{}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut && r.Status == http.StatusOK {
			puts[r.Crate+"@"+r.Version] = r
		}
	}
	for name, res := range rl.stepResults("publish", "publish ") {
		nv := strings.TrimPrefix(name, "publish ")
		put, ok := puts[nv]
		started, err1 := time.Parse(time.RFC3339Nano, res["cargo_started"])
		uploaded, err2 := time.Parse(time.RFC3339Nano, res["uploaded_at"])
		if !ok || err1 != nil || err2 != nil {
			t.Errorf("%s: PUT %v, cargo_started %q, uploaded_at %q", nv, ok, res["cargo_started"], res["uploaded_at"])
			continue
		}
		if answered := put.Time.Add(latency); uploaded.Before(answered) || !started.Before(put.Time) {
			t.Errorf("%s: cargo started %s, its PUT arrived %s and was answered no earlier than %s, uploaded_at %s: want the acceptance",
				nv, started.Format(time.RFC3339Nano), put.Time.Format(time.RFC3339Nano), answered.Format(time.RFC3339Nano), uploaded.Format(time.RFC3339Nano))
		}
		if strings.HasPrefix(nv, "demo@") && res["resolved_through"] != "index view" {
			t.Errorf("%s resolved through %q, want the index view", nv, res["resolved_through"])
		}
	}
}
