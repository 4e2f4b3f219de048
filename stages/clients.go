package stages

import (
	"context"
	"io"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/oci"
)

// The stages reach the services of a release through the interfaces
// below, each what the stages call of its client, so that a test gives a
// stage a fake in place of a server: GitHub and the image registries
// here; the registry's index and cargo as preflight and publish call them
// (publishclients.go), so that publish's decisions are tested without a
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

// Clients makes the clients the stages use.
type Clients struct {
	// Vault opens the vault at path for preflight, publish and verify,
	// PushVault for the push stage (vault.Open).
	Vault     func(path string) (ReleaseVault, error)
	PushVault func(path string) (PushVault, error)
	// Blog opens the advisory stage's clone of the blog (blog.Open).
	Blog func(dir, url, branch string, auth transport.AuthMethod) (BlogClone, error)

	// GitHub is the advisory API at api (github.New).
	GitHub func(api string, opts github.Options) AdvisoryAPI
	// Images reads and writes the image registries (oci.New).
	Images func(opts oci.Options) ImageRegistry
	// Registry reads the run's registry, with its token.
	Registry func(r *pipeline.Run) (CrateReader, error)
	// Index is the registry's index as preflight and publish read it
	// (indexClient); Cargo is one line's cargo (cargoFor).
	Index func(r *pipeline.Run) (RegistryIndex, error)
	Cargo func(r *pipeline.Run, rel config.Release) LineCargo
}

// clients are the ones every stage uses: the real ones, which a test of
// the package replaces for its own duration.
var clients = realClients()

func realClients() Clients {
	return Clients{
		Vault:     func(path string) (ReleaseVault, error) { return held[ReleaseVault](openGitVault(path)) },
		PushVault: func(path string) (PushVault, error) { return held[PushVault](openGitVault(path)) },
		Blog: func(dir, url, branch string, auth transport.AuthMethod) (BlogClone, error) {
			return held[BlogClone](blog.Open(dir, url, branch, auth))
		},

		GitHub:   func(api string, opts github.Options) AdvisoryAPI { return github.New(api, opts) },
		Images:   func(opts oci.Options) ImageRegistry { return oci.New(opts) },
		Registry: func(r *pipeline.Run) (CrateReader, error) { return held[CrateReader](indexClient(r)) },
		Index:    func(r *pipeline.Run) (RegistryIndex, error) { return held[RegistryIndex](indexClient(r)) },
		Cargo:    func(r *pipeline.Run, rel config.Release) LineCargo { return lineCargo{cargoFor(r, rel)} },
	}
}

// held is client c as the interface I a stage holds it by, and nil on an
// error: a nil pointer in an interface would not compare equal to nil.
// c is always a real client, which implements its interface: the
// compiler checks each below.
func held[I any, C any](c C, err error) (I, error) {
	var none I
	if err != nil {
		return none, err
	}
	return any(c).(I), nil
}

var (
	_ ReleaseVault  = gitVault{}
	_ PushVault     = gitVault{}
	_ BlogClone     = (*blog.Clone)(nil)
	_ CrateReader   = (*index.Client)(nil)
	_ RegistryIndex = (*index.Client)(nil)
	_ Upload        = (*cargo.Upload)(nil)
)
