package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/stages/retry"
)

// A View serves cargo, on a loopback address, the sparse index as this
// client last saw it.
//
// Why: before uploading a crate, `cargo publish` resolves the packaged
// crate's lockfile, reading config.json and the index file of every
// dependency, one dependency level after another, each a round trip to the
// registry. At T0 embargo has just read the very files cargo needs (it polls
// the index until a dependency's new version shows; the dependent's cargo,
// started meanwhile, is held until then: see Hold), so cargo's resolution
// through a View costs loopback round trips instead of registry ones. A View never invents anything: it answers with
// bytes the registry served to this client, the newest it has, and fetches a
// file it has not seen from the registry on first request. It serves reads
// only; cargo still reads config.json and the crate's own file from the
// registry itself, uploads there, and the upload's bytes do not depend on
// where the index was read (the index's contents are the same).
//
// A View serves any registry's index, crates.io's or an alternative
// registry's, a private one (auth-required) included: see Serve.
type View struct {
	c   *Client
	srv *http.Server
	ln  net.Listener
	url string
	// token is what a reader must send while the registry wants a token
	// to be read: the View's own, never the registry's (see Serve).
	token string

	holdMu sync.Mutex
	holds  map[string][]*Hold // by index path
	// holdClock times a hold's bound: this machine's clock, as is cargo's
	// HTTP timeout that the bound stays below; a test gives its own
	// (export_test.go) to see a held read wait and end without waiting.
	holdClock retry.Clock
}

// A Hold keeps a View from answering for one crate's index file until the
// copy lists one version of it with one checksum (see View.Hold).
type Hold struct {
	v                      *View
	rel, version, checksum string
	within                 time.Duration
	released               chan struct{}
	once                   sync.Once

	mu    sync.Mutex
	shown time.Time
}

// Hold makes reads of name's index file wait until the copy lists version
// with checksum, then answers them with it; a read waits at most within,
// then gets the copy as it is.
//
// Why: a dependent crate's `cargo publish` is started as soon as the
// registry has accepted its dependency's upload, so that cargo's start-up
// and its own reads of the registry overlap the index delay; its
// resolution reads the dependency's file from the View, and is answered
// once embargo's own polling of the index has seen the new version there
// with the sealed checksum. cargo resolves exactly what it would have
// resolved after that poll, and uploads at once. A version never shown
// (the index lists another checksum, or the wait outlives within, which is
// kept below cargo's 30 s HTTP timeout) gets the file without it: cargo
// then fails to resolve and uploads nothing.
//
// Only the held file waits, and only as long as the Hold is not released:
// every other read is answered as before.
func (v *View) Hold(name, version, checksum string, within time.Duration) *Hold {
	h := &Hold{v: v, rel: Path(name), version: version, checksum: checksum, within: within, released: make(chan struct{})}
	v.holdMu.Lock()
	defer v.holdMu.Unlock()
	if v.holds == nil {
		v.holds = map[string][]*Hold{}
	}
	v.holds[h.rel] = append(v.holds[h.rel], h)
	return h
}

// Release stops holding: a read waiting is answered with the copy as it is.
func (h *Hold) Release() {
	h.once.Do(func() {
		close(h.released)
		v := h.v
		v.holdMu.Lock()
		defer v.holdMu.Unlock()
		list := v.holds[h.rel]
		for i, o := range list {
			if o == h {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(v.holds, h.rel)
		} else {
			v.holds[h.rel] = list
		}
	})
}

// Shown is when the View first answered a read of the held file with the
// version, or the zero time if it has not: a reader cannot have acted on
// the version before it.
func (h *Hold) Shown() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shown
}

func (h *Hold) showing(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shown.IsZero() {
		h.shown = at
	}
}

func (v *View) holdsOn(rel string) []*Hold {
	v.holdMu.Lock()
	defer v.holdMu.Unlock()
	return append([]*Hold(nil), v.holds[rel]...)
}

// await waits, for the read of rel that arrived at since, until every
// Hold on rel is met by the copy, released, or past its bound; it returns
// the copy to answer with.
func (v *View) await(ctx context.Context, rel string, since time.Time, f indexFile) indexFile {
	for _, h := range v.holdsOn(rel) {
		timeout := v.holdClock.After(since.Add(h.within).Sub(v.holdClock.Now()))
		for {
			cur, ok, changed := v.c.lastSeenOrChange(rel)
			if ok {
				f = cur
			}
			if lists(f, h.version, h.checksum) {
				h.showing(time.Now())
				break
			}
			select {
			case <-changed:
				continue
			case <-h.released:
			case <-timeout:
			case <-ctx.Done():
			}
			break
		}
	}
	return f
}

// lists is true when f lists version with checksum.
func lists(f indexFile, version, checksum string) bool {
	if f.status != http.StatusOK {
		return false
	}
	for _, line := range bytes.Split(f.body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e struct{ Vers, Cksum string }
		if json.Unmarshal(line, &e) == nil && e.Vers == version && e.Cksum == checksum {
			return true
		}
	}
	return false
}

// indexFile is one answer of the registry, kept for a View.
type indexFile struct {
	seq    uint64 // order in which the request was made
	status int
	body   []byte
	lines  int // versions listed (0 for a crate not there)
}

// served is what a View answers for: config.json, and a crate's index file
// at exactly the place Path gives it.
func served(rel string) bool {
	if rel == "config.json" {
		return true
	}
	name := rel[strings.LastIndex(rel, "/")+1:]
	return checkName(name) == nil && Path(name) == rel
}

