package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// RegistryProxy is the HTTP proxy a rehearsal's cargo reaches the world
// through when the release goes to an alternative registry.
//
// Why: cargo writes the index URL of an alternative registry into the
// package of every crate that depends on another crate of it (the packaged
// Cargo.toml's registry-index, the packaged Cargo.lock's source). A
// rehearsal that gave cargo the sandbox's URL would package, and upload,
// other bytes than the sealed ones. So cargo keeps the real URL, configured
// as at T0, and makes every request through this proxy (http.proxy), which
// answers for the real registry's index with the sandbox's: cargo packages
// the sealed bytes and uploads them to the sandbox, whose config.json names
// its own API.
//
// Nothing reaches the real registry: any other request to its host is
// refused. Loopback (the sandbox's API, embargo's views of the index) is
// reached as asked. Any other host (crates.io, for the release's crates.io
// dependencies) is only read: GET and HEAD pass, anything else is refused.
// An https host is answered with a certificate the proxy makes for it,
// signed by a certificate authority of its own that only the rehearsal's
// cargo trusts (http.cainfo, CAFile); its key never leaves this process.
type RegistryProxy struct {
	URL    string // http://127.0.0.1:PORT, for http.proxy
	CAFile string // the PEM certificate cargo trusts, for http.cainfo

	real    *url.URL // the real index, without sparse+
	sandbox *url.URL // the sandbox's index, without sparse+
	forward *httputil.ReverseProxy
	ca      *x509.Certificate
	leafKey *ecdsa.PrivateKey
	caKey   *ecdsa.PrivateKey

	ln      net.Listener
	srv     *http.Server // the proxy
	tunnels *tunnelListener
	inner   *http.Server // requests inside CONNECT tunnels

	mu    sync.Mutex
	certs map[string]*tls.Certificate
	log   []ProxyRequest
}

// ProxyRequest is one request the proxy handled.
type ProxyRequest struct {
	Method, URL string
	// To is where it went: "sandbox" (the real index, answered by the
	// sandbox's), "passed" (to the host asked), or "refused".
	To     string
	Status int
}

// StartRegistryProxy serves a proxy on 127.0.0.1 that answers for the real
// index (realIndex, a sparse index URL) with the sandbox's (sandboxIndex),
// writing its certificate authority to caFile.
func StartRegistryProxy(realIndex, sandboxIndex, caFile string) (*RegistryProxy, error) {
	real, err := indexURL(realIndex)
	if err != nil {
		return nil, err
	}
	sandbox, err := indexURL(sandboxIndex)
	if err != nil {
		return nil, err
	}
	p := &RegistryProxy{CAFile: caFile, real: real, sandbox: sandbox, certs: map[string]*tls.Certificate{}}
	if err := p.makeCA(); err != nil {
		return nil, fmt.Errorf("sandbox proxy: certificate authority: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = http.ProxyFromEnvironment
	p.forward = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the handler sets Out.URL
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "embargo rehearsal proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("sandbox proxy: listen: %w", err)
	}
	p.URL = "http://" + p.ln.Addr().String()
	p.tunnels = newTunnelListener(p.ln.Addr())
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveTunneled),
		ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, authorityKey{}, c.(*tunnelConn).authority)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 30 * time.Second}
	go p.inner.Serve(p.tunnels)
	go p.srv.Serve(p.ln)
	return p, nil
}

