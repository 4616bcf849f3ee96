package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// tlsConfig is the client side of the handshake. It accepts any
// certificate (InsecureSkipVerify) on purpose: the prober reports what the
// server presents — self-signed, expired, wrong name — and trusts nothing it
// receives; the chain is verified separately below and the verdict is
// evidence. It also offers TLS 1.0 and the insecure suites so that old
// servers answer, and that age is reported rather than hidden.
func tlsConfig(serverName string) *tls.Config {
	suites := []uint16{}
	for _, c := range tls.CipherSuites() {
		suites = append(suites, c.ID)
	}
	for _, c := range tls.InsecureCipherSuites() {
		suites = append(suites, c.ID)
	}
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // report, never trust: see above
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       suites,
		NextProtos:         []string{"http/1.1"},
	}
}

// tlsWrapped maps services that run inside TLS from the first byte to the
// greeting they send once the handshake is done.
var tlsWrapped = map[string]string{"smtps": "smtp", "imaps": "imap", "pop3s": "pop3", "ftps": "ftp"}

// probeTLS performs a TLS handshake and records the certificate and the
// negotiated version; then, over the TLS connection, it reads the greeting
// of a TLS-wrapped mail or FTP service or makes an HTTP request.
func probeTLS(ctx context.Context, s *session) (*fingerprint, error) {
	s.fresh = false
	step := s.stepDeadline(ctx, s.cfg().Timeout)
	_ = s.conn.SetDeadline(step) // the banner wait left a read deadline behind
	tc := tls.Client(s.conn, tlsConfig(s.t.Host))
	hctx, cancel := context.WithDeadline(ctx, step)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		return nil, err
	}
	fp := &fingerprint{Service: "tls"}
	tlsEvidence(fp, tc.ConnectionState(), s.t.Host, time.Now())

	// Everything after the handshake is read through TLS.
	s.rec = &recorder{Conn: tc, max: s.cfg().MaxBytes}
	s.conn = s.rec
	expect := strings.ToLower(s.t.Expect)
	if expect == "" {
		expect = WellKnown(6, s.t.Port)
	}
	if inner, ok := tlsWrapped[expect]; ok {
		b, _ := s.readSome(ctx, s.cfg().BannerWait, false)
		if len(b) > 0 {
			fp.set("banner", printable(b, s.cfg().MaxBytes))
			if svc := classify(b); svc != "" {
				fp.Service = svc + "s"
				fp.Product = clean(firstLine(b), 80)
				return fp, nil
			}
		}
		_ = inner
	}
	if h, _ := httpExchange(ctx, s, "https"); h != nil {
		fp.Service, fp.Product = h.Service, h.Product
		for k, v := range h.Evidence {
			fp.set(k, v)
		}
	} else if b := s.reply(); len(b) > 0 {
		fp.set("response", printable(b, s.cfg().MaxBytes))
	}
	return fp, nil
}

// tlsEvidence records the negotiated parameters and the leaf certificate.
func tlsEvidence(fp *fingerprint, st tls.ConnectionState, host string, now time.Time) {
	fp.set("tls.version", tls.VersionName(st.Version))
	fp.set("tls.cipher", tls.CipherSuiteName(st.CipherSuite))
	fp.set("tls.alpn", st.NegotiatedProtocol)
	if st.Version < tls.VersionTLS12 {
		fp.set("tls.legacy", "protocol older than TLS 1.2")
	}
	if len(st.PeerCertificates) == 0 {
		return
	}
	leaf := st.PeerCertificates[0]
	fp.set("tls.subject", leaf.Subject.String())
	fp.set("tls.issuer", leaf.Issuer.String())
	var sans []string
	sans = append(sans, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, ip.String())
	}
	slices.Sort(sans)
	fp.set("tls.sans", strings.Join(sans, ","))
	fp.set("tls.notBefore", leaf.NotBefore.UTC().Format(time.RFC3339))
	fp.set("tls.notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
	sum := sha256.Sum256(leaf.Raw)
	fp.set("tls.sha256", hex.EncodeToString(sum[:]))
	selfSigned := string(leaf.RawIssuer) == string(leaf.RawSubject) && leaf.CheckSignatureFrom(leaf) == nil
	fp.set("tls.selfSigned", boolString(selfSigned))
	fp.set("tls.expired", boolString(now.After(leaf.NotAfter)))
	if now.Before(leaf.NotBefore) {
		fp.set("tls.notYetValid", "true")
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Intermediates: inter, CurrentTime: now, DNSName: host}
	if _, err := leaf.Verify(opts); err != nil {
		fp.set("tls.verify", err.Error())
	} else {
		fp.set("tls.verify", "ok")
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
