package index

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A View serves cargo, on a loopback address, the sparse index as this
// client last saw it.
//
// Why: before uploading a crate, `cargo publish` resolves the packaged
// crate's lockfile, reading config.json and the index file of every
// dependency, one dependency level after another, each a round trip to the
// registry. At T0 embargo has just read the very files cargo needs (it polls
// the index until a dependency's new version shows before starting its
// dependent), so cargo's resolution through a View costs loopback round trips
// instead of registry ones. A View never invents anything: it answers with
// bytes the registry served to this client, the newest it has, and fetches a
// file it has not seen from the registry on first request. It serves reads
// only; cargo still reads config.json and the crate's own file from the
// registry itself, uploads there, and the upload's bytes do not depend on
// where the index was read (the index's contents are the same).
type View struct {
	c   *Client
	srv *http.Server
	ln  net.Listener
	url string
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
		c.seenMu.Unlock()
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
// A registry that wants a token to be read has no View, and cargo reads it
// itself, with the token: a loopback port is open to anyone on this
// machine, other users included, and a View would serve them, without a
// token, what the token opens. Nor is the time a View saves lost there: a
// View only ever stands in for crates-io (source replacement of crates-io,
// see cargo.Cargo.View), which is read without a token, while a private
// registry is an alternative registry to cargo. A client merely holding a
// token, for a registry that never asked for it, serves a View.
func (c *Client) Serve() (*View, error) {
	if c.WantsToken() {
		return nil, errors.New("index: a view cannot serve an index read with a token")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	v := &View{c: c, ln: ln, url: "sparse+http://" + ln.Addr().String() + "/"}
	v.srv = &http.Server{Handler: v, ReadHeaderTimeout: 10 * time.Second}
	go v.srv.Serve(ln)
	return v, nil
}

// URL is the View's index URL for cargo ("sparse+http://127.0.0.1:PORT/").
func (v *View) URL() string { return v.url }

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
	rel := r.URL.Path
	if len(rel) > 0 && rel[0] == '/' {
		rel = rel[1:]
	}
	if !served(rel) {
		http.NotFound(w, r)
		return
	}
	if v.c.WantsToken() {
		// The registry asked for the token after the View started (a
		// 401 to an index file): from now on it has nothing to serve.
		http.Error(w, "the registry wants a token to be read: a view of it serves nothing", http.StatusForbidden)
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
	if f.status != http.StatusOK {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(f.body)
}
