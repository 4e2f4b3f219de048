package release

import (
	"context"
	"io"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/oci"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

// The stages reach the services of a release through the interfaces
// below, each what the stages call of its client, so that a test gives a
// stage a fake in place of a server: GitHub and the image registries
// here; the registry's index and cargo as preflight and publish call them
// (indexclients.go), so that publish's decisions are tested without a
// registry or a cargo binary; the vault and the blog's clone, go-git
// repositories on this disk whose remotes are servers (gitclients.go), so
// that the push and the advisory stages are tested on a fake git world.

// AdvisoryAPI is GitHub's repository security advisory API: read the
// draft, and the one PATCH that publishes it (stages/github).
type AdvisoryAPI interface {
	Advisory(ctx context.Context, repo, id string) (*github.Advisory, error)
	Update(ctx context.Context, repo, id string, u github.Update) (*github.Advisory, error)
}

// ImageRegistry resolves image references to digests and copies an image
// to another name, byte for byte (stages/oci).
type ImageRegistry interface {
	Resolve(ctx context.Context, ref string) (string, error)
	Copy(ctx context.Context, src, dst string) (string, error)
}

// CrateReader is verify's read of the registry: its config.json, the
// index entry of each version, and the .crate downloads (stages/index).
type CrateReader interface {
	URL() string
	Config(ctx context.Context) (index.Config, error)
	Lookup(ctx context.Context, name, version string) (index.Entry, bool, error)
	Download(ctx context.Context, url string, w io.Writer) error
}

// Clients opens the clients of the stages: each stage is given the ones
// it uses as values (stages.All), never a variable of the package, so that
// a test gives a stage its fakes and runs beside the others.
type Clients struct {
	Vault     VaultOpener
	PushVault PushVaultOpener
	Fixes     FixesOpener
	Blog      BlogOpener
	GitHub    GitHubOpener
	Images    ImagesOpener
	Registry  RegistryOpener
	Index     IndexOpener
	Cargo     CargoOpener
	Mail      MailOpener
}

// What opens each client.
type (
	// VaultOpener opens the vault at path for preflight, publish and
	// verify, PushVaultOpener for the push stage (vault.Open).
	VaultOpener     func(path string) (ReleaseVault, error)
	PushVaultOpener func(path string) (PushVault, error)
	// FixesOpener opens the vault at path for `embargo notify`.
	FixesOpener func(path string) (HeldFixes, error)
	// BlogOpener opens a private clone of the blog (blog.Open).
	BlogOpener func(dir, url, branch string, auth transport.AuthMethod) (BlogClone, error)
	// GitHubOpener is the advisory API at api (github.New).
	GitHubOpener func(api string, opts github.Options) AdvisoryAPI
	// ImagesOpener reads and writes the image registries (oci.New).
	ImagesOpener func(opts oci.Options) ImageRegistry
	// RegistryOpener reads reg's index and downloads its crates, for
	// verify; IndexOpener reads its index as preflight and publish do
	// (index.New). Both wait between tries on clock.
	RegistryOpener func(reg Registry, clock retry.Clock) (CrateReader, error)
	IndexOpener    func(reg Registry, clock retry.Clock) (RegistryIndex, error)
	// CargoOpener is one line's cargo, as CargoFor sets it up.
	CargoOpener func(c *cargo.Cargo) LineCargo
)

// RealClients are the clients of the product: the vault and the blog's
// clone on this disk, GitHub's API, the image registries, the registry's
// index, the cargo binary.
func RealClients() Clients {
	return Clients{
		Vault: func(path string) (ReleaseVault, error) {
			v, err := openGitVault(path)
			if err != nil {
				return nil, err // not a gitVault holding nothing
			}
			return v, nil
		},
		PushVault: func(path string) (PushVault, error) {
			v, err := openGitVault(path)
			if err != nil {
				return nil, err
			}
			return v, nil
		},
		Fixes: func(path string) (HeldFixes, error) {
			v, err := openGitVault(path)
			if err != nil {
				return nil, err
			}
			return v, nil
		},
		Blog: func(dir, url, branch string, auth transport.AuthMethod) (BlogClone, error) {
			c, err := blog.Open(dir, url, branch, auth)
			if err != nil {
				return nil, err // not a nil *blog.Clone in an interface
			}
			return c, nil
		},
		GitHub: func(api string, opts github.Options) AdvisoryAPI { return github.New(api, opts) },
		Images: func(opts oci.Options) ImageRegistry { return oci.New(opts) },
		Registry: func(reg Registry, clock retry.Clock) (CrateReader, error) {
			c, err := OpenIndex(reg, clock)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Index: func(reg Registry, clock retry.Clock) (RegistryIndex, error) {
			c, err := OpenIndex(reg, clock)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Cargo: func(c *cargo.Cargo) LineCargo { return lineCargo{c} },
		Mail:  func(opts smtp.Options) Mailer { return smtp.New(opts) },
	}
}

// OpenIndex reads the registry's index, everywhere embargo reads it
// (preflight, publish, verify): with the registry's token, which it sends
// only if the registry wants it to be read (a private registry's
// auth-required), as cargo does. It waits between tries on clock.
func OpenIndex(reg Registry, clock retry.Clock) (*index.Client, error) {
	return index.New(reg.Index, index.Options{Token: reg.Token, TokenSource: reg.TokenSource, Clock: clock})
}

// The real clients implement the interfaces the stages hold them by.
var (
	_ ReleaseVault  = gitVault{}
	_ PushVault     = gitVault{}
	_ HeldFixes     = gitVault{}
	_ BlogClone     = (*blog.Clone)(nil)
	_ CrateReader   = (*index.Client)(nil)
	_ RegistryIndex = (*index.Client)(nil)
	_ LineCargo     = lineCargo{}
	_ Upload        = (*cargo.Upload)(nil)
	_ AdvisoryAPI   = (*github.Client)(nil)
	_ ImageRegistry = (*oci.Client)(nil)
	_ Mailer        = (*smtp.Client)(nil)
)
