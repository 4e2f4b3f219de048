package cargo

import (
	"context"
	"strings"
	"testing"
)

// cargo, and the build scripts and compilers it runs while verifying a
// package, inherit none of the release's other secrets: the variables Hide
// names are not in its environment; the registry token reaches cargo only
// as the release hands it over.
func TestCargoInheritsNoneOfTheHiddenSecrets(t *testing.T) {
	t.Setenv("EMBARGO_GIT_TOKEN", "git-secret-1")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc-request-secret-2")
	t.Setenv("CARGO_REGISTRY_TOKEN", "inherited-registry-secret-3")
	t.Setenv("PATH_LIKE_SETTING", "kept")
	c := &Cargo{Home: t.TempDir(), Registry: Registry{Name: "crates-io", Index: CratesIOIndex, Token: "handed-over"},
		Hide: []string{"EMBARGO_GIT_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}}
	env := strings.Join(c.command(context.Background(), t.TempDir(), true, "package").Env, "\n")
	for _, secret := range []string{"git-secret-1", "oidc-request-secret-2", "inherited-registry-secret-3"} {
		if strings.Contains(env, secret) {
			t.Errorf("cargo's environment holds %q", secret)
		}
	}
	if !strings.Contains(env, "PATH_LIKE_SETTING=kept") || !strings.Contains(env, "CARGO_REGISTRY_TOKEN=handed-over") {
		t.Errorf("cargo's environment lost what it needs:\n%s", env)
	}
}
