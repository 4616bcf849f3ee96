package alerts

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/portcullis-sec/portcullis/internal/secret"
)

var fixedNow = func() time.Time { return time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC) }

// recorder is a Transport that keeps what it is given.
type recorder struct {
	from string
	to   []string
	msg  []byte
}

func (r *recorder) Send(_ context.Context, from string, to []string, msg []byte) error {
	r.from, r.to, r.msg = from, to, msg
	return nil
}

// normalize replaces the random parts of a message (Message-ID, MIME
// boundary) with placeholders for the golden file.
func normalize(t *testing.T, msg []byte) []byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	out := bytes.ReplaceAll(msg, []byte(params["boundary"]), []byte("BOUNDARY"))
	out = regexp.MustCompile(`Message-ID: <[0-9a-f]{32}@example\.com>`).ReplaceAll(out, []byte("Message-ID: <MESSAGE-ID@example.com>"))
	return out
}

// parts decodes the bodies of a multipart/alternative message.
func parts(t *testing.T, msg []byte) (*mail.Message, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %s: %v", mt, err)
	}
	got := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		got[ct] = string(b)
	}
	return m, got
}

func TestEmailGolden(t *testing.T) {
	rec := &recorder{}
	e, err := NewEmail(rec, "Portcullis <alerts@example.com>", []string{"oncall@example.com", "Sec Team <sec@example.com>"}, EmailOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), realistic()); err != nil {
		t.Fatal(err)
	}
	if rec.from != "alerts@example.com" || strings.Join(rec.to, ",") != "oncall@example.com,sec@example.com" {
		t.Errorf("envelope %s → %v", rec.from, rec.to)
	}
	golden(t, "email-realistic.eml", normalize(t, rec.msg))

	m, bodies := parts(t, rec.msg)
	for k, want := range map[string]string{
		"Subject":        "[Portcullis] 4 exposure changes in aws 111122223333: 2 new, 1 reopened, 1 widened (2 critical, 1 high, 1 medium), 2 resolved",
		"From":           `"Portcullis" <alerts@example.com>`,
		"Date":           "Tue, 01 Dec 2026 22:00:00 +0000",
		"Mime-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 2 || to[1].Name != "Sec Team" {
		t.Errorf("To: %v %v", to, err)
	}
	text, html := bodies["text/plain"], bodies["text/html"]
	if !strings.Contains(text, "NEW critical  203.0.113.10:22/tcp") || !strings.Contains(text, "<!channel> @here <script>") {
		t.Errorf("text body:\n%s", text)
	}
	if strings.Contains(html, "<!channel>") || strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ") {
		t.Errorf("html body not escaped:\n%s", html)
	}
	if !strings.Contains(html, `<a href="https://reports.example.com/runs/run-20261201T2200Z/report.html">`) {
		t.Errorf("html body lacks the report link")
	}
	for _, line := range strings.Split(string(rec.msg), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
		for _, c := range []byte(line) {
			if c >= 0x80 || c < 0x20 && c != '\t' {
				t.Fatalf("not 7-bit clean: %q", line)
			}
		}
	}
	if bytes.Contains(bytes.ReplaceAll(rec.msg, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("bare LF in the message")
	}
}

func TestEmailOverflowAndInitial(t *testing.T) {
	rec := &recorder{}
	e, err := NewEmail(rec, "alerts@example.com", []string{"oncall@example.com"}, EmailOptions{Now: fixedNow, MaxItems: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), overflow(200)); err != nil {
		t.Fatal(err)
	}
	_, b := parts(t, rec.msg)
	if n := strings.Count(b["text/plain"], "\nNEW "); n != 50 || !strings.Contains(b["text/plain"], "...and 150 more in the report.") {
		t.Errorf("%d items listed; text:\n%.400s", n, b["text/plain"])
	}
	if err := e.Notify(context.Background(), Message{Scope: account, Initial: &InitialSummary{Exposures: 1}}); err != nil {
		t.Fatal(err)
	}
	m, b := parts(t, rec.msg)
	if s := m.Header.Get("Subject"); s != "[Portcullis] Baseline established for aws 111122223333: 1 exposure" {
		t.Errorf("subject %q", s)
	}
	if !strings.Contains(b["text/plain"], "Portcullis now watches aws 111122223333") {
		t.Errorf("initial text:\n%s", b["text/plain"])
	}
}