func indexURL(index string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimPrefix(index, "sparse+"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sandbox proxy: %q is not a sparse index URL", index)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Close stops the proxy and every tunnel through it.
func (p *RegistryProxy) Close() error {
	err := p.srv.Close()
	p.inner.Close()
	return err
}

// Requests returns a copy of what the proxy handled, oldest first.
func (p *RegistryProxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRequest(nil), p.log...)
}

// serve handles a request to the proxy: an absolute http URL, or CONNECT
// to an https host.
func (p *RegistryProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if r.URL.Host == "" || r.URL.Scheme != "http" {
		http.Error(w, "embargo rehearsal proxy: not a proxy request", http.StatusBadRequest)
		return
	}
	p.handle(w, r, r.URL)
}

// serveTunneled handles a request that came through a CONNECT tunnel: to
// the https host the tunnel was opened for.
func (p *RegistryProxy) serveTunneled(w http.ResponseWriter, r *http.Request) {
	u := *r.URL
	u.Scheme, u.Host = "https", r.Context().Value(authorityKey{}).(string)
	p.handle(w, r, &u)
}

func (p *RegistryProxy) handle(w http.ResponseWriter, r *http.Request, u *url.URL) {
	target, to, why := p.route(r.Method, u)
	entry := ProxyRequest{Method: r.Method, URL: u.Redacted(), To: to}
	sw := &proxyStatus{ResponseWriter: w}
	if target == nil {
		http.Error(sw, "embargo rehearsal proxy: "+why, http.StatusForbidden)
	} else {
		out := r.Clone(r.Context())
		out.URL, out.Host, out.RequestURI = target, "", ""
		p.forward.ServeHTTP(sw, out)
	}
	entry.Status = sw.status
	p.mu.Lock()
	p.log = append(p.log, entry)
	p.mu.Unlock()
}

// route says where a request for u goes: the sandbox for the real index, u
// itself where it may, or nowhere (nil, with why).
func (p *RegistryProxy) route(method string, u *url.URL) (target *url.URL, to, why string) {
	if sameOrigin(u, p.real) {
		rest, ok := strings.CutPrefix(u.Path, p.real.Path)
		if !ok {
			return nil, "refused", fmt.Sprintf("%s %s: a rehearsal sends nothing to the real registry but reads of its index, which the sandbox answers", method, u.Redacted())
		}
		t := *p.sandbox
		t.Path, t.RawPath, t.RawQuery = p.sandbox.Path+rest, "", u.RawQuery
		return &t, "sandbox", ""
	}
	if loopback(u.Hostname()) || method == http.MethodGet || method == http.MethodHead {
		return u, "passed", ""
	}
	return nil, "refused", fmt.Sprintf("%s %s: a rehearsal only reads hosts other than the sandbox's", method, u.Redacted())
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tunnel answers CONNECT: the client's TLS is ended here, with a
// certificate for the host it asked for, and its requests are handled like
// any other.
func (p *RegistryProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	authority := r.Host
	host, _, err := net.SplitHostPort(authority)
	if err != nil {
		http.Error(w, "embargo rehearsal proxy: CONNECT wants host:port", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "embargo rehearsal proxy: cannot tunnel", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil || buf.Reader.Buffered() > 0 {
		conn.Close()
		return
	}
	tc := tls.Server(conn, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.certFor(host)
		},
	})
	if !p.tunnels.push(&tunnelConn{Conn: tc, authority: authority}) {
		conn.Close()
	}
}

type authorityKey struct{}

// certFor is the certificate the proxy answers host with, made once.
func (p *RegistryProxy) certFor(host string) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.certs[host]; ok {
		return c, nil
	}
	tmpl := certTemplate(host)
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &p.leafKey.PublicKey, p.caKey)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: p.leafKey}
	p.certs[host] = c
	return c, nil
}

// makeCA makes the certificate authority, valid for two days, and writes
// its certificate to CAFile.
func (p *RegistryProxy) makeCA() error {
	var err error
	if p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	if p.leafKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	tmpl := certTemplate("embargo rehearsal proxy CA")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		return err
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	return os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func certTemplate(name string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(48 * time.Hour),
	}
}

// proxyStatus records the status a handler answered.
type proxyStatus struct {
	http.ResponseWriter
	status int
}

func (w *proxyStatus) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *proxyStatus) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *proxyStatus) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tunnelConn is a CONNECT tunnel's connection, with the host:port it was
// opened for.
type tunnelConn struct {
	net.Conn
	authority string
}

// tunnelListener hands the tunnels' connections to an http.Server.
type tunnelListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newTunnelListener(addr net.Addr) *tunnelListener {
	return &tunnelListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *tunnelListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *tunnelListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *tunnelListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *tunnelListener) Addr() net.Addr { return l.addr }
