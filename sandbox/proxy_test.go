package sandbox

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/async-rs/embargo/sandbox/registry"
)

// proxyWorld is a real registry on https at a path of its host, as Gitea
// serves one, which counts every request it gets; a sandbox registry; and
// the proxy between them.
type proxyWorld struct {
	real    *httptest.Server
	reached atomic.Int32 // requests the real registry got
	sandbox *registry.Server
	proxy   *RegistryProxy
	client  *http.Client // trusts only the proxy's certificate authority
}

const realIndexPath = "/api/packages/acme/cargo/"

func newProxyWorld(t *testing.T) *proxyWorld {
	t.Helper()
	w := &proxyWorld{}
	w.real = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.reached.Add(1)
		http.Error(rw, "the real registry", http.StatusTeapot)
	}))
	t.Cleanup(w.real.Close)
	var err error
	if w.sandbox, err = registry.Start("", registry.Options{Dir: t.TempDir(), Token: "sandbox-token"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.sandbox.Close() })
	if w.proxy, err = StartRegistryProxy("sparse+"+w.real.URL+realIndexPath, w.sandbox.IndexURL(), filepath.Join(t.TempDir(), "ca.pem")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.proxy.Close() })
	pemCA, err := os.ReadFile(w.proxy.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCA) {
		t.Fatalf("%s holds no certificate", w.proxy.CAFile)
	}
	proxyURL, _ := url.Parse(w.proxy.URL)
	w.client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	return w
}

func (w *proxyWorld) do(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader("a body"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s through the proxy: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// cargo, configured with the real registry's https URL and the proxy, reads
// the sandbox's index in its place, over TLS it trusts through the
// proxy's own certificate authority; the real registry gets nothing, not
// even a request outside its index.
func TestProxyAnswersForTheRealIndexWithTheSandbox(t *testing.T) {
	w := newProxyWorld(t)
	status, body := w.do(t, http.MethodGet, w.real.URL+realIndexPath+"config.json")
	var cfg struct{ DL, API string }
	if err := json.Unmarshal([]byte(body), &cfg); status != http.StatusOK || err != nil || cfg.API != w.sandbox.URL {
		t.Fatalf("config.json of the real index through the proxy: %d %q, want the sandbox's (api %s)", status, body, w.sandbox.URL)
	}
	if status, _ := w.do(t, http.MethodGet, w.real.URL+realIndexPath+"ab/cd/abcd"); status != http.StatusNotFound {
		t.Errorf("an index file the sandbox lacks: %d, want the sandbox's 404", status)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		if status, body := w.do(t, m, w.real.URL+"/api/v1/crates/new"); status != http.StatusForbidden || !strings.Contains(body, "nothing to the real registry") {
			t.Errorf("%s outside the real index: %d %q, want it refused", m, status, body)
		}
	}
	if n := w.reached.Load(); n != 0 {
		t.Errorf("the real registry got %d request(s) through the proxy", n)
	}
	var toSandbox int
	for _, r := range w.proxy.Requests() {
		if r.To == "sandbox" {
			toSandbox++
		}
	}
	if toSandbox != 2 {
		t.Errorf("the proxy's log: %+v, want 2 requests answered by the sandbox", w.proxy.Requests())
	}
}

// Other hosts are only read through the proxy: a write to one is refused
// before any connection is made; loopback (the sandbox's API, the views
// of the index) is reached as asked.
func TestProxyOnlyReadsOtherHosts(t *testing.T) {
	w := newProxyWorld(t)
	for _, u := range []string{"https://crates.example/api/v1/crates/new", "http://crates.example/api/v1/crates/new"} {
		if status, body := w.do(t, http.MethodPut, u); status != http.StatusForbidden || !strings.Contains(body, "only reads hosts other than the sandbox's") {
			t.Errorf("PUT %s: %d %q, want it refused", u, status, body)
		}
	}
	if status, body := w.do(t, http.MethodPut, w.sandbox.URL+"/api/v1/crates/new"); status != http.StatusForbidden || !strings.Contains(body, "authentication") {
		t.Errorf("PUT to the sandbox's API: %d %q, want the sandbox's own refusal of a publish without its token", status, body)
	}
}
