package alerts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Transport sends one composed email (RFC 5322 bytes, CRLF line ends) to
// the recipients; SMTP and SES implement it.
type Transport interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// EmailOptions configure an email notifier. Zero values take the defaults.
type EmailOptions struct {
	// MaxItems caps the exposures listed in one email ("and N more" past
	// it); default 100.
	MaxItems int
	// SubjectPrefix starts every subject; default "[Portcullis] ".
	SubjectPrefix string
	// Now dates the messages; default time.Now.
	Now func() time.Time
}

// Email sends one multipart/alternative message (text and HTML) per
// Message through a Transport.
type Email struct {
	t      Transport
	from   *mail.Address
	to     []*mail.Address
	max    int
	prefix string
	now    func() time.Time
}

// NewEmail checks the addresses (RFC 5322, one address per string, a
// display name allowed) and returns the notifier.
func NewEmail(t Transport, from string, to []string, o EmailOptions) (*Email, error) {
	if t == nil {
		return nil, errors.New("email notifier: no transport")
	}
	f, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("email sender %q: %w", from, err)
	}
	if len(to) == 0 {
		return nil, errors.New("email notifier: no recipients (--email-to)")
	}
	e := &Email{t: t, from: f, max: o.MaxItems, prefix: o.SubjectPrefix, now: o.Now}
	for _, a := range to {
		r, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return nil, fmt.Errorf("email recipient %q: %w", a, err)
		}
		e.to = append(e.to, r)
	}
	if e.max <= 0 {
		e.max = 100
	}
	if e.prefix == "" {
		e.prefix = "[Portcullis] "
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Name implements Notifier.
func (*Email) Name() string { return "email" }

// Notify composes m and sends it.
func (e *Email) Notify(ctx context.Context, m Message) error {
	msg, err := e.Compose(m)
	if err != nil {
		return err
	}
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.Address
	}
	if err := e.t.Send(ctx, e.from.Address, to, msg); err != nil {
		return fmt.Errorf("send email to %d recipients: %w", len(to), err)
	}
	return nil
}

