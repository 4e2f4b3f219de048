package config_test

import (
	"strings"
	"testing"

	"github.com/async-rs/embargo/config"
)

func TestConfigTrustedPublishingNeedsNoTokenVariable(t *testing.T) {
	src := minimalConfig + "\n[registry]\ntrusted_publishing = true\nid_token_env = \"CRATES_IO_ID_TOKEN\"\n"
	cfg, err := config.Load(writeConfig(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Registry.TrustedPublishing || cfg.Registry.IDTokenEnv != "CRATES_IO_ID_TOKEN" {
		t.Errorf("registry = %+v", cfg.Registry)
	}
	if cfg.Registry.TokenEnv != "" {
		t.Errorf("token_env defaulted to %q with Trusted Publishing: the long-lived token would still be looked for", cfg.Registry.TokenEnv)
	}
}

func TestConfigTrustedPublishingWithATokenVariableIsRefusedAtItsLine(t *testing.T) {
	src := minimalConfig + "\n[registry]\ntrusted_publishing = true\ntoken_env = \"CARGO_REGISTRY_TOKEN\"  # <- both\n"
	expectProblems(t, src, want{"registry.token_env", "# <- both", []string{"trusted_publishing"}})
}

func TestConfigIDTokenEnvWithoutTrustedPublishingIsRefused(t *testing.T) {
	src := minimalConfig + "\n[registry]\nid_token_env = \"CRATES_IO_ID_TOKEN\"  # <- alone\n"
	expectProblems(t, src, want{"registry.id_token_env", "# <- alone", []string{"Trusted Publishing"}})
}

func TestConfigIDTokenPastedIntoIDTokenEnvIsRefused(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjcmF0ZXMuaW8ifQ.c2lnbmF0dXJl"
	src := minimalConfig + "\n[registry]\ntrusted_publishing = true\nid_token_env = \"" + jwt + "\"  # <- pasted\n"
	problems := expectProblems(t, src, want{"registry.id_token_env", "# <- pasted", []string{"value not shown"}})
	if s := problems[0].String(); strings.Contains(s, jwt) || strings.Contains(s, jwt[:20]) {
		t.Errorf("the problem %q repeats the JWT", s)
	}
}
