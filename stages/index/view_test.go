package index_test

import (
	"context"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
)

// registryFiles is an index whose files the test changes as it goes, and
// which counts the requests for each path.
type registryFiles struct {
	mu    sync.Mutex
	files map[string]string
	asked map[string]int
	// hold, when set for a path, keeps the next request for it waiting
	// until release is closed, answering with the file as it was when the
	// request arrived (see holdNext).
	hold map[string]heldRequest
}

type heldRequest struct{ arrived, release chan struct{} }

// holdNext holds the next request for rel: arrived is closed when it has
// reached the registry, and release lets it be answered (at the latest
// when the test ends, so that the registry can stop).
func (f *registryFiles) holdNext(t *testing.T, rel string) (arrived <-chan struct{}, release func()) {
	h := heldRequest{arrived: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold[rel] = h
	release = sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(release)
	return h.arrived, release
}

func (f *registryFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, "/")
	f.mu.Lock()
	f.asked[rel]++
	body, ok := f.files[rel]
	held, holding := f.hold[rel]
	delete(f.hold, rel)
	f.mu.Unlock()
	if holding {
		close(held.arrived)
		<-held.release
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, body)
}

func (f *registryFiles) set(rel, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[rel] = body
}

func (f *registryFiles) count(rel string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[rel]
}

func entryLine(name, vers string) string {
	return `{"name":"` + name + `","vers":"` + vers + `","deps":[],"cksum":"` + strings.Repeat("ab", 32) + `","features":{},"yanked":false}` + "\n"
}

func newView(t *testing.T) (*registryFiles, *index.Client, string) {
	t.Helper()
	files, c, v := newViewOf(t)
	return files, c, strings.TrimPrefix(v.URL(), "sparse+")
}

func newViewOf(t *testing.T) (*registryFiles, *index.Client, *index.View) {
	t.Helper()
	return newViewOn(t, nil)
}

// newHeldView is a view whose holds' bounds are timed on a fake clock.
func newHeldView(t *testing.T) (*registryFiles, *index.Client, *index.View, *pipeline.FakeClock) {
	t.Helper()
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	files, c, v := newViewOn(t, clock)
	return files, c, v, clock
}

// newViewOn is a view of a registry the test changes as it goes; with a
// clock, its holds' bounds are timed on it.
func newViewOn(t *testing.T, clock *pipeline.FakeClock) (*registryFiles, *index.Client, *index.View) {
	t.Helper()
	files := &registryFiles{files: map[string]string{"config.json": `{"dl":"https://dl.example","api":"https://api.example"}`}, asked: map[string]int{}, hold: map[string]heldRequest{}}
	srv, _ := server(t, files.ServeHTTP)
	c := newClient(t, "sparse+"+srv.URL+"/", fast)
	if clock != nil {
		index.SetHoldClock(c, clock)
	}
	v, err := c.Serve()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if !strings.HasPrefix(v.URL(), "sparse+http://127.0.0.1:") {
		t.Fatalf("view URL %q is not a loopback sparse index", v.URL())
	}
	return files, c, v
}

func viewGet(t *testing.T, base, rel string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + rel)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// What cargo reads through a view is what embargo last read from the
// registry: once embargo has seen a new version, cargo resolves it.
func TestViewServesTheNewestAnswerSeen(t *testing.T) {
	files, c, view := newView(t)
	ctx := context.Background()
	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0"))
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.0"); err != nil || !found {
		t.Fatalf("lookup: %v %v", found, err)
	}
	if status, body := viewGet(t, view, "ab/cd/abcd"); status != 200 || body != entryLine("abcd", "1.0.0") {
		t.Fatalf("view answered %d %q", status, body)
	}
	if n := files.count("ab/cd/abcd"); n != 1 {
		t.Fatalf("a file embargo has read was asked of the registry again by the view: %d requests", n)
	}

	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0")+entryLine("abcd", "1.0.1"))
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.1"); err != nil || !found {
		t.Fatalf("lookup of the new version: %v %v", found, err)
	}
	if _, body := viewGet(t, view, "ab/cd/abcd"); !strings.Contains(body, `"vers":"1.0.1"`) {
		t.Fatalf("the view does not show the version embargo has seen: %q", body)
	}

	// A crate not on the registry is a 404 through the view too, until
	// embargo sees it published.
	if status, _ := viewGet(t, view, "ne/wc/newcrate"); status != 404 {
		t.Fatalf("a missing crate: view answered %d", status)
	}
	files.set("ne/wc/newcrate", entryLine("newcrate", "0.1.0"))
	if _, found, _ := c.Lookup(ctx, "newcrate", "0.1.0"); !found {
		t.Fatal("lookup of the published crate")
	}
	if status, _ := viewGet(t, view, "ne/wc/newcrate"); status != 200 {
		t.Fatalf("a crate embargo has seen published: view answered %d", status)
	}
}

