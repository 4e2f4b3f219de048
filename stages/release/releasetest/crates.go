package releasetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/async-rs/embargo/stages/index"
)

// Crates is a registry's index and downloads: entries by
// name@version, .crate bytes by download URL.
type Crates struct {
	mu        sync.Mutex
	DL        string
	Entries   map[string]index.Entry
	files     map[string][]byte
	Downloads []string
}

func (f *Crates) URL() string { return "sparse+https://index.registry.example/" }

func (f *Crates) Config(context.Context) (index.Config, error) {
	return index.Config{DL: f.DL}, nil
}

func (f *Crates) Lookup(_ context.Context, name, version string) (index.Entry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.Entries[name+"@"+version]
	return e, ok, nil
}

func (f *Crates) Download(_ context.Context, url string, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Downloads = append(f.Downloads, url)
	b, ok := f.files[url]
	if !ok {
		return fmt.Errorf("GET %s: 404 Not Found", url)
	}
	_, err := w.Write(b)
	return err
}

// Add puts name@version in the index with the checksum of body, and body
// at its download URL.
func (f *Crates) Add(name, version string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := index.Entry{Name: name, Vers: version, Cksum: Sum(body)}
	f.Entries[name+"@"+version] = e
	f.files[index.CrateURL(f.DL, name, version, e.Cksum)] = body
}

func NewCrates() *Crates {
	return &Crates{DL: "https://static.registry.example/crates", Entries: map[string]index.Entry{}, files: map[string][]byte{}}
}

// Registry serves a sparse index holding demo-core 1.0.0 with the
// checksum cksum, and body as its .crate.
func Registry(t *testing.T, cksum string, body []byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /index/config.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"dl": %q}`, srv.URL+"/dl/{crate}/{crate}-{version}.crate")
	})
	mux.HandleFunc("GET /index/de/mo/demo-core", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":"demo-core","vers":"1.0.0","deps":[],"cksum":%q,"features":{},"yanked":false}`+"\n", cksum)
	})
	mux.HandleFunc("GET /dl/demo-core/demo-core-1.0.0.crate", func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
