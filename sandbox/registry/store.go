package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/async-rs/embargo/internal/durable"
)

// record is one stored version. It is kept as JSON beside the .crate file
// so that a server restarted on the same directory serves the same world,
// including versions whose index visibility is still pending.
type record struct {
	Entry       IndexEntry `json:"entry"`
	Seq         int64      `json:"seq"`
	Published   time.Time  `json:"published"`
	VisibleAt   time.Time  `json:"visible_at"`
	Seeded      bool       `json:"seeded,omitempty"`
	HasCrate    bool       `json:"has_crate"`
	Description string     `json:"description,omitempty"`
	License     string     `json:"license,omitempty"`
	Repository  string     `json:"repository,omitempty"`
}

// store keeps every version in memory and mirrors it on disk under
// dir/crates/<lowercased name>/<version>.{json,crate}. Callers hold the
// server's lock.
type store struct {
	dir    string
	crates map[string][]*record // by lowercased name, in publish order
	seq    int64
}

func openStore(dir string) (*store, error) {
	s := &store{dir: dir, crates: map[string][]*record{}}
	root := filepath.Join(dir, "crates")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("sandbox registry: corrupt record %s: %w", p, err)
		}
		key := strings.ToLower(r.Entry.Name)
		s.crates[key] = append(s.crates[key], &r)
		s.seq = max(s.seq, r.Seq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rs := range s.crates {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seq < rs[j].Seq })
	}
	return s, nil
}

func (s *store) versions(name string) []*record {
	return s.crates[strings.ToLower(name)]
}

func (s *store) find(name, vers string) *record {
	for _, r := range s.versions(name) {
		if sameVersion(r.Entry.Vers, vers) {
			return r
		}
	}
	return nil
}

// conflict returns the stored name that collides with name under crates.io's
// rules (case and '-'/'_' folded) but is spelled differently.
func (s *store) conflict(name string) string {
	c := canonical(name)
	for _, rs := range s.crates {
		if len(rs) > 0 && canonical(rs[0].Entry.Name) == c && rs[0].Entry.Name != name {
			return rs[0].Entry.Name
		}
	}
	return ""
}

func (s *store) exists(name string) bool {
	return len(s.versions(name)) > 0
}

func (s *store) crateDir(name string) string {
	return filepath.Join(s.dir, "crates", strings.ToLower(name))
}

func (s *store) cratePath(name, vers string) string {
	return filepath.Join(s.crateDir(name), vers+".crate")
}

// add writes the .crate before the record, so a record on disk always has
// its bytes.
func (s *store) add(r *record, crate []byte) error {
	s.seq++
	r.Seq = s.seq
	if crate != nil {
		if err := writeAtomic(s.cratePath(r.Entry.Name, r.Entry.Vers), crate); err != nil {
			return err
		}
		r.HasCrate = true
	}
	if err := s.save(r); err != nil {
		return err
	}
	key := strings.ToLower(r.Entry.Name)
	s.crates[key] = append(s.crates[key], r)
	return nil
}

func (s *store) save(r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.crateDir(r.Entry.Name), r.Entry.Vers+".json"), b)
}

func (s *store) crate(r *record) ([]byte, error) {
	if !r.HasCrate {
		return nil, errors.New("no .crate file stored")
	}
	return os.ReadFile(s.cratePath(r.Entry.Name, r.Entry.Vers))
}

// indexFile renders the index file of a crate as cargo sees it at now:
// versions still inside their visibility delay are left out.
func (s *store) indexFile(name string, now time.Time) ([]byte, error) {
	var out []byte
	for _, r := range s.versions(name) {
		if now.Before(r.VisibleAt) {
			continue
		}
		line, err := marshalLine(r.Entry)
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out, nil
}

// writeAtomic keeps a crash from leaving half a crate or index file.
func writeAtomic(path string, data []byte) error {
	return durable.WriteFile(path, data, 0o644)
}
