// Package stages lists the release: All is the whole pipeline, in order.
// Each stage is a package of its own under stages/, around the release
// core (stages/release); adding a stage is adding a package and a line
// here.
package stages

import (
	"github.com/async-rs/embargo/stages/advisory"
	"github.com/async-rs/embargo/stages/announce"
	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/ghsa"
	"github.com/async-rs/embargo/stages/notice"
	"github.com/async-rs/embargo/stages/notify"
	"github.com/async-rs/embargo/stages/preflight"
	"github.com/async-rs/embargo/stages/promote"
	"github.com/async-rs/embargo/stages/publish"
	"github.com/async-rs/embargo/stages/push"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/verify"
)

// All is the release, in order, each stage given the clients it uses. Each
// stage names what it needs (Needs), and the engine starts it once that is
// done: push, promote and publish start together after preflight, prepare
// everything before T0 and make their first public write when the gate
// opens.
func All(c release.Clients) []release.Stage {
	return []release.Stage{
		preflight.Stage{Vault: c.Vault, Index: c.Index, Cargo: c.Cargo, GitHub: c.GitHub, Mail: c.Mail}, // check everything that can be checked before T0
		gate.Stage{},                    // wait for T0, to the second, on every target's clock
		push.Stage{Vault: c.PushVault},  // at T0: one atomic push of the held branches and tags
		promote.Stage{Images: c.Images}, // at T0: copy pre-built images to their public names, by digest
		publish.Stage{Vault: c.Vault, Index: c.Index, Cargo: c.Cargo},                                      // at T0: cargo publish of every crate, sealed bytes only
		announce.Stage{Mail: c.Mail, Index: c.Index, Blog: c.Blog},                                         // after publish: the signed mail to the announcement list
		advisory.Stage{Blog: c.Blog, Index: c.Index},                                                       // after the mail: the post and its feed entry on the blog
		ghsa.Stage{GitHub: c.GitHub},                                                                       // after publish: the draft GitHub security advisory published
		notice.Stage{Mail: c.Mail, Index: c.Index, Blog: c.Blog},                                           // after the post and the GHSA: the short notice with their links
		verify.Stage{Registry: c.Registry, Index: c.Index, Vault: c.Vault, Blog: c.Blog, GitHub: c.GitHub}, // last: everything live, within the window
	}
}

// Notify is `embargo notify`'s stage, given the clients it uses: the
// distros pre-notice, sent days before T0 and recorded in the journal
// beside the release's stages, which it is not one of.
func Notify(c release.Clients) release.Stage {
	return notify.Stage{Vault: c.Fixes, Mail: c.Mail}
}