func TestEmailRejects(t *testing.T) {
	rec := &recorder{}
	for _, tc := range []struct {
		from string
		to   []string
	}{
		{"not an address", []string{"a@example.com"}},
		{"a@example.com", nil},
		{"a@example.com", []string{"b@example.com\r\nBcc: evil@example.com"}},
		{"a@example.com\r\nBcc: evil@example.com", []string{"b@example.com"}},
	} {
		if _, err := NewEmail(rec, tc.from, tc.to, EmailOptions{}); err == nil {
			t.Errorf("NewEmail(%q, %q) accepted", tc.from, tc.to)
		}
	}
	if _, err := NewEmail(nil, "a@example.com", []string{"b@example.com"}, EmailOptions{}); err == nil {
		t.Error("NewEmail without a transport accepted")
	}
}

// A loopback SMTP server (go-smtp) whose backend records what it receives.

type received struct {
	from, authUser string
	to             []string
	data           []byte
	tls            bool
}

type smtpBackend struct {
	mu    sync.Mutex
	msgs  []received
	auths []string // every AUTH attempt, by user
}

func (b *smtpBackend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, tls := c.TLSConnectionState()
	return &smtpSession{b: b, r: received{tls: tls}, c: c}, nil
}

func (b *smtpBackend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type smtpSession struct {
	b *smtpBackend
	c *gosmtp.Conn
	r received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.b.mu.Lock()
		s.b.auths = append(s.b.auths, user)
		s.b.mu.Unlock()
		if user != "alerts" || pass != smtpPassword {
			return errors.New("invalid credentials")
		}
		s.r.authUser = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.r.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.r.to = append(s.r.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.data = b
	_, s.r.tls = s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.r)
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// selfSigned is a certificate for name, and a pool that trusts it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// startSMTP runs a go-smtp server on 127.0.0.1 and returns its address.
func startSMTP(t *testing.T, be *smtpBackend, tlsCfg *tls.Config, insecureAuth bool, implicit bool) string {
	t.Helper()
	srv := gosmtp.NewServer(be)
	srv.Domain = "mail.example.test"
	srv.TLSConfig = tlsCfg
	srv.AllowInsecureAuth = insecureAuth
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = nopLogger{}
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// dialTo sends every connection to addr, whatever host the URL names:
// "mail.example.test" stands for a server that is not on loopback while
// the traffic stays on this machine.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func TestSMTP(t *testing.T) {
	cert, pool := selfSigned(t, "mail.example.test")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, tc := range []struct {
		name         string
		url          string // HOST is replaced by the server's address for loopback cases
		serverTLS    bool
		implicit     bool
		insecureAuth bool
		clientRoots  bool
		wantErr      string
		wantTLS      bool
		wantAuth     string
		wantAttempts int // AUTH attempts the server saw
	}{
		{name: "loopback plaintext", url: "smtp://HOST"},
		{name: "loopback plaintext with auth", url: "smtp://alerts:" + smtpPassword + "@HOST", insecureAuth: true, wantAuth: "alerts", wantAttempts: 1},
		{name: "starttls self-signed", url: "smtp://mail.example.test:587", serverTLS: true, clientRoots: true, wantTLS: true},
		{name: "starttls and auth", url: "smtp://alerts:" + smtpPassword + "@mail.example.test:587", serverTLS: true, clientRoots: true, wantTLS: true, wantAuth: "alerts", wantAttempts: 1},
		{name: "implicit tls and auth", url: "smtps://alerts:" + smtpPassword + "@mail.example.test", serverTLS: true, implicit: true, clientRoots: true, wantTLS: true, wantAuth: "alerts", wantAttempts: 1},
		{name: "wrong password", url: "smtp://alerts:wrong-" + smtpPassword + "@mail.example.test:587", serverTLS: true, clientRoots: true, wantErr: "auth", wantAttempts: 1},
		{name: "untrusted certificate", url: "smtp://mail.example.test:587", serverTLS: true, wantErr: "starttls"},
		{name: "no starttls off loopback", url: "smtp://mail.example.test:587", wantErr: "does not offer STARTTLS"},
		{name: "no auth in plaintext off loopback", url: "smtp://alerts:" + smtpPassword + "@mail.example.test:587", insecureAuth: true, wantErr: "does not offer STARTTLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &smtpBackend{}
			var st *tls.Config
			if tc.serverTLS {
				st = serverTLS
			}
			addr := startSMTP(t, be, st, tc.insecureAuth, tc.implicit)
			o := SMTPOptions{DialContext: dialTo(addr), Timeout: 10 * time.Second}
			if tc.clientRoots {
				o.TLSConfig = &tls.Config{RootCAs: pool}
			}
			tr, err := NewSMTP(secret.New(strings.Replace(tc.url, "HOST", addr, 1)), o)
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEmail(tr, "alerts@example.com", []string{"oncall@example.com", "sec@example.com"}, EmailOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Notify(context.Background(), realistic())
			noLeak(t, "error", errString(err))
			be.mu.Lock()
			attempts := len(be.auths)
			be.mu.Unlock()
			if attempts != tc.wantAttempts {
				t.Errorf("%d AUTH attempts reached the server, want %d", attempts, tc.wantAttempts)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if n := len(be.received()); n != 0 {
					t.Errorf("%d messages delivered despite the error", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := be.received()
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			r := got[0]
			if r.from != "alerts@example.com" || strings.Join(r.to, ",") != "oncall@example.com,sec@example.com" || r.tls != tc.wantTLS || r.authUser != tc.wantAuth {
				t.Errorf("received from %s to %v, tls %v, auth %q", r.from, r.to, r.tls, r.authUser)
			}
			m, bodies := parts(t, r.data)
			if !strings.HasPrefix(m.Header.Get("Subject"), "[Portcullis] 4 exposure changes in aws 111122223333") {
				t.Errorf("subject %q", m.Header.Get("Subject"))
			}
			if !strings.Contains(bodies["text/plain"], "203.0.113.10:22/tcp") || !strings.Contains(bodies["text/html"], "<code>203.0.113.10:22/tcp</code>") {
				t.Error("bodies lack the exposure")
			}
		})
	}
}

func TestSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url, wantAddr string
		ok            bool
	}{
		{"smtp://u:" + smtpPassword + "@mail.example.test:2525", "mail.example.test:2525", true},
		{"smtp://mail.example.test", "mail.example.test:587", true},
		{"smtps://u:" + smtpPassword + "@mail.example.test", "mail.example.test:465", true},
		{"smtp://[::1]:25", "[::1]:25", true},
		{"http://u:" + smtpPassword + "@mail.example.test", "", false},
		{"smtp://u:" + smtpPassword + "@", "", false},
		{"smtp://u:" + smtpPassword + "@mail.example.test/x?tls=off", "", false},
		{"smtp://u:" + smtpPassword + "@mail.example.test:%zz", "", false},
		{"smtp://u:%zz" + smtpPassword + "@host", "", false},
	} {
		tr, err := NewSMTP(secret.New(tc.url), SMTPOptions{})
		noLeak(t, "error", errString(err))
		switch {
		case tc.ok && err != nil:
			t.Errorf("NewSMTP: %v", err)
		case !tc.ok && err == nil:
			t.Errorf("NewSMTP(%d) accepted", len(tc.url))
		case tc.ok && tr.Server() != tc.wantAddr:
			t.Errorf("server %s, want %s", tr.Server(), tc.wantAddr)
		}
	}
}

// TestSMTPCancel: a server that never answers does not hold Send past
// its context.
func TestSMTPCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // no greeting, ever
		}
	}()
	tr, err := NewSMTP(secret.New("smtp://"+l.Addr().String()), SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := tr.Send(ctx, "a@example.com", []string{"b@example.com"}, []byte("x")); err == nil {
		t.Fatal("Send to a silent server returned nil")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send returned after %s", d)
	}
}

// TestNotifiersPrintNoSecret: a notifier or transport printed by mistake
// (a %+v in a log line) shows no webhook path and no password.
func TestNotifiersPrintNoSecret(t *testing.T) {
	sl, err := NewSlack(secret.New("https://hooks.slack.com"+webhookPath), SlackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewSMTP(secret.New("smtp://alerts:"+smtpPassword+"@mail.example.test:587"), SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEmail(tr, "alerts@example.com", []string{"oncall@example.com"}, EmailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{sl, *sl, tr, *tr, e} {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			noLeak(t, "printed notifier", fmt.Sprintf(verb, v))
		}
	}
}
