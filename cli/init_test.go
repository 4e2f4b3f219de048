package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/world"
)

// fillPlaceholders replaces the values init could not guess as an
// operator would, and writes the description it names.
func fillPlaceholders(t *testing.T, config string) {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for key, value := range map[string]string{
		"at":       "2026-12-01T14:00:00Z",
		"title":    `"Out-of-bounds read in demo_core::get"`,
		"severity": `"high"`,
	} {
		re := regexp.MustCompile(`(?m)^(` + key + ` *= *)"TODO:.*$`)
		if !re.MatchString(src) {
			t.Fatalf("the starter config has no placeholder for %s:\n%s", key, src)
		}
		src = re.ReplaceAllString(src, "${1}"+value)
	}
	if strings.Contains(src, `"TODO:`) {
		t.Fatalf("placeholders left that an operator of this world would not expect:\n%s", src)
	}
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(filepath.Dir(config), "advisory.md")
	if err := os.WriteFile(desc, []byte("An index was not checked.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// init in the clone holding the held branches writes a config naming each
// held line as the world has it; once its placeholders are filled it loads.
func TestInitWritesAStarterConfigFromTheRepository(t *testing.T) {
	w, err := world.Build(world.DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := embargo(t, "init", "--dir", w.Source)
	if code != ExitOK {
		t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
	}
	cfgFile := filepath.Join(w.Source, "embargo.toml")
	if !strings.Contains(stdout, "wrote "+cfgFile) || !strings.Contains(stdout, "embargo check -c "+cfgFile) {
		t.Errorf("init does not say what it wrote and what to run next:\n%s", stdout)
	}

	// As written, it is refused for exactly what init could not know.
	_, err = config.Load(cfgFile)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("the unfilled starter config loads (%v); its placeholders must be refused", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
		if p.Line == 0 {
			t.Errorf("problem %s is not located", p)
		}
	}
	if got := strings.Join(keys, " "); got != "embargo.at advisory.title advisory.severity advisory.description" {
		t.Errorf("the unfilled config's problems are %q:\n%v", got, err)
	}

	fillPlaceholders(t, cfgFile)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatalf("the filled starter config does not load: %v", err)
	}
	if cfg.Source.Public != w.Public || cfg.Resolve(cfg.Source.Repo) != w.Source {
		t.Errorf("source: public %q repo %q, want origin %q and the clone %q", cfg.Source.Public, cfg.Resolve(cfg.Source.Repo), w.Public, w.Source)
	}
	if cfg.Embargo.Handler != "Jane Doe <jane@example.org>" || cfg.Embargo.ID != "DEMO-SA-2026-001" || cfg.Advisory.Package != "demo" {
		t.Errorf("guesses: handler %q, id %q, package %q", cfg.Embargo.Handler, cfg.Embargo.ID, cfg.Advisory.Package)
	}
	if cfg.Registry.Name != "crates-io" || cfg.Registry.Index != config.DefaultRegistryIndex {
		t.Errorf("registry %+v, want crates.io by default", cfg.Registry)
	}
	if len(cfg.Releases) != len(w.Lines) {
		t.Fatalf("%d releases, want one per held branch (%d):\n%+v", len(cfg.Releases), len(w.Lines), cfg.Releases)
	}
	for i, l := range w.Lines {
		r := cfg.Releases[i]
		if r.Line != l.Line || r.Branch != l.HeldBranch || r.PublicBranch != l.PublicBranch || r.Tag != l.Tag ||
			strings.Join(r.Crates, " ") != "demo-core demo" {
			t.Errorf("release[%d] = %+v, want line %s held %s public %s tag %s crates demo-core demo", i+1, r, l.Line, l.HeldBranch, l.PublicBranch, l.Tag)
		}
	}
	if cfg.Blog != nil || cfg.Seal != nil || len(cfg.Images) > 0 {
		t.Errorf("blog, seal and images are written commented out, got %+v %+v %+v", cfg.Blog, cfg.Seal, cfg.Images)
	}
}

// A second init never replaces the cfgFile, filled in or not.
func TestInitNeverOverwritesAConfig(t *testing.T) {
	w, err := world.Build(world.DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "release.toml")
	if code, stdout, stderr := embargo(t, "init", "--dir", w.Source, "-o", out); code != ExitOK {
		t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := os.WriteFile(out, []byte("# the operator's own work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := embargo(t, "init", "--dir", w.Source, "-o", out)
	if code != ExitUsage || !strings.Contains(stderr, out+" already exists") {
		t.Errorf("second init: exit %d, stderr %q; want exit 2 saying %s already exists", code, stderr, out)
	}
	if b, _ := os.ReadFile(out); string(b) != "# the operator's own work\n" {
		t.Errorf("second init changed the file:\n%s", b)
	}
}

// A held branch whose tag is not made yet is tagged after its crates'
// version; one whose crates are not bumped yet gets the next patch
// release, and a note saying to bump them. A branch of a held name that
// origin has is public, not held.
func TestInitGuessesTagsOfBranchesNotYetTaggedOrBumped(t *testing.T) {
	w, err := world.Build(world.DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(w.Source)
	if err != nil {
		t.Fatal(err)
	}
	main, err := r.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []plumbing.ReferenceName{"refs/heads/embargo/1.13", "refs/tags/v1.13.1", "refs/tags/v1.12.5"} {
		if err := r.Storer.RemoveReference(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference("refs/heads/security/1.13", main.Hash())); err != nil {
		t.Fatal(err)
	}
	if _, err := world.CommitFile(w.Source, "security/1.13", "FIX.md", "the fix, not bumped yet\n", "Fix"); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(w.Source, "embargo.toml")
	code, stdout, stderr := embargo(t, "init", "--dir", w.Source)
	if code != ExitOK {
		t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "still 1.13.0, as public main: bump them to 1.13.1") {
		t.Errorf("no note to bump the crates of security/1.13:\n%s", b)
	}
	if !strings.Contains(stdout, "release-1.12: origin has it") {
		t.Errorf("init does not say release-1.12 was taken for public:\n%s", stdout)
	}
	fillPlaceholders(t, out)
	cfg, err := config.Load(out)
	if err != nil {
		t.Fatalf("the filled starter config does not load: %v", err)
	}
	var got []string
	for _, r := range cfg.Releases {
		got = append(got, r.Line+" "+r.Branch+" "+r.PublicBranch+" "+r.Tag)
	}
	if want := "1.13 security/1.13 main v1.13.1|1.12 embargo/1.12 release-1.12 v1.12.5"; strings.Join(got, "|") != want {
		t.Errorf("releases %q, want %q", strings.Join(got, "|"), want)
	}
}
