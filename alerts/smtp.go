package alerts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/internal/secret"
)

// SMTPOptions configure an SMTP transport. Zero values take the defaults.
type SMTPOptions struct {
	// TLSConfig verifies the server; default the system roots with the
	// URL's host as the server name. Tests pass their own roots.
	TLSConfig *tls.Config
	// DialContext opens the TCP connection; default a net.Dialer. Tests
	// point a non-loopback host name at a loopback server with it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds one Send when the context has no earlier deadline;
	// default 60 s.
	Timeout time.Duration
	// LocalName is the EHLO name; default "localhost".
	LocalName string
}

// SMTP sends mail through a submission server given by a URL:
//
//	smtp://user:pass@host:587   STARTTLS, required unless host is loopback
//	smtps://user:pass@host:465  TLS from the first byte (RFC 8314)
//
// With a user it authenticates with AUTH PLAIN, only over TLS (or to a
// loopback server). The URL is a secret.Value: the password never appears
// in an error or a log line.
type SMTP struct {
	host, addr string
	implicit   bool
	user       string
	pass       secret.Value // a Value, so that printing the transport prints no password
	opts       SMTPOptions
}

// NewSMTP parses the server URL.
func NewSMTP(u secret.Value, o SMTPOptions) (*SMTP, error) {
	p, err := url.Parse(strings.TrimSpace(u.Reveal()))
	if err != nil {
		// url.Parse quotes its input, password and all.
		return nil, errors.New("smtp URL is not a URL (value not shown): want smtp://user:pass@host:port")
	}
	s := &SMTP{host: p.Hostname(), opts: o}
	port := p.Port()
	switch p.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("smtp URL scheme %q: want smtp:// (STARTTLS) or smtps:// (TLS)", p.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("smtp URL has no host: want smtp://user:pass@host:port")
	}
	if p.Path != "" && p.Path != "/" || p.RawQuery != "" {
		return nil, errors.New("smtp URL: no path or query is understood (want smtp://user:pass@host:port)")
	}
	s.addr = net.JoinHostPort(s.host, port)
	if p.User != nil {
		s.user = p.User.Username()
		pw, _ := p.User.Password()
		s.pass = secret.New(pw)
	}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = 60 * time.Second
	}
	if s.opts.LocalName == "" {
		s.opts.LocalName = "localhost"
	}
	if s.opts.DialContext == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		s.opts.DialContext = d.DialContext
	}
	return s, nil
}

// Server is host:port, for messages (no credentials).
func (s *SMTP) Server() string { return s.addr }

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.opts.TLSConfig != nil {
		c = s.opts.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	return c
}

// Send delivers msg to every recipient in one transaction.
func (s *SMTP) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	wrap := func(step string, err error) error {
		return fmt.Errorf("smtp %s: %s: %w", s.addr, step, err)
	}
	conn, err := s.opts.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return wrap("connect", err)
	}
	// net/smtp has no context: the deadline bounds every read and write,
	// and cancellation closes the connection.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing is how a cancellation interrupts a blocked read or write; the
	// caller sees that failure (and ctx.Err()), not Close's.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if s.implicit {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close() // the handshake's error is the one to report
			return wrap("tls handshake", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		_ = conn.Close() // the greeting's error is the one to report
		return wrap("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.opts.LocalName); err != nil {
		return wrap("ehlo", err)
	}
	secure := s.implicit
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return wrap("starttls", err)
			}
			secure = true
		} else if !isLoopback(s.host) {
			// Without TLS the alert (and any password) would cross the
			// network in the clear; only a loopback relay is trusted so.
			return wrap("starttls", errors.New("the server does not offer STARTTLS, which is required for a server not on loopback"))
		}
	}
	if s.user != "" {
		if !secure && !isLoopback(s.host) {
			return wrap("auth", errors.New("refusing to send credentials without TLS"))
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !hasMech(mechs, "PLAIN") {
			return wrap("auth", fmt.Errorf("the server does not offer AUTH PLAIN (offers %q)", mechs))
		}
		if err := c.Auth(plainAuth{user: s.user, pass: s.pass.Reveal(), host: s.host}); err != nil {
			return wrap("auth", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return wrap("mail from", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return wrap("rcpt to "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return wrap("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return wrap("data", err)
	}
	if err := w.Close(); err != nil {
		return wrap("data", err)
	}
	// The message was accepted at the end of DATA: a failed QUIT does
	// not undo that, and reporting it would send the alert twice.
	_ = c.Quit()
	return nil
}

func hasMech(list, mech string) bool {
	for _, m := range strings.Fields(list) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// plainAuth is AUTH PLAIN (RFC 4616). net/smtp's PlainAuth would do, but
// it only trusts "localhost", 127.0.0.1 and ::1 as loopback; this one
// applies the same rule as the rest of the transport (checked in Send)
// and checks again here that TLS is up.
type plainAuth struct{ user, pass, host string }

func (a plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(a.host) {
		return "", nil, errors.New("refusing to send credentials without TLS")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}
