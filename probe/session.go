package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// fingerprint is what a prober recognised.
type fingerprint struct {
	Service  string
	Product  string
	Evidence map[string]string
}

func (f *fingerprint) set(k, v string) {
	if v == "" {
		return
	}
	if f.Evidence == nil {
		f.Evidence = map[string]string{}
	}
	f.Evidence[k] = v
}

// proberFunc is the one signature every protocol prober has: speak one
// protocol over the session's connection (TCP) or socket (UDP) and report
// what answered. It returns nil when the peer does not speak the protocol;
// what the peer did send is then in s.reply() for the classifier.
type proberFunc func(ctx context.Context, s *session) (*fingerprint, error)

// session is the state of probing one port: the current connection, the
// fingerprinting budget and what was read.
type session struct {
	p        *Prober
	t        Target
	dial     netip.AddrPort
	network  string // tcp or udp
	conn     net.Conn
	rec      *recorder
	fresh    bool      // nothing written on conn yet
	deadline time.Time // end of the fingerprinting budget
	banner   []byte    // greeting read before speaking, if any
	tried    []string
	next     string // a prober's suggestion of what to try next
}

func (s *session) cfg() *Config { return &s.p.cfg }

// connect opens a new connection (closing any previous one), after waiting
// for the rate limiters. Its RTT is the time the handshake took.
func (s *session) connect(ctx context.Context) (time.Duration, error) {
	s.close()
	if err := s.p.wait(ctx, s.dial.Addr()); err != nil {
		return 0, fmt.Errorf("%w: %w", errNotProbed, err)
	}
	timeout := s.cfg().Timeout
	if !s.deadline.IsZero() {
		timeout = min(timeout, time.Until(s.deadline))
		if timeout <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
	}
	d := net.Dialer{Timeout: timeout}
	if s.network == "tcp" {
		s.p.conns.Add(1)
	}
	start := time.Now()
	c, err := d.DialContext(ctx, s.network, s.dial.String())
	if err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	s.rec = &recorder{Conn: c, max: s.cfg().MaxBytes}
	s.conn, s.fresh = s.rec, true
	return rtt, nil
}

func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// stepDeadline is when the current read or write must finish: one Timeout,
// cut short by the fingerprinting budget.
func (s *session) stepDeadline(ctx context.Context, d time.Duration) time.Time {
	end := time.Now().Add(d)
	if !s.deadline.IsZero() && s.deadline.Before(end) {
		end = s.deadline
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	return end
}

// write sends b on the connection within one step.
func (s *session) write(ctx context.Context, b []byte) error {
	s.fresh = false
	_ = s.conn.SetWriteDeadline(s.stepDeadline(ctx, s.cfg().Timeout))
	_, err := s.conn.Write(b)
	return err
}

// readSome reads what arrives within wait, up to the byte cap. It returns
// as soon as the first chunk arrives unless full is set, in which case it
// keeps reading until the peer closes, the cap is reached or wait ends.
func (s *session) readSome(ctx context.Context, wait time.Duration, full bool) ([]byte, error) {
	end := s.stepDeadline(ctx, wait)
	_ = s.conn.SetReadDeadline(end)
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(aLongTimeAgo()) })
	defer stop()
	var out []byte
	buf := make([]byte, s.cfg().MaxBytes)
	for len(out) < s.cfg().MaxBytes {
		n, err := s.conn.Read(buf[:s.cfg().MaxBytes-len(out)])
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
		if !full && len(out) > 0 {
			// Greetings end with a line break or a complete packet;
			// give the rest of a line a moment to arrive.
			if lineComplete(out) {
				return out, nil
			}
			_ = s.conn.SetReadDeadline(minTime(end, time.Now().Add(50*time.Millisecond)))
		}
	}
	return out, nil
}

func lineComplete(b []byte) bool { return b[len(b)-1] == '\n' }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// reply is what the peer sent on the current connection (up to MaxBytes),
// for the classifier when a prober did not recognise it.
func (s *session) reply() []byte {
	if s.rec == nil {
		return nil
	}
	return s.rec.buf
}

// recorder keeps the first bytes read from a connection.
type recorder struct {
	net.Conn
	max int
	buf []byte
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if room := r.max - len(r.buf); room > 0 && n > 0 {
		r.buf = append(r.buf, b[:min(n, room)]...)
	}
	return n, err
}

// errNotProbed marks a probe the run's end prevented.
var errNotProbed = errors.New("not probed")

// outcome maps a dial error to a port state, as nmap does for a connect
// scan: refused (RST, or ICMP port unreachable for UDP) is closed; silence
// until the timeout, or an ICMP host/network unreachable (what a firewall's
// REJECT with admin-prohibited gives), is filtered.
func outcome(ctx context.Context, err error) (exposure.ProbeState, string) {
	switch {
	case errors.Is(err, errNotProbed), ctx.Err() != nil, runEnded(ctx):
		// The run ended (or will before the rate limiter lets this probe
		// go): no answer was waited for, so nothing is known.
		return exposure.ProbeSkipped, "not probed: the run ended first"
	case errors.Is(err, syscall.ECONNREFUSED):
		return exposure.ProbeClosed, "connection refused"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return exposure.ProbeFiltered, "no answer before the timeout"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return exposure.ProbeFiltered, "unreachable: " + err.Error()
	}
	return exposure.ProbeError, err.Error()
}

// runEnded reports whether ctx's deadline has passed (a dial cut short by
// it can return just before ctx.Err is set).
func runEnded(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// printable renders bytes as evidence: printable ASCII is kept, line breaks
// become \r and \n, anything else \xNN; the result never exceeds limit bytes.
func printable(b []byte, limit int) string {
	var sb strings.Builder
	for _, c := range b {
		var piece string
		switch {
		case c == '\r':
			piece = `\r`
		case c == '\n':
			piece = `\n`
		case c == '\t':
			piece = `\t`
		case c == '\\':
			piece = `\\`
		case c >= 0x20 && c < 0x7f:
			piece = string(rune(c))
		default:
			piece = `\x` + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&0xf, 16)
		}
		if sb.Len()+len(piece) > limit {
			break
		}
		sb.WriteString(piece)
	}
	return sb.String()
}

// bannerText is a greeting as evidence. A greeting in plain text (the
// SSH identification string, FTP and SMTP replies) is kept as the text it
// is: lines joined by "\n" (the protocols' CR LF line ends are framing,
// not content) and the final line break trimmed; escaping it here would
// have each output escape the escapes again ("\\r\\n" in JSON). Anything
// else (control characters, bytes beyond ASCII) is printable's escaped
// form, so a binary greeting cannot reach a terminal or a report raw.
func bannerText(b []byte, limit int) string {
	text := strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r\n")
	for _, c := range []byte(text) {
		if (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return printable(b, limit)
		}
	}
	if len(text) > limit {
		text = text[:limit]
	}
	return text
}

// firstLine returns the first line of b without its line break, as text.
func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// clean keeps a short printable string for Product fields.
func clean(s string, limit int) string {
	s = strings.TrimSpace(printable([]byte(s), limit))
	return s
}

// aLongTimeAgo is a deadline in the past, to interrupt a blocked read.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }
