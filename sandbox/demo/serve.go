package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

// serversFile, in the example's folder, records the servers of its own
// that the example's embargo.toml names: what Serve starts.
const serversFile = "sandbox.json"

type servers struct {
	Registry *registryAt `json:"registry,omitempty"`
	Blog     *siteAt     `json:"blog,omitempty"`
	GitHub   *githubAt   `json:"github,omitempty"`
	Mail     *mailAt     `json:"mail,omitempty"`
}

// mailAt is the example's mail server: its address.
type mailAt struct {
	Addr string `json:"addr"`
}

// githubAt is the example's GitHub API: its address and where it keeps the
// advisory, relative to the example's folder.
type githubAt struct {
	Addr string `json:"addr"`
	Dir  string `json:"dir"`
}

// registryAt is the example's registry: its address and its storage,
// relative to the example's folder.
type registryAt struct {
	Addr string `json:"addr"`
	Dir  string `json:"dir"`
}

// siteAt is the example blog's site: its address and the repository whose
// posts it serves.
type siteAt struct {
	Addr   string `json:"addr"`
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
}

// IsExample reports whether dir holds an example written by Build with
// servers of its own.
func IsExample(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, serversFile))
	return err == nil
}

// Servers are the example's own registry and blog site, running.
type Servers struct {
	// Registry is nil when the example's config names another registry.
	Registry *registry.Server
	// SiteURL is where the blog's posts are served ("" for none).
	SiteURL string
	// GitHub is the example's GitHub API, holding its draft advisory (nil
	// when the example has no [ghsa] of its own).
	GitHub *github.Server
	// Mail is the example's mail server, which keeps what it is sent
	// (nil when the example has no [announce]).
	Mail *mailserver.Server

	site *http.Server
}

// Serve starts the servers the example in dir names, at the addresses its
// embargo.toml was written with: the registry (opts.Dir and CratesIO are
// the example's; the rest of opts tunes it) and the blog's site.
func Serve(dir string, opts registry.Options) (*Servers, error) {
	b, err := os.ReadFile(filepath.Join(dir, serversFile))
	if err != nil {
		return nil, fmt.Errorf("the example in %s: %w (write one with `embargo sandbox demo --dir %s`)", dir, err, dir)
	}
	var own servers
	if err := json.Unmarshal(b, &own); err != nil {
		return nil, fmt.Errorf("the example in %s: %s: %w", dir, serversFile, err)
	}
	s := &Servers{}
	if r := own.Registry; r != nil {
		opts.Dir = filepath.Join(dir, r.Dir)
		// The example's config names it crates-io, as a real release does.
		opts.CratesIO = true
		if s.Registry, err = registry.Start(r.Addr, opts); err != nil {
			return nil, inUse(err, r.Addr)
		}
	}
	if gh := own.GitHub; gh != nil {
		dir := filepath.Join(dir, gh.Dir)
		_, kept := os.Stat(filepath.Join(dir, "advisories.json"))
		// Its clock is the registry's: one machine stands for both hosts.
		if s.GitHub, err = github.Start(gh.Addr, github.Options{Dir: dir, ClockOffset: opts.ClockOffset}); err != nil {
			s.Close()
			return nil, inUse(err, gh.Addr)
		}
		// The draft is made once; served again, the example keeps what
		// a release did to it.
		if kept != nil {
			if err := s.GitHub.AddDraft(GHSARepo, Draft()); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	if m := own.Mail; m != nil {
		// On the loopback, where a submission server may go without TLS.
		if s.Mail, err = mailserver.Start(mailserver.Options{Listen: m.Addr}); err != nil {
			s.Close()
			return nil, inUse(err, m.Addr)
		}
	}
	if st := own.Blog; st != nil {
		ln, err := net.Listen("tcp", st.Addr)
		if err != nil {
			s.Close()
			return nil, inUse(err, st.Addr)
		}
		s.site = &http.Server{Handler: world.Site(filepath.Join(dir, st.Repo), st.Branch), ReadHeaderTimeout: 10 * time.Second}
		s.SiteURL = "http://" + ln.Addr().String()
		go s.site.Serve(ln)
	}
	return s, nil
}

// Site says how the blog of the example in dir is served, when the example
// serves one of its own: each post pushed to a repository at its blog.url
// path, as the example's deploy does. A rehearsal of the example serves its
// copy of the blog so, and verify reads the post live there as a run's
// does. nil when dir holds no example, or one whose blog is another's.
func Site(dir string) func(repo string) http.Handler {
	b, err := os.ReadFile(filepath.Join(dir, serversFile))
	if err != nil {
		return nil
	}
	var own servers
	if json.Unmarshal(b, &own) != nil || own.Blog == nil {
		return nil
	}
	branch := own.Blog.Branch
	return func(repo string) http.Handler { return world.Site(repo, branch) }
}

// inUse explains an address that cannot be listened on: most likely
// another program took the port since the example was written.
func inUse(err error, addr string) error {
	return fmt.Errorf("%w: the example's embargo.toml names %s; if another program holds it (is the example served already?), stop it, or write the example afresh in an empty folder for other ports", err, addr)
}

// Close stops the servers; what they store stays on disk.
func (s *Servers) Close() error {
	var errs []error
	if s.Registry != nil {
		errs = append(errs, s.Registry.Close())
	}
	if s.GitHub != nil {
		errs = append(errs, s.GitHub.Close())
	}
	if s.Mail != nil {
		errs = append(errs, s.Mail.Close())
	}
	if s.site != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		errs = append(errs, s.site.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
