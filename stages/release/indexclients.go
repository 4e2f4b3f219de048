package release

import (
	"context"
	"time"

	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// The registry's index and cargo as preflight and publish call them
// (Clients.Index, Clients.Cargo), so that what publish does with each
// version, skip, upload or refuse, is tested on the stage itself with a
// fake index and a fake cargo, no server and no cargo binary.

// RegistryIndex is the registry's sparse index (stages/index), read with
// the registry's token where the registry wants one.
type RegistryIndex interface {
	URL() string
	Config(ctx context.Context) (index.Config, error)
	// WantsToken is true once the registry has said it must be read with
	// a token (a private registry).
	WantsToken() bool
	Lookup(ctx context.Context, name, version string) (index.Entry, bool, error)
	Versions(ctx context.Context, name string) ([]index.Entry, error)
	PublishedAt(ctx context.Context, name, version string) (time.Time, bool, error)
	// Prefetch reads ahead the index files cargo will read before its
	// first upload; Serve opens a View of what was read, for cargo to
	// resolve through on loopback (index.View).
	Prefetch(ctx context.Context, names []string, parallel int)
	Serve() (*index.View, error)
}

// LineCargo is one line's cargo (stages/cargo): the packaging preflight
// seals and publish reproduces, and the uploads at T0.
type LineCargo interface {
	Version(ctx context.Context) (string, error)
	Lock(ctx context.Context, dir string) error
	Package(ctx context.Context, dir string, crates []*cargo.Crate) ([]cargo.Package, error)
	// WithView is a copy that resolves the line's dependencies through
	// the View at url, sending it token when it asks (index.View.Token);
	// ResolvesThroughView says whether it does.
	WithView(url, token string) LineCargo
	ResolvesThroughView() bool
	// WithToken is a copy that uploads with tok.
	WithToken(tok string) LineCargo
	StartPublish(ctx context.Context, dir, crate string) (Upload, error)
}

// Upload is one `cargo publish` under way (cargo.Upload).
type Upload interface {
	// Accepted returns once the registry accepted the upload (nil) or
	// cargo failed (a *cargo.PublishError).
	Accepted(ctx context.Context) error
	// AcceptedAt is when the registry's acceptance reached cargo, on the
	// gate's clock; zero if it has not.
	AcceptedAt() time.Time
	// Stop ends cargo's own wait for the index.
	Stop()
}

// lineCargo is the real cargo as a LineCargo: its copies are lineCargos.
type lineCargo struct{ *cargo.Cargo }

func (c lineCargo) WithView(url, token string) LineCargo {
	return lineCargo{c.Cargo.WithView(url, token)}
}

func (c lineCargo) WithToken(tok string) LineCargo { return lineCargo{c.Cargo.WithToken(tok)} }

func (c lineCargo) StartPublish(ctx context.Context, dir, crate string) (Upload, error) {
	up, err := c.Cargo.StartPublish(ctx, dir, crate)
	if err != nil {
		return nil, err // not a nil *cargo.Upload in an interface
	}
	return up, nil
}
