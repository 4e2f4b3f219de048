package cli

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages"
	"github.com/async-rs/embargo/stages/openpgp"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// plan shows the announce stage after publish and before the post, with
// its recipients and the signing key's fingerprint, and no secret.
func TestPlanShowsTheAnnouncementWithItsRecipientsAndKey(t *testing.T) {
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b) + `
[announce]
smtp            = "smtp.example.org:587"
user            = "security@demo.rs"
password_env    = "EMBARGO_SMTP_PASSWORD"
from            = "demo security <security@demo.rs>"
to              = ["announce@lists.example.org"]
notice          = ["oss-security@lists.example.org"]
signing_key_env = "EMBARGO_SIGNING_KEY"
passphrase_env  = "EMBARGO_SIGNING_PASSPHRASE"
`
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	env := releasetest.AnnounceEnv(t)
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, pipeline.NewFakeClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)))
	if code := a.execute(context.Background(), []string{"plan", "-c", config}); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	k, err := openpgp.ReadKey(releasetest.SigningKey(t), releasetest.Passphrase, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	row := func(stage string) int {
		return regexp.MustCompile(`(?m)^\d+\.\s+` + stage + ` `).FindStringIndex(plan)[0]
	}
	if !(row("publish") < row("announce") && row("announce") < row("advisory") && row("ghsa") < row("notice") && row("advisory") < row("notice")) {
		t.Errorf("plan does not list announce after publish and before advisory, and the notice after the post and the GHSA:\n%s", plan)
	}
	for _, w := range []string{"announcement to announce@lists.example.org", "notice to oss-security@lists.example.org", "signed with key " + k.Fingerprint()} {
		if !strings.Contains(plan, w) {
			t.Errorf("plan does not say %q:\n%s", w, plan)
		}
	}
	for _, s := range []string{releasetest.SMTPPassword, releasetest.Passphrase, strings.Split(releasetest.SigningKey(t), "\n")[3]} {
		if strings.Contains(plan+errb.String(), s) {
			t.Errorf("plan shows a secret (%.8s…)", s)
		}
	}
}

// The post waits for the mail (the WG's order), and plan says so, but only
// where there is a mail to wait for.
func TestPlanSaysThePostWaitsForTheMailOnlyWithOne(t *testing.T) {
	all := stages.All(release.Clients{})
	i := slices.IndexFunc(all, func(st release.Stage) bool { return st.Name() == release.Advisory })
	cfg := &config.Config{}
	if got := stageWhen(cfg, all[i], all); got != "after publish" {
		t.Errorf("without [announce], plan says the post comes %q, want after publish", got)
	}
	cfg.Announce = &config.AnnounceSection{To: []string{"announce@lists.example.org"}}
	if got := stageWhen(cfg, all[i], all); got != "after publish, announce" {
		t.Errorf("with [announce], plan says the post comes %q, want after publish, announce", got)
	}
}

// The notice links to the post and the GitHub advisory, and plan says it
// waits for both where they are configured.
func TestPlanSaysTheNoticeWaitsForThePostAndTheGHSA(t *testing.T) {
	all := stages.All(release.Clients{})
	i := slices.IndexFunc(all, func(st release.Stage) bool { return st.Name() == release.Notice })
	cfg := &config.Config{Announce: &config.AnnounceSection{Notice: []string{"oss-security@lists.example.org"}}, Blog: &config.BlogSection{}, GHSA: &config.GHSASection{}}
	if got := stageWhen(cfg, all[i], all); got != "after publish, advisory, ghsa" {
		t.Errorf("plan says the notice comes %q, want after publish, advisory, ghsa", got)
	}
}
