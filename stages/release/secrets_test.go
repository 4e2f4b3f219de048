package release_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
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

// The mail's secrets are the release's like its tokens: the password, the
// armored key (each line of it) and its passphrase are read through the
// run's secrets, so that nothing printed or stored holds them, and cargo
// and the site's build do not inherit their variables.
func TestTheMailSecretsAreScrubbedLikeTokens(t *testing.T) {
	t.Parallel()
	cfg := releasetest.AnnounceConfig()
	key := releasetest.SigningKey(t)
	env := releasetest.AnnounceEnv(t)
	secrets := pipeline.NewSecrets(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	release.Real(cfg, secrets)
	line := strings.Split(key, "\n")[3]
	for _, v := range []string{releasetest.SMTPPassword, releasetest.Passphrase, key, line} {
		if got := secrets.Scrub("said: " + v); strings.Contains(got, v) {
			t.Errorf("Scrub = %q: a secret of [announce] is not scrubbed", got)
		}
	}
	vars := release.SecretVariables(cfg)
	for _, want := range []string{releasetest.SMTPPasswordEnv, releasetest.SigningKeyEnv, releasetest.PassphraseEnv} {
		if !slices.Contains(vars, want) {
			t.Errorf("%s is not among the secret variables %v", want, vars)
		}
	}
}
