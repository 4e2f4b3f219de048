package registry

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
)

// The read-only API beside the index: downloads, crate and version
// information, yanks.

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	name, vers := r.PathValue("name"), r.PathValue("version")
	s.mu.Lock()
	rec := s.store.find(name, vers)
	var crate []byte
	var err error
	if rec != nil {
		crate, err = s.store.crate(rec)
	}
	s.mu.Unlock()
	if rec == nil {
		writeError(w, http.StatusNotFound, "crate `%s` does not have a version `%s`", name, vers)
		return
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "crate `%s` version `%s`: %v", name, vers, err)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(crate)))
	w.Write(crate)
}

func versionJSON(rec *record) map[string]any {
	e := rec.Entry
	return map[string]any{
		"id":           rec.Seq,
		"crate":        e.Name,
		"num":          e.Vers,
		"dl_path":      "/api/v1/crates/" + e.Name + "/" + e.Vers + "/download",
		"checksum":     e.Cksum,
		"yanked":       e.Yanked,
		"created_at":   rec.Published,
		"updated_at":   rec.Published,
		"license":      rec.License,
		"rust_version": nilIfEmpty(e.RustVersion),
		"links":        nilIfEmpty(e.Links),
		"features":     e.Features,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// crateInfo and versionInfo answer from the stored versions at once, like the
// crates.io database; only the index lags by the visibility delay.
func (s *Server) crateInfo(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.store.versions(name)
	if len(recs) == 0 {
		writeError(w, http.StatusNotFound, "crate `%s` does not exist", name)
		return
	}
	versions := make([]map[string]any, 0, len(recs))
	var maxV, maxStable string
	for i := len(recs) - 1; i >= 0; i-- {
		rec := recs[i]
		versions = append(versions, versionJSON(rec))
		if rec.Entry.Yanked {
			continue
		}
		v := rec.Entry.Vers
		if maxV == "" || compareSemver(v, maxV) > 0 {
			maxV = v
		}
		if !strings.Contains(strings.SplitN(v, "+", 2)[0], "-") && (maxStable == "" || compareSemver(v, maxStable) > 0) {
			maxStable = v
		}
	}
	first, last := recs[0], recs[len(recs)-1]
	writeJSON(w, http.StatusOK, map[string]any{
		"crate": map[string]any{
			"id":                 first.Entry.Name,
			"name":               first.Entry.Name,
			"description":        last.Description,
			"repository":         nilIfEmpty(last.Repository),
			"max_version":        maxV,
			"max_stable_version": nilIfEmpty(maxStable),
			"newest_version":     last.Entry.Vers,
			"created_at":         first.Published,
			"updated_at":         last.Published,
			"versions":           seqs(recs),
		},
		"versions": versions,
	})
}

func seqs(recs []*record) []int64 {
	out := make([]int64, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		out = append(out, recs[i].Seq)
	}
	return out
}

func (s *Server) versionInfo(w http.ResponseWriter, r *http.Request) {
	name, vers := r.PathValue("name"), r.PathValue("version")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.store.find(name, vers)
	if rec == nil {
		if !s.store.exists(name) {
			writeError(w, http.StatusNotFound, "crate `%s` does not exist", name)
		} else {
			writeError(w, http.StatusNotFound, "crate `%s` does not have a version `%s`", name, vers)
		}
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": versionJSON(rec)})
}

func (s *Server) yank(yanked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, vers := r.PathValue("name"), r.PathValue("version")
		if s.flavor == FlavorCratesIO {
			// crates.io looks the version up before the token: a
			// version that does not exist is 404 whatever the token.
			s.mu.Lock()
			missing := s.store.find(name, vers) == nil
			s.mu.Unlock()
			if missing {
				writeError(w, http.StatusNotFound, "crate `%s` does not have a version `%s`", name, vers)
				return
			}
		}
		if ok, _ := s.authorize(w, r); !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.store.find(name, vers)
		if rec == nil && s.flavor == FlavorGitea {
			giteaError(w, http.StatusNotFound, "package does not exist")
			return
		}
		if rec == nil {
			writeError(w, http.StatusNotFound, "crate `%s` does not have a version `%s`", name, vers)
			return
		}
		rec.Entry.Yanked = yanked
		if err := s.store.save(rec); err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
}

// compareSemver orders versions by major.minor.patch, then a release above
// its pre-releases, then pre-release identifiers; build metadata is ignored.
func compareSemver(a, b string) int {
	split := func(v string) ([3]int, []string) {
		v, _, _ = strings.Cut(v, "+")
		core, pre, hasPre := strings.Cut(v, "-")
		var nums [3]int
		for i, p := range strings.SplitN(core, ".", 3) {
			nums[i], _ = strconv.Atoi(p)
		}
		if !hasPre {
			return nums, nil
		}
		return nums, strings.Split(pre, ".")
	}
	an, ap := split(a)
	bn, bp := split(b)
	for i := range an {
		if an[i] != bn[i] {
			return cmp.Compare(an[i], bn[i])
		}
	}
	switch {
	case ap == nil && bp == nil:
		return 0
	case ap == nil:
		return 1
	case bp == nil:
		return -1
	}
	for i := 0; i < len(ap) && i < len(bp); i++ {
		x, xerr := strconv.Atoi(ap[i])
		y, yerr := strconv.Atoi(bp[i])
		switch {
		case xerr == nil && yerr == nil:
			if x != y {
				return cmp.Compare(x, y)
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(ap[i], bp[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(ap), len(bp))
}
