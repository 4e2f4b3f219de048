package releasetest

import (
	"context"
	"fmt"
	"io"
	"sync"

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