// remember records an answer unless the one recorded is newer. The View
// must never go back to an older state of the index, and answers come in any
// order: a request retried, or answered by a staler cache, may bring an older
// file after a newer one. An index file only gains lines (a version once
// published stays listed; a yank edits its line), so the answer listing more
// versions is the newer; between equal ones, the later request's.
func (c *Client) remember(rel string, seq uint64, status int, body []byte) {
	f := indexFile{seq: seq, status: status, body: body}
	switch status {
	case http.StatusOK:
		f.lines = bytes.Count(bytes.TrimSpace(body), []byte("\n")) + 1
	case http.StatusNotFound, http.StatusGone, http.StatusUnavailableForLegalReasons:
	default:
		return
	}
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if old, ok := c.seen[rel]; ok && (old.lines > f.lines || old.lines == f.lines && old.seq > seq) {
		return
	}
	if c.seen == nil {
		c.seen = map[string]indexFile{}
	}
	c.seen[rel] = f
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// lastSeenOrChange is lastSeen, and a channel closed once any remembered
// answer changes after it, taken together so that no change is missed.
func (c *Client) lastSeenOrChange(rel string) (indexFile, bool, <-chan struct{}) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	f, ok := c.seen[rel]
	return f, ok, c.changed
}

// readOnce makes sure rel has been read: at once when an answer is
// remembered, else by waiting for a first read already under way, else by
// reading it. It is for first reads only (a View's, a prefetch's); a poll
// must ask the registry itself, since a read that began before an upload
// cannot show it.
func (c *Client) readOnce(ctx context.Context, rel string) (int, error) {
	for {
		c.seenMu.Lock()
		if f, ok := c.seen[rel]; ok {
			c.seenMu.Unlock()
			return f.status, nil
		}
		under, busy := c.reading[rel]
		if !busy {
			done := make(chan struct{})
			if c.reading == nil {
				c.reading = map[string]chan struct{}{}
			}
			c.reading[rel] = done
			c.seenMu.Unlock()
			_, status, _, err := c.get(ctx, rel)
			c.seenMu.Lock()
			delete(c.reading, rel)
			c.seenMu.Unlock()
			close(done)
			return status, err
		}
		joining := c.joining
		c.seenMu.Unlock()
		if joining != nil {
			joining(rel)
		}
		select {
		case <-under:
			// Remembered now; or that read failed, and this one tries.
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (c *Client) lastSeen(rel string) (indexFile, bool) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	f, ok := c.seen[rel]
	return f, ok
}

// Prefetch reads the index files of the named crates that this client has
// not read yet, parallel at a time, so that a View has them ready before
// cargo asks. Errors are left for the View to meet again on request: this
// only saves time.
func (c *Client) Prefetch(ctx context.Context, names []string, parallel int) {
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for _, name := range names {
		if checkName(name) != nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c.readOnce(ctx, Path(name))
		})
	}
	wg.Wait()
}

// Serve starts a View of this client's index on 127.0.0.1; Close stops it.
//
// A loopback port is open to anyone on this machine, other users included.
// So while the registry wants a token to be read (a private registry: a
// 401, or auth-required in its config.json), the View answers only
// requests carrying a token of its own (Token), made for it, and answers
// any other 401, as a private registry does: cargo, reading the View as a
// registry of its own (cargo.Cargo.View), then sends the View's token, as
// it sends a registry its token. The registry's token stays with this
// client, which alone sends it, to the registry only; the View hands it to
// no one. A registry read without a token is served to anyone, as it
// serves itself.
func (c *Client) Serve() (*View, error) {
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	v := &View{c: c, ln: ln, url: "sparse+http://" + ln.Addr().String() + "/", token: "embargo-view-" + hex.EncodeToString(token), holdClock: c.holdClock}
	if v.holdClock == nil {
		v.holdClock = retry.Wall{}
	}
	v.srv = &http.Server{Handler: v, ReadHeaderTimeout: 10 * time.Second}
	go v.srv.Serve(ln)
	return v, nil
}

// URL is the View's index URL for cargo ("sparse+http://127.0.0.1:PORT/").
func (v *View) URL() string { return v.url }

// Token is the View's own token, which a reader must send while the
// registry wants a token to be read (see Serve): for cargo's environment
// only, as a registry's token.
func (v *View) Token() string { return v.token }

// authorized is true when r carries the View's token.
func (v *View) authorized(r *http.Request) bool {
	got := r.Header.Get("Authorization")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.token)) == 1
}

// Close stops serving.
func (v *View) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := v.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return v.srv.Close()
	}
	return err
}

func (v *View) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "a view of the index is read-only", http.StatusMethodNotAllowed)
		return
	}
	arrived := v.holdClock.Now()
	rel := r.URL.Path
	if len(rel) > 0 && rel[0] == '/' {
		rel = rel[1:]
	}
	if !served(rel) {
		http.NotFound(w, r)
		return
	}
	if v.c.WantsToken() && !v.authorized(r) {
		// As a private registry answers (RFC 3139): cargo asks again with
		// the View's token. The challenge names no login page: there is
		// none, the token comes from cargo's environment.
		w.Header().Set("WWW-Authenticate", "Cargo")
		http.Error(w, "the registry wants a token to be read: send the view's", http.StatusUnauthorized)
		return
	}
	f, ok := v.c.lastSeen(rel)
	if !ok {
		// Not seen yet: ask the registry, with the client's retries; the
		// answer is remembered for the next request.
		status, err := v.c.readOnce(r.Context(), rel)
		if err != nil {
			http.Error(w, "the registry did not answer", http.StatusBadGateway)
			return
		}
		if f, ok = v.c.lastSeen(rel); !ok {
			// An answer not worth keeping (401, 403): cargo sees it as is.
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	f = v.await(r.Context(), rel, arrived, f)
	if f.status != http.StatusOK {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(f.body)
}