// A file embargo has not read is fetched from the registry once, then
// served from what was read.
func TestViewReadsThroughOnce(t *testing.T) {
	files, _, view := newView(t)
	files.set("se/rd/serde", entryLine("serde", "1.0.0"))
	for range 3 {
		if status, body := viewGet(t, view, "se/rd/serde"); status != 200 || body != entryLine("serde", "1.0.0") {
			t.Fatalf("view answered %d %q", status, body)
		}
	}
	if status, body := viewGet(t, view, "config.json"); status != 200 || !strings.Contains(body, `"api":"https://api.example"`) {
		t.Fatalf("config.json through the view: %d %q", status, body)
	}
	if n := files.count("se/rd/serde"); n != 1 {
		t.Fatalf("the registry was asked %d times for one file", n)
	}
}

// Answers can arrive out of order; the view keeps the answer to the latest
// question, so it never goes back to an older index.
func TestViewNeverGoesBack(t *testing.T) {
	files, c, view := newView(t)
	ctx := context.Background()
	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0"))
	arrived, release := files.holdNext(t, "ab/cd/abcd")

	var slow sync.WaitGroup
	var slowFound atomic.Bool
	slow.Add(1)
	go func() {
		defer slow.Done()
		_, found, _ := c.Lookup(ctx, "abcd", "1.0.1")
		slowFound.Store(found)
	}()
	<-arrived // the slow question has reached the registry
	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0")+entryLine("abcd", "1.0.1"))
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.1"); err != nil || !found {
		t.Fatalf("later lookup: %v %v", found, err)
	}
	release()
	slow.Wait()
	if slowFound.Load() {
		t.Fatal("test setup: the held request saw the new version")
	}
	if _, body := viewGet(t, view, "ab/cd/abcd"); !strings.Contains(body, `"vers":"1.0.1"`) {
		t.Fatalf("the view went back to an older answer: %q", body)
	}
}

// The view answers index reads only: nothing else reaches the registry
// through it.
func TestViewIsReadOnlyAndIndexOnly(t *testing.T) {
	files, _, view := newView(t)
	for _, rel := range []string{"api/v1/crates/new", "ab/cd/../../config.json", "ab/cd/abcd/download", "index.html", "AB/CD/ABCD"} {
		if status, _ := viewGet(t, view, rel); status != 404 {
			t.Errorf("GET %s: %d, want 404", rel, status)
		}
	}
	resp, err := http.Post(view+"ab/cd/abcd", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	files.mu.Lock()
	defer files.mu.Unlock()
	if len(files.asked) != 0 {
		t.Errorf("the registry was asked %v", files.asked)
	}
}

// Prefetching reads each file not yet read once, so that cargo's first
// resolution finds them in the view.
func TestPrefetchFillsTheView(t *testing.T) {
	files, c, view := newView(t)
	ctx := context.Background()
	for _, name := range []string{"serde", "libc", "pin-project", "abcd"} {
		files.set(index.Path(name), entryLine(name, "1.0.0"))
	}
	if _, _, err := c.Lookup(ctx, "abcd", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	c.Prefetch(ctx, []string{"serde", "libc", "pin-project", "abcd", "not-there", "../bad"}, 2)
	for _, name := range []string{"serde", "libc", "pin-project", "abcd", "not-there"} {
		if n := files.count(index.Path(name)); n != 1 {
			t.Errorf("%s: the registry was asked %d times, want once", name, n)
		}
	}
	for _, name := range []string{"serde", "libc", "pin-project"} {
		if status, body := viewGet(t, view, index.Path(name)); status != 200 || body != entryLine(name, "1.0.0") {
			t.Errorf("%s through the view: %d %q", name, status, body)
		}
		if n := files.count(index.Path(name)); n != 1 {
			t.Errorf("%s: the view asked the registry again (%d requests)", name, n)
		}
	}
}

// A request that started first may bring the newer file (it was retried,
// or reached a fresher cache) after a later request brought an older one:
// the view keeps the file that lists more versions.
func TestViewKeepsTheNewerFileWhateverTheOrder(t *testing.T) {
	older := entryLine("abcd", "1.0.0")
	newer := older + entryLine("abcd", "1.0.1")
	arrived, release := make(chan struct{}), make(chan struct{})
	srv, _ := server(t,
		func(w http.ResponseWriter, r *http.Request) { close(arrived); <-release; io.WriteString(w, newer) },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, older) },
	)
	c := newClient(t, "sparse+"+srv.URL+"/", fast)
	v, err := c.Serve()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()

	first := make(chan bool)
	go func() {
		_, found, _ := c.Lookup(ctx, "abcd", "1.0.1")
		first <- found
	}()
	<-arrived
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.1"); err != nil || found {
		t.Fatalf("test setup: the later request found %v (%v), want the older file", found, err)
	}
	close(release)
	if !<-first {
		t.Fatal("test setup: the first request did not bring the newer file")
	}
	if _, body := viewGet(t, strings.TrimPrefix(v.URL(), "sparse+"), "ab/cd/abcd"); body != newer {
		t.Fatalf("the view serves %q, want the file listing 1.0.1", body)
	}
}

