package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/async-rs/embargo/stages/index"
)

// Seen is the first time the watcher found a version in the index.
type Seen struct {
	At    time.Time // when the answer showing it arrived
	Cksum string
}

// watcher observes the index the way any user of the registry would, on its
// own, independently of the tool under test: it asks for each crate's index
// file every tick (requests overlap, so the registry's latency does not
// coarsen the resolution) and records when each expected version first
// appears.
type watcher struct {
	base   string // the index root, with a trailing slash
	client *http.Client
	want   map[string]map[string]bool // crate -> versions
	fast   time.Time                  // tick slowly before this
	total  int

	mu   sync.Mutex
	seen map[string]Seen // name@version
	all  chan struct{}
	wg   sync.WaitGroup
}

const (
	watchTick     = 20 * time.Millisecond
	watchSlowTick = 500 * time.Millisecond
)

// watch starts watching the registry's index for versions; before fastFrom
// it looks only now and then (a version there would be early).
func watch(ctx context.Context, s *Setup, versions []Version, fastFrom time.Time) *watcher {
	w := &watcher{
		base:   s.Registry.URL + "/index/",
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		want:   map[string]map[string]bool{},
		fast:   fastFrom,
		seen:   map[string]Seen{},
		all:    make(chan struct{}),
		total:  len(versions),
	}
	for _, v := range versions {
		if w.want[v.Name] == nil {
			w.want[v.Name] = map[string]bool{}
		}
		w.want[v.Name][v.Version] = true
	}
	for name := range w.want {
		w.wg.Add(1)
		go w.loop(ctx, name)
	}
	return w
}

func (w *watcher) loop(ctx context.Context, name string) {
	defer w.wg.Done()
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.all:
			return
		case now := <-t.C:
			if now.Before(w.fast) && now.Sub(last) < watchSlowTick {
				continue
			}
			last = now
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.poll(ctx, name)
			}()
		}
	}
}

func (w *watcher) poll(ctx context.Context, name string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.base+index.Path(name), nil)
	if err != nil {
		return
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := w.client.Do(req)
	if err != nil {
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	at := time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range bytes.Split(body, []byte("\n")) {
		var e struct{ Vers, Cksum string }
		if json.Unmarshal(line, &e) != nil || !w.want[name][e.Vers] {
			continue
		}
		nv := name + "@" + e.Vers
		if s, ok := w.seen[nv]; !ok || at.Before(s.At) {
			w.seen[nv] = Seen{At: at, Cksum: e.Cksum}
		}
	}
	if len(w.seen) == w.total {
		select {
		case <-w.all:
		default:
			close(w.all)
		}
	}
}

// wait returns when every version was seen or at the deadline, and stops
// the watcher; it returns what was seen.
func (w *watcher) wait(deadline time.Time) map[string]Seen {
	t := time.NewTimer(time.Until(deadline))
	select {
	case <-w.all:
	case <-t.C:
	}
	t.Stop()
	w.mu.Lock()
	select {
	case <-w.all:
	default:
		close(w.all)
	}
	w.mu.Unlock()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]Seen, len(w.seen))
	for k, v := range w.seen {
		out[k] = v
	}
	return out
}
