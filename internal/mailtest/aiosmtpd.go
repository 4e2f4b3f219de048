package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/mailserver"
)

// Aiosmtpd is Debian's aiosmtpd (python3-aiosmtpd) serving on this
// machine's loopback, delivering every message it takes into a Maildir.
type Aiosmtpd struct {
	// Addr is its host:port.
	Addr string
	// TLS trusts its certificate; nil when it offers no STARTTLS.
	TLS     *tls.Config
	maildir string
	log     *syncBuffer
}

// AiosmtpdOptions say how to run it.
type AiosmtpdOptions struct {
	// STARTTLS offers STARTTLS, and requires it before any mail (the
	// program's own --tlscert, whose default is to require it).
	STARTTLS bool
	// User and Password make it ask for a login (AUTH PLAIN and LOGIN,
	// aiosmtpd's own); OnlyLogin leaves PLAIN out. The program's command
	// line has no login, so this runs aiosmtpd's SMTP class from a few
	// lines of Python.
	User, Password string
	OnlyLogin      bool
}

// python is a python3 that has aiosmtpd: Debian's, which the package
// installs it for, before whatever python3 is first on PATH.
func python() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import aiosmtpd").Run() == nil {
			return path
		}
	}
	return ""
}

// authServer runs aiosmtpd's SMTP class with a login, which its command
// line cannot: argv host port maildir user password exclude certfile keyfile.
const authServer = `
import asyncio, ssl, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
host, port, maildir, user, password, exclude, cert, key = sys.argv[1:9]
# handled=False: aiosmtpd answers a refusal with its own 535; the default,
# handled=True, tells it the authenticator has already replied, and then
# the client waits for a reply that never comes.
def authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
    return AuthResult(success=ok, handled=False)
context = None
if cert:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
handler = Mailbox(maildir)
def factory():
    return SMTP(handler, authenticator=authenticator, auth_require_tls=bool(cert),
                auth_exclude_mechanism=[exclude] if exclude else None,
                tls_context=context, require_starttls=bool(cert))
loop = asyncio.new_event_loop()
loop.run_until_complete(loop.create_server(factory, host, int(port)))
print("Server is listening on %s:%s" % (host, port), file=sys.stderr, flush=True)
loop.run_forever()
`

// StartAiosmtpd starts aiosmtpd for tb, on a port of its own; it stops
// with the test.
func StartAiosmtpd(tb testing.TB, opts AiosmtpdOptions) *Aiosmtpd {
	tb.Helper()
	py := python()
	testenv.Need(tb, py != "", "no python3 with aiosmtpd (Debian's python3-aiosmtpd)", "mail is tested through a real SMTP server")
	dir := tb.TempDir()
	a := &Aiosmtpd{maildir: filepath.Join(dir, "Maildir"), log: &syncBuffer{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(a.Addr)
	ln.Close()

	var cert, key string
	if opts.STARTTLS {
		certPEM, keyPEM, err := mailserver.SelfSigned()
		if err != nil {
			tb.Fatal(err)
		}
		cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
			tb.Fatal(err)
		}
		a.TLS = &tls.Config{RootCAs: mailserver.CertPool(certPEM)}
	}
	var cmd *exec.Cmd
	if opts.User != "" {
		exclude := ""
		if opts.OnlyLogin {
			exclude = "PLAIN"
		}
		cmd = exec.Command(py, "-c", authServer, host, port, a.maildir, opts.User, opts.Password, exclude, cert, key)
	} else {
		args := []string{"-m", "aiosmtpd", "-n", "-d", "-c", "aiosmtpd.handlers.Mailbox", "-l", a.Addr}
		if opts.STARTTLS {
			args = append(args, "--tlscert", cert, "--tlskey", key)
		}
		cmd = exec.Command(py, append(args, a.maildir)...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start aiosmtpd: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// It says when it listens; until then, and after, its log is kept
	// for a failure to show.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			a.log.Write(append(sc.Bytes(), '\n'))
			if !said && strings.Contains(sc.Text(), "Server is listening on") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	if !<-ready {
		tb.Fatalf("aiosmtpd did not start:\n%s", a.log.String())
	}
	return a
}

// Log is what aiosmtpd wrote so far.
func (a *Aiosmtpd) Log() string { return a.log.String() }

// Messages are the messages delivered so far, as stored, oldest first.
func (a *Aiosmtpd) Messages(tb testing.TB) [][]byte {
	tb.Helper()
	dir := filepath.Join(a.maildir, "new")
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	type file struct {
		name string
		data []byte
		mod  int64
	}
	var files []file
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, file{e.Name(), b, info.ModTime().UnixNano()})
	}
	slices.SortFunc(files, func(x, y file) int {
		if x.mod != y.mod {
			return int(x.mod - y.mod)
		}
		return strings.Compare(x.name, y.name)
	})
	var out [][]byte
	for _, f := range files {
		out = append(out, f.data)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