// cargo's first read of a file the prefetch is already reading waits for
// that read instead of asking the registry a second time.
func TestViewJoinsAReadUnderWay(t *testing.T) {
	files, c, view := newView(t)
	files.set("se/rd/serde", entryLine("serde", "1.0.0"))
	arrived, release := files.holdNext(t, "se/rd/serde")
	joined := make(chan string, 1)
	index.OnJoin(c, func(rel string) {
		select {
		case joined <- rel:
		default:
		}
	})
	prefetched := make(chan struct{})
	go func() {
		c.Prefetch(context.Background(), []string{"serde"}, 1)
		close(prefetched)
	}()
	<-arrived // the prefetch's read is under way
	served := make(chan string, 1)
	go func() {
		_, body := viewGet(t, view, "se/rd/serde")
		served <- body
	}()
	select {
	case rel := <-joined:
		if rel != "se/rd/serde" {
			t.Fatalf("the view's read joined one of %s", rel)
		}
	case body := <-served:
		t.Fatalf("the view answered %q while the read under way was held, without waiting for it (the registry was asked %d times)", body, files.count("se/rd/serde"))
	}
	release()
	if body := <-served; body != entryLine("serde", "1.0.0") {
		t.Errorf("view served %q", body)
	}
	<-prefetched
	if n := files.count("se/rd/serde"); n != 1 {
		t.Errorf("the registry was asked %d times for one file", n)
	}
}

// viewGetWith reads rel from a view sending auth as the Authorization
// header ("" for none).
func viewGetWith(t *testing.T, base, rel, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+rel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A view of a registry that wants a token to be read (a private registry)
// serves what the token opens only to a request carrying the view's own
// token, never the registry's: anyone else on this machine gets a 401, as
// from the registry itself, and the registry's token opens nothing there.
// A token the registry never asked for (crates.io's publish token)
// restricts nothing.
func TestViewOfAnIndexReadWithATokenServesOnlyItsOwnToken(t *testing.T) {
	asks := false
	var mu sync.Mutex
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if asks && r.Header.Get("Authorization") != token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, entryLine(path.Base(r.URL.Path), "1.0.0"))
	})
	opts := fast
	opts.Token = token
	c := newClient(t, "sparse+"+srv.URL+"/", opts)
	v, err := c.Serve()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	base := strings.TrimPrefix(v.URL(), "sparse+")
	if status, _ := viewGetWith(t, base, "se/rd/serde", ""); status != http.StatusOK {
		t.Fatalf("a view of a registry that never asked for a token answered %d without one", status)
	}

	// The registry asks for the token: the view serves, even what it read
	// before, only with its own.
	mu.Lock()
	asks = true
	mu.Unlock()
	if _, err := c.Versions(context.Background(), "tokio"); err != nil {
		t.Fatal(err)
	}
	if !c.ReadsWithToken() {
		t.Fatal("the client does not read with the token after a 401")
	}
	if v.Token() == "" || strings.Contains(v.Token(), token) {
		t.Fatalf("the view's token %q is not one of its own", v.Token())
	}
	for _, rel := range []string{"se/rd/serde", "to/ki/tokio"} {
		for _, auth := range []string{"", token} {
			if status, body := viewGetWith(t, base, rel, auth); status != http.StatusUnauthorized {
				t.Errorf("the view answered %s with Authorization %q: %d %q, want 401", rel, auth, status, body)
			}
		}
		if status, body := viewGetWith(t, base, rel, v.Token()); status != http.StatusOK || !strings.Contains(body, `"vers":"1.0.0"`) {
			t.Errorf("the view answered %s with its token: %d %q", rel, status, body)
		}
	}
	v2, err := c.Serve()
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.Token() == v.Token() {
		t.Error("two views share a token")
	}
}

// A dependent's cargo is started while its dependency's new version is not
// in the index yet: the view holds its read of the dependency's file until
// embargo's own poll has seen the version with the sealed checksum, then
// answers with it, so cargo resolves as if started after the poll.
func TestViewHoldsAFileUntilTheVersionIsSeen(t *testing.T) {
	files, c, v, clock := newHeldView(t)
	view := strings.TrimPrefix(v.URL(), "sparse+")
	ctx := context.Background()
	sealed := strings.Repeat("ab", 32)
	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0"))
	files.set("3/x/xyz", entryLine("xyz", "2.0.0"))
	if _, _, err := c.Lookup(ctx, "abcd", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	h := v.Hold("abcd", "1.0.1", sealed, time.Minute)
	defer h.Release()

	held, answered := make(chan viewAnswer, 1), make(chan error, 1)
	go func() {
		status, body := viewGet(t, view, "ab/cd/abcd")
		held <- viewAnswer{status, body}
		answered <- nil
	}()
	// The read waits, on its bound, instead of being answered.
	if err := clock.AwaitWaiter(answered, 10*time.Second); err != nil {
		t.Fatalf("the read of a held file: %v", err)
	}
	// Another crate's file is answered while the read above waits.
	if status, body := viewGet(t, view, "3/x/xyz"); status != 200 || body != entryLine("xyz", "2.0.0") {
		t.Fatalf("a file not held: view answered %d %q", status, body)
	}
	if !h.Shown().IsZero() {
		t.Fatal("the hold says the version was shown before the index listed it")
	}
	// The registry lists the version; embargo's poll sees it.
	files.set("ab/cd/abcd", entryLine("abcd", "1.0.0")+entryLine("abcd", "1.0.1"))
	before := time.Now()
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.1"); err != nil || !found {
		t.Fatalf("poll: %v %v", found, err)
	}
	a := <-held
	if a.status != 200 || !strings.Contains(a.body, `"vers":"1.0.1"`) {
		t.Fatalf("the held read was answered %d %q, want the file with 1.0.1", a.status, a.body)
	}
	if shown := h.Shown(); shown.Before(before) {
		t.Errorf("the hold says the version was shown at %s, before the poll that brought it (%s)", shown, before)
	}
}

type viewAnswer struct {
	status int
	body   string
}

// answer is the view's answer to a read made in the background.
func answer(t *testing.T, got <-chan viewAnswer) viewAnswer {
	t.Helper()
	select {
	case a := <-got:
		return a
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the view did not answer")
		return viewAnswer{}
	}
}

// A hold is bounded: a version that never shows (here the index lists it
// with another checksum than the sealed one) is not waited for beyond the
// bound, and the reader gets the file as the copy has it; a released hold
// answers at once.
func TestViewHoldEndsAtItsBoundOrWhenReleased(t *testing.T) {
	files, c, v, clock := newHeldView(t)
	view := strings.TrimPrefix(v.URL(), "sparse+")
	ctx := context.Background()
	other := strings.Repeat("cd", 32)
	copied := entryLine("abcd", "1.0.0") + entryLine("abcd", "1.0.1")
	files.set("ab/cd/abcd", copied)
	if _, _, err := c.Lookup(ctx, "abcd", "1.0.1"); err != nil {
		t.Fatal(err)
	}

	read := func() (<-chan viewAnswer, <-chan error) {
		got, answered := make(chan viewAnswer, 1), make(chan error, 1)
		go func() {
			status, body := viewGet(t, view, "ab/cd/abcd")
			got <- viewAnswer{status, body}
			answered <- nil
		}()
		return got, answered
	}
	bound := 300 * time.Millisecond
	h := v.Hold("abcd", "1.0.1", other, bound)
	got, answered := read()
	if err := clock.AwaitWaiter(answered, 10*time.Second); err != nil {
		t.Fatalf("a version listed with another checksum: %v", err)
	}
	clock.Advance(bound - time.Millisecond)
	if clock.Waiters() == 0 {
		t.Fatalf("the held read stopped waiting before the bound %s", bound)
	}
	clock.Advance(time.Millisecond)
	if a := answer(t, got); a.status != 200 || a.body != copied {
		t.Errorf("after the bound the view answered %d %q, want the copy as it is", a.status, a.body)
	}
	if !h.Shown().IsZero() {
		t.Error("the hold says a version it never saw with its checksum was shown")
	}

	h2 := v.Hold("abcd", "1.0.2", other, time.Minute)
	got, answered = read()
	if err := clock.AwaitWaiter(answered, 10*time.Second); err != nil {
		t.Fatalf("a version not listed: %v", err)
	}
	h.Release()
	h2.Release()
	if a := answer(t, got); !strings.Contains(a.body, `"vers":"1.0.1"`) {
		t.Errorf("after the release the view answered %q", a.body)
	}
	// Released, the file is served at once again.
	if status, _ := viewGet(t, view, "ab/cd/abcd"); status != 200 {
		t.Errorf("after the release: %d", status)
	}
}
