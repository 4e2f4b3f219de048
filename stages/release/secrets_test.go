package release_test

import (
	"slices"
	"testing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// With Trusted Publishing, what mints a publish token (the runner's OIDC
// request token, the CI's ID token) is a secret of the release like its
// tokens: cargo and the site's build do not inherit it.
func TestSecretVariablesCoverWhatMintsAPublishToken(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Source:   config.SourceSection{TokenEnv: "EMBARGO_GIT_TOKEN"},
		Registry: config.RegistrySection{TrustedPublishing: true, IDTokenEnv: "CRATES_IO_ID_TOKEN"},
		Blog:     &config.BlogSection{TokenEnv: "EMBARGO_BLOG_TOKEN"},
		Seal:     &config.SealSection{IdentityEnv: "EMBARGO_AGE_IDENTITY"},
		GHSA:     &config.GHSASection{TokenEnv: "EMBARGO_GHSA_TOKEN"},
	}
	got := release.SecretVariables(cfg)
	for _, want := range []string{"EMBARGO_GIT_TOKEN", "EMBARGO_BLOG_TOKEN", "EMBARGO_AGE_IDENTITY", "EMBARGO_GHSA_TOKEN",
		"CRATES_IO_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s is not among the secret variables %v", want, got)
		}
	}
	r := &release.Run{Run: &pipeline.Run{Secrets: pipeline.NewSecrets(nil)}, Release: &release.Release{Config: cfg, StateDir: t.TempDir(), Targets: release.Real(cfg, nil)}}
	if h := release.CargoFor(r, "1.0").Hide; !slices.Equal(h, got) {
		t.Errorf("cargo hides %v, want %v", h, got)
	}
}
