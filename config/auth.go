package config

import "github.com/BurntSushi/toml"

// validateRegistryAuth checks how publishes authenticate: a token from
// registry.token_env, or Trusted Publishing, never both.
func (c *Config) validateRegistryAuth(v *validator, md toml.MetaData) {
	r := &c.Registry
	if !r.TrustedPublishing {
		if r.IDTokenEnv != "" {
			v.add("registry.id_token_env", "is only read with Trusted Publishing", "set trusted_publishing = true, or remove id_token_env")
		}
		if r.TokenEnv == "" {
			r.TokenEnv = DefaultRegistryToken
		}
		v.envName("registry.token_env", r.TokenEnv)
		return
	}
	// The short-lived token replaces the long-lived one: a config naming
	// both would leave a reader unsure which one publishes.
	if md.IsDefined("registry", "token_env") {
		v.add("registry.token_env", "cannot be set with trusted_publishing = true: the publish token comes from the CI's OIDC exchange",
			"remove token_env (and the secret behind it), or set trusted_publishing = false")
	}
	r.TokenEnv = ""
	v.envName("registry.id_token_env", r.IDTokenEnv)
}
