package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
)

// A company's private registry wants the token for every read, not only
// for uploads (auth-required): the whole release reads it with the token,
// as cargo does, from preflight to verify, and shows the token nowhere.
func TestReleaseThroughAPrivateRegistry(t *testing.T) {
	t0 := time.Now().Add(3 * time.Second).Truncate(time.Second)
	rl := newPublishRelease(t, t0, registry.Options{AuthRequired: true})

	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	rl.assertOneUploadAttemptEach()

	// verify downloaded every crate from the registry, with the token, and
	// found the sealed bytes.
	sealed := rl.sealedSums()
	checked := 0
	for _, res := range rl.stepResults("verify", "crates ") {
		if res["compared_with"] != "sealed" {
			t.Errorf("verify compared with %q, want the sealed checksums", res["compared_with"])
		}
		for nv, sum := range res {
			if strings.Contains(nv, "@") {
				checked++
				if sum != sealed[nv] {
					t.Errorf("verify: %s downloaded with sha256 %s, sealed %s", nv, sum, sealed[nv])
				}
			}
		}
	}
	if checked != len(rl.versions()) {
		t.Errorf("verify downloaded %d crates, want %d", checked, len(rl.versions()))
	}

	// Nothing was refused once sent with the token, and nothing uploaded
	// before T0; everything answered was asked with it (the registry
	// serves nothing without).
	downloads := 0
	for _, r := range rl.registry.Requests() {
		switch {
		case r.Method == http.MethodHead && r.Path == "/":
			// The gate asking the registry's clock: no index read.
		case r.Token && (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden):
			t.Errorf("%s %s with the token: %d", r.Method, r.Path, r.Status)
		case !r.Token && r.Status != http.StatusUnauthorized:
			t.Errorf("%s %s without the token answered %d", r.Method, r.Path, r.Status)
		case r.Method == http.MethodPut && r.Time.Before(t0):
			t.Errorf("upload of %s@%s at %s, before T0", r.Crate, r.Version, r.Time.Format(time.RFC3339Nano))
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/download") && r.Status == http.StatusOK:
			downloads++
		}
	}
	if downloads < len(rl.versions()) {
		t.Errorf("%d downloads with the token, want at least %d", downloads, len(rl.versions()))
	}
	rl.assertNoSecret(res.stdout, res.stderr)
}

// Without its token, or with a wrong one, a private registry cannot even be
// checked: preflight says so, naming the config key and the variable, and
// never the token.
func TestPrivateRegistryWithoutItsTokenIsNamed(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{AuthRequired: true})
	const wrong = "not-the-company-token-8e2a"
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"unset", []string{registryTokenEnv + "="}, "the registry wants a token to be read, and none is set: export " + registryTokenEnv + " (registry.token_env in "},
		{"wrong", []string{registryTokenEnv + "=" + wrong}, "the registry refused the token: export a valid one for this registry in " + registryTokenEnv + " (registry.token_env in "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rl.run([]string{"check"}, tc.env...)
			if res.code != 1 {
				t.Fatalf("check: want exit 1, got %s", res)
			}
			if out := res.stdout + res.stderr; !strings.Contains(out, tc.want) {
				t.Errorf("check does not say %q:\n%s", tc.want, out)
			}
			rl.assertAbsent([]string{token, registryToken, wrong}, res.stdout, res.stderr)
		})
	}
	rl.assertUnreleased()
}

// A rehearsal of a release to a private registry reads the real index with
// the registry's token, and only reads: its sandbox holds the versions the
// real registry has, and the token shows nowhere. Without the token it
// still rehearses, and says what it could not see.
func TestRehearsalOfAPrivateRegistryRelease(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{AuthRequired: true})
	// The versions released before, which the advisory classifies.
	for _, l := range rl.ex.World.Lines {
		if err := rl.registry.Seed(registry.IndexEntry{Name: rl.ex.World.Crates[0], Vers: l.PublicVersion, Cksum: strings.Repeat("ab", 32)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res := rl.run([]string{"rehearse"})
	if res.code != 0 {
		t.Fatalf("rehearse: %s", res)
	}
	for _, want := range []string{
		"wants a token to be read: the sandbox was seeded from it with " + registryTokenEnv + ", read only",
		fmt.Sprintf("%d registry versions classified", len(rl.ex.World.Lines)),
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the rehearsal does not say %q:\n%s", want, res.stdout)
		}
	}
	for _, r := range rl.registry.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("the real registry saw %s %s", r.Method, r.Path)
		}
	}
	rl.assertNoSecret(res.stdout, res.stderr)
	rl.assertUnreleased()

	res = rl.run([]string{"rehearse"}, registryTokenEnv+"=")
	if res.code != 0 {
		t.Fatalf("rehearse without the token: %s", res)
	}
	for _, want := range []string{"the sandbox registry starts empty", "export " + registryTokenEnv, "0 registry versions classified"} {
		if !strings.Contains(res.stdout+res.stderr, want) {
			t.Errorf("the rehearsal without the token does not say %q:\n%s", want, res)
		}
	}
}