// Compose renders m as one RFC 5322 message: headers, then a
// multipart/alternative body with a text/plain and a text/html part, both
// UTF-8 in quoted-printable (so the message is 7-bit clean and no line
// exceeds 76 characters whatever the cloud strings hold).
func (e *Email) Compose(m Message) ([]byte, error) {
	m = cleanMessage(m)
	v := newEmailView(m, e.max)
	var text, html bytes.Buffer
	writeText(&text, v, true)
	if err := emailHTML.Execute(&html, v); err != nil {
		return nil, fmt.Errorf("render the email's html: %w", err)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	id, err := messageID(e.from.Address)
	if err != nil {
		return nil, err
	}
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.String()
	}
	// Header values: ours, or cleaned (no CR/LF: no header injection);
	// non-ASCII goes in RFC 2047 encoded words.
	h := []struct{ k, v string }{
		{"From", e.from.String()},
		{"To", strings.Join(to, ",\r\n ")}, // folded: one recipient a line keeps lines short
		{"Subject", mime.QEncoding.Encode("utf-8", truncate(e.prefix+Headline(m), 250))},
		{"Date", e.now().Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"MIME-Version", "1.0"},
		// RFC 3834: no auto-replies to a machine's message.
		{"Auto-Submitted", "auto-generated"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
		// The run, for threading and for finding the message again.
		{"X-Portcullis-Run", truncate(m.RunID, 100)},
	}
	var head bytes.Buffer
	for _, kv := range h {
		if kv.v == "" {
			continue
		}
		head.WriteString(fold(kv.k + ": " + kv.v))
		head.WriteString("\r\n")
	}
	head.WriteString("\r\n")

	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain; charset=utf-8", text.Bytes()}, {"text/html; charset=utf-8", html.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, fmt.Errorf("compose the email: %w", err)
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(crlf(part.body)); err != nil {
			return nil, fmt.Errorf("compose the email: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("compose the email: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compose the email: %w", err)
	}
	return append(head.Bytes(), buf.Bytes()...), nil
}

// fold breaks a header line at spaces so that its lines stay within 78
// characters where a space allows (RFC 5322 §2.2.3).
func fold(line string) string {
	var b strings.Builder
	for _, seg := range strings.Split(line, "\r\n ") {
		if b.Len() > 0 {
			b.WriteString("\r\n ")
		}
		n := 0
		for i, w := range strings.Split(seg, " ") {
			if i > 0 {
				if n+1+len(w) > 78 {
					b.WriteString("\r\n ")
					n = 1
				} else {
					b.WriteByte(' ')
					n++
				}
			}
			b.WriteString(w)
			n += len(w)
		}
	}
	return b.String()
}

// crlf turns the body's line ends into CRLF, which quoted-printable keeps
// as hard line breaks (RFC 2045 §6.7).
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// messageID is a unique <random@domain> for the sender's domain.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "portcullis.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// emailView is what both bodies render.
type emailView struct {
	Headline  string
	Scope     string
	RunID     string
	ReportURL string
	Initial   string
	Items     []emailItem
	More      int
	Resolved  string
	Period    string
}

type emailItem struct {
	Badge, Severity, Endpoint, Backend, NewPorts, Findings, Sources, Target, Path, Probe, Actor, ID string
	Latent                                                                                          bool
}

func newEmailView(m Message, limit int) emailView {
	v := emailView{Headline: Headline(m), Scope: scopeName(m.Scope), RunID: m.RunID}
	if isWebURL(m.ReportURL) {
		v.ReportURL = m.ReportURL // html/template escapes it for href
	}
	if m.Digest != nil && !m.Digest.From.IsZero() {
		v.Period = m.Digest.From.UTC().Format(time.DateOnly) + " to " + m.Digest.To.UTC().Format(time.DateOnly)
	}
	if m.Initial != nil {
		v.Initial = fmt.Sprintf("Portcullis now watches %s: %s found by this run. From the next run on, only changes are announced.",
			v.Scope, plural(m.Initial.Exposures, "exposure", "exposures"))
	}
	list := m.Items
	if m.ListResolved {
		list = append(list, m.Resolved...)
	} else if len(m.Resolved) > 0 {
		v.Resolved = resolvedLine(m.Resolved, 20)
	}
	for i, it := range list {
		if i == limit {
			v.More = len(list) - limit
			break
		}
		ei := emailItem{
			Badge: kindBadge(it.Kind), Severity: it.Severity.String(), Endpoint: endpoint(it), Findings: findingLine(it),
			Sources: it.Sources, Target: target(it), Path: it.Path, Probe: it.Probe, Actor: it.Actor, ID: it.ExposureID,
			Latent: it.Level == exposure.Latent,
		}
		if it.BackendPorts != "" && it.BackendPorts != it.Ports {
			ei.Backend = it.BackendPorts
		}
		if it.Kind == KindWidened {
			ei.NewPorts = it.NewPorts
		}
		v.Items = append(v.Items, ei)
	}
	return v
}

// writeText is the text/plain body.
func writeText(b *bytes.Buffer, v emailView, footer bool) {
	fmt.Fprintf(b, "%s\n", v.Headline)
	if v.RunID != "" || v.Period != "" || v.ReportURL != "" {
		b.WriteString("\n")
	}
	if v.RunID != "" {
		fmt.Fprintf(b, "Run: %s\n", v.RunID)
	}
	if v.Period != "" {
		fmt.Fprintf(b, "Period: %s\n", v.Period)
	}
	if v.ReportURL != "" {
		fmt.Fprintf(b, "Report: %s\n", v.ReportURL)
	}
	if v.Initial != "" {
		fmt.Fprintf(b, "\n%s\n", v.Initial)
	}
	for _, it := range v.Items {
		fmt.Fprintf(b, "\n%s %s  %s", it.Badge, it.Severity, it.Endpoint)
		if it.Backend != "" {
			fmt.Fprintf(b, " -> backend port %s", it.Backend)
		}
		if it.Latent {
			b.WriteString(" (latent: no path delivers it today)")
		}
		b.WriteString("\n")
		for _, f := range []struct{ k, v string }{
			{"Added", it.NewPorts}, {"Finding", it.Findings}, {"Who gets in", it.Sources}, {"Target", it.Target},
			{"Path", it.Path}, {"Probe", it.Probe}, {"Change", it.Actor}, {"ID", it.ID},
		} {
			if f.v != "" {
				fmt.Fprintf(b, "  %-12s %s\n", f.k+":", f.v)
			}
		}
	}
	if v.More > 0 {
		fmt.Fprintf(b, "\n...and %d more", v.More)
		if v.ReportURL != "" {
			b.WriteString(" in the report")
		}
		b.WriteString(".\n")
	}
	if v.Resolved != "" {
		fmt.Fprintf(b, "\n%s\n", v.Resolved)
	}
	if footer {
		b.WriteString("\n-- \nSent by Portcullis. Each exposure is announced once; the next message comes when something changes.\n")
	}
}

// emailHTML is the text/html body. html/template escapes every value for
// its context (text, attribute, URL); inline styles only, as mail clients
// drop style sheets.
var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Headline}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328">
<h2 style="font-size:18px">{{.Headline}}</h2>
<p style="color:#59636e">Portcullis{{if .RunID}} run <code>{{.RunID}}</code>{{end}}{{if .Period}} · {{.Period}}{{end}}{{if .ReportURL}} · <a href="{{.ReportURL}}">Open the report</a>{{end}}</p>
{{if .Initial}}<p>{{.Initial}}</p>
{{end}}{{range .Items}}<table style="border-collapse:collapse;margin:12px 0;border-left:4px solid {{if eq .Severity "critical"}}#d1242f{{else if eq .Severity "high"}}#bc4c00{{else if eq .Severity "medium"}}#9a6700{{else}}#59636e{{end}}">
<tr><td colspan="2" style="padding:4px 8px"><b>{{.Badge}} · {{.Severity}}</b> <code>{{.Endpoint}}</code>{{if .Backend}} → backend port {{.Backend}}{{end}}{{if .Latent}} <i>(latent: no path delivers it today)</i>{{end}}</td></tr>
{{if .NewPorts}}<tr><th style="text-align:left;padding:2px 8px">Added</th><td>{{.NewPorts}}</td></tr>
{{end}}{{if .Findings}}<tr><th style="text-align:left;padding:2px 8px">Finding</th><td>{{.Findings}}</td></tr>
{{end}}{{if .Sources}}<tr><th style="text-align:left;padding:2px 8px">Who gets in</th><td>{{.Sources}}</td></tr>
{{end}}{{if .Target}}<tr><th style="text-align:left;padding:2px 8px">Target</th><td>{{.Target}}</td></tr>
{{end}}{{if .Path}}<tr><th style="text-align:left;padding:2px 8px">Path</th><td>{{.Path}}</td></tr>
{{end}}{{if .Probe}}<tr><th style="text-align:left;padding:2px 8px">Probe</th><td>{{.Probe}}</td></tr>
{{end}}{{if .Actor}}<tr><th style="text-align:left;padding:2px 8px">Change</th><td>{{.Actor}}</td></tr>
{{end}}{{if .ID}}<tr><th style="text-align:left;padding:2px 8px">ID</th><td><code>{{.ID}}</code></td></tr>
{{end}}</table>
{{end}}{{if .More}}<p>…and {{.More}} more{{if .ReportURL}} <a href="{{.ReportURL}}">in the report</a>{{end}}.</p>
{{end}}{{if .Resolved}}<p>✅ {{.Resolved}}</p>
{{end}}<p style="color:#59636e;font-size:12px">Sent by Portcullis. Each exposure is announced once; the next message comes when something changes.</p>
</body></html>
`))
