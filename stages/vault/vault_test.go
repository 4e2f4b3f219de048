package vault

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// A process killed while go-git rewrote a ref leaves the file empty or cut
// short; the next run opens the vault and reads its refs as if the ref had
// never been written.
func TestTornRefLeftByACrashIsDroppedOnOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vault.git")
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := plumbing.NewHash("364af8c2bd7d0a4f5e3c2b1a0f9e8d7c6b5a4f3e")
	if err := v.repo.Storer.SetReference(plumbing.NewHashReference("refs/held/embargo/1.13", good)); err != nil {
		t.Fatal(err)
	}
	torn := map[string]string{
		"refs/held/embargo/1.12": "",
		"refs/tags/v1.12.5":      "257d6db6",
	}
	for name, content := range torn {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.repo.References(); err == nil {
		if iter, _ := v.repo.References(); iter != nil {
			if err := iter.ForEach(func(*plumbing.Reference) error { return nil }); err == nil {
				t.Fatal("the torn refs did not break reading the refs: the test shows nothing")
			}
		}
	}

	v, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	iter, err := v.repo.References()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := iter.ForEach(func(r *plumbing.Reference) error { names = append(names, r.Name().String()); return nil }); err != nil {
		t.Fatalf("reading the refs after reopening: %v", err)
	}
	if h, ok := v.Held("embargo/1.13"); !ok || h != good {
		t.Errorf("the sound ref was lost: %v %v", h, ok)
	}
	if _, ok := v.Held("embargo/1.12"); ok {
		t.Error("the torn held ref still reads")
	}
}
