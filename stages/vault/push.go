package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// PushSession is a push made in two halves: everything that can be known
// before T0 (the remote's refs, the commands, the pack) is computed when
// the session opens and the updates are prepared; Send is only the write.
// On a repository with hundreds of refs, listing them and walking what the
// remote already has takes more than a second: none of it is left for T0.
type PushSession struct {
	v    *Vault
	sess transport.ReceivePackSession
	adv  *packp.AdvRefs
	refs map[string]RemoteRef
}

// OpenPush reads the remote's refs for a push to url. Nothing is written
// until Send.
func (v *Vault) OpenPush(ctx context.Context, url string, auth transport.AuthMethod) (*PushSession, error) {
	sess, adv, err := openReceivePack(ctx, url, auth)
	if err != nil {
		return nil, err
	}
	refs := map[string]RemoteRef{}
	for name, h := range adv.References {
		if strings.HasPrefix(name, "refs/") {
			refs[name] = RemoteRef{Hash: h, Commit: h}
		}
	}
	for name, rr := range refs {
		// receive-pack advertises no peeled values: an annotated tag is
		// peeled here, from the vault, which holds every public ref's
		// objects since preflight.
		if c, ok := adv.Peeled[name]; ok {
			rr.Commit = c
		} else if strings.HasPrefix(name, "refs/tags/") {
			if c, err := v.Peel(rr.Hash); err == nil {
				rr.Commit = c
			}
		}
		refs[name] = rr
	}
	return &PushSession{v: v, sess: sess, adv: adv, refs: refs}, nil
}

// openReceivePack opens a push session to url and reads the refs the
// remote advertises for it (none, from an empty repository): what a push
// asks first, and all a forge answers before the pack is sent.
func openReceivePack(ctx context.Context, url string, auth transport.AuthMethod) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, err
	}
	sess, err := cl.NewReceivePackSession(ep, auth)
	if err != nil {
		return nil, nil, fmt.Errorf("open a push to %s: %w", url, err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		sess.Close()
		return nil, nil, fmt.Errorf("list refs of %s: %w", url, err)
	}
	if adv == nil {
		adv = packp.NewAdvRefs()
	}
	return sess, adv, nil
}

// ProbePush asks the remote at url, with auth, what a push asks first,
// the refs it advertises to receive-pack, and closes the session without
// sending anything. A forge answers it only for a credential it lets
// push (GitHub), or at least lets read the repository with a token that
// may write (Gitea checks the account's write access when the pack
// arrives); its refusal is the error, which Refusal reads.
func ProbePush(ctx context.Context, url string, auth transport.AuthMethod) error {
	sess, _, err := openReceivePack(ctx, url, auth)
	if err != nil {
		return err
	}
	return sess.Close()
}

// Refs are the remote's refs as the session saw them, peeled.
func (p *PushSession) Refs() map[string]RemoteRef { return p.refs }

// Close ends the session without writing, if Send was not called.
func (p *PushSession) Close() error { return p.sess.Close() }

// PreparedPush is one atomic push, commands and pack computed, ready to
// send.
type PreparedPush struct {
	p    *PushSession
	req  *packp.ReferenceUpdateRequest
	pack []byte
	// Objects is how many objects the pack holds.
	Objects int
}

// Prepare computes the commands of an atomic push of updates (never
// forced: each command names the remote's current value, so a ref that
// moved meanwhile makes the whole push fail) and encodes the pack.
func (p *PushSession) Prepare(updates []Update) (*PreparedPush, error) {
	if !p.adv.Capabilities.Supports(capability.Atomic) && len(updates) > 1 {
		return nil, fmt.Errorf("the remote does not support atomic pushes: refusing to push %d refs one by one", len(updates))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(p.adv.Capabilities)
	if p.adv.Capabilities.Supports(capability.Atomic) {
		_ = req.Capabilities.Set(capability.Atomic)
	}
	var tips []plumbing.Hash
	for _, u := range updates {
		local, err := p.v.repo.Reference(plumbing.ReferenceName(u.Local), true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.Local, err)
		}
		old := p.refs[u.Remote].Hash
		if old == local.Hash() {
			continue
		}
		req.Commands = append(req.Commands, &packp.Command{Name: plumbing.ReferenceName(u.Remote), Old: old, New: local.Hash()})
		tips = append(tips, local.Hash())
	}
	if len(req.Commands) == 0 {
		return &PreparedPush{p: p, req: req}, nil
	}
	var haves []plumbing.Hash
	for _, h := range p.adv.References {
		haves = append(haves, h)
	}
	// Only objects the vault has count as the remote's: revlist walks
	// them to leave out of the pack what the remote already holds.
	haves = p.v.known(haves)
	objects, err := revlist.Objects(p.v.repo.Storer, tips, haves)
	if err != nil {
		return nil, fmt.Errorf("objects to push: %w", err)
	}
	var pack bytes.Buffer
	useRefDeltas := !p.adv.Capabilities.Supports(capability.OFSDelta)
	if _, err := packfile.NewEncoder(&pack, p.v.repo.Storer, useRefDeltas).Encode(objects, 10); err != nil {
		return nil, fmt.Errorf("pack the push: %w", err)
	}
	return &PreparedPush{p: p, req: req, pack: pack.Bytes(), Objects: len(objects)}, nil
}

// Recheck reads the remote's refs again (one round trip, nothing packed)
// and keeps the prepared push, on the new session, when every ref it sets
// is still where it was when the push was prepared. false: some ref moved,
// and the push must be prepared again (the old session is kept).
func (pp *PreparedPush) Recheck(ctx context.Context, url string, auth transport.AuthMethod) (bool, error) {
	fresh, err := pp.p.v.OpenPush(ctx, url, auth)
	if err != nil {
		return false, err
	}
	for _, c := range pp.req.Commands {
		if fresh.refs[c.Name.String()].Hash != c.Old {
			fresh.Close()
			return false, nil
		}
	}
	pp.p.Close()
	pp.p = fresh
	return true, nil
}

// Empty is true when the remote already holds every update.
func (pp *PreparedPush) Empty() bool { return len(pp.req.Commands) == 0 }

// Send makes the push: the one write. A refused command fails the whole
// atomic push and is returned as the remote's error.
func (pp *PreparedPush) Send(ctx context.Context) error {
	if pp.Empty() {
		return nil
	}
	pp.req.Packfile = io.NopCloser(bytes.NewReader(pp.pack))
	rs, err := pp.p.sess.ReceivePack(ctx, pp.req)
	if err != nil {
		return err
	}
	if rs != nil {
		return rs.Error()
	}
	return nil
}

// known keeps the hashes whose objects are in the vault.
func (v *Vault) known(hashes []plumbing.Hash) []plumbing.Hash {
	out := hashes[:0]
	for _, h := range hashes {
		if _, err := v.repo.Storer.EncodedObject(plumbing.AnyObject, h); err == nil {
			out = append(out, h)
		}
	}
	return out
}

// Refs are the remote refs the push sets.
func (pp *PreparedPush) Refs() []string {
	out := make([]string, len(pp.req.Commands))
	for i, c := range pp.req.Commands {
		out[i] = c.Name.String()
	}
	return out
}

// Close ends the push's session; nil-safe.
func (pp *PreparedPush) Close() {
	if pp != nil {
		pp.p.Close()
	}
}
