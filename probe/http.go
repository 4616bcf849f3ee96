package probe

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
)

// probeHTTP sends one GET / over plain TCP.
func probeHTTP(ctx context.Context, s *session) (*fingerprint, error) {
	return httpExchange(ctx, s, "http")
}

var (
	titleRE      = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	spaceRE      = regexp.MustCompile(`\s+`)
	needsTLSBody = regexp.MustCompile(`(?i)https|\bssl\b|\btls\b`)
)

// httpExchange sends "GET / HTTP/1.1" with the prober's User-Agent and
// reads the status line, headers and the start of the body (within the
// byte cap) for the title. Redirects are recorded, never followed: a
// redirect may point anywhere, and only inventory addresses are probed.
func httpExchange(ctx context.Context, s *session, scheme string) (*fingerprint, error) {
	host := hostPort(s.t, s.t.Port)
	if (scheme == "http" && s.t.Port == 80) || (scheme == "https" && s.t.Port == 443) {
		host = s.t.Host
		if host == "" {
			host = strings.TrimSuffix(hostPort(s.t, s.t.Port), fmt.Sprintf(":%d", s.t.Port))
		}
	}
	req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n", host, s.cfg().UserAgent)
	if err := s.write(ctx, []byte(req)); err != nil {
		return nil, err
	}
	_ = s.conn.SetReadDeadline(s.stepDeadline(ctx, s.cfg().Timeout))
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(aLongTimeAgo()) })
	defer stop()
	br := bufio.NewReader(io.LimitReader(s.conn, int64(s.cfg().MaxBytes)))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest && needsTLSBody.Match(body) {
		// "Client sent an HTTP request to an HTTPS server" (Go), "The
		// plain HTTP request was sent to HTTPS port" (nginx): try TLS.
		s.next = "tls"
		return nil, nil
	}
	fp := &fingerprint{Service: scheme, Product: clean(resp.Header.Get("Server"), 80)}
	fp.set("http.status", resp.Status)
	fp.set("http.server", clean(resp.Header.Get("Server"), 120))
	fp.set("http.poweredBy", clean(resp.Header.Get("X-Powered-By"), 80))
	fp.set("http.location", clean(resp.Header.Get("Location"), 200))
	fp.set("http.authenticate", clean(resp.Header.Get("WWW-Authenticate"), 120))
	if m := titleRE.FindSubmatch(body); m != nil {
		title := strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(string(m[1])), " "))
		fp.set("http.title", clean(title, 200))
	}
	return fp, nil
}

func hostPort(t Target, port uint16) string {
	h := t.Host
	if h == "" {
		return netip.AddrPortFrom(t.Addr, port).String()
	}
	return fmt.Sprintf("%s:%d", h, port)
}
