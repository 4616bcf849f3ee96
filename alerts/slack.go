package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/secret"
)

// Slack's limits for a message
// (https://docs.slack.dev/reference/block-kit/blocks, section and header
// blocks): at most 50 blocks, 3,000 characters in a section's text, 150
// in a header. Slack truncates a message's text past 40,000 characters
// but renders long block messages poorly well before that; messages are
// kept under slackMaxTotal characters of text.
const (
	slackMaxBlocks  = 50
	slackMaxSection = 3000
	slackMaxHeader  = 150
	slackMaxTotal   = 12000
	// slackReserved blocks besides items: header, run context, overflow
	// line, resolved line, and one spare.
	slackReserved = 5
	// slackMaxAttempts bounds the posts of one Notify, whatever
	// Retry-After says (a "Retry-After: 0" loop).
	slackMaxAttempts = 5
)

// SlackOptions configure a Slack notifier. Zero values take the defaults.
type SlackOptions struct {
	// HTTPClient posts the messages; default a client with a 10 s timeout.
	// Redirects are never followed, whatever the client says: a webhook
	// answers itself or fails.
	HTTPClient *http.Client
	// Interval is the least time between two posts to the webhook: Slack
	// allows about one message a second per incoming webhook
	// (https://docs.slack.dev/apis/web-api/rate-limits). Default 1 s.
	Interval time.Duration
	// MaxRetryWait bounds the total time one Notify waits on HTTP 429
	// Retry-After answers; past it Notify returns an error and the alert
	// stays pending. Default 30 s.
	MaxRetryWait time.Duration
	// MaxItems caps the exposures listed in one message ("and N more"
	// past it); default and upper bound 40 (Slack's 50 blocks less the
	// header, context and summary lines).
	MaxItems int
	Logger   *slog.Logger
}

// Slack posts messages to a Slack incoming webhook as Block Kit JSON.
type Slack struct {
	webhook  secret.Value
	client   *http.Client
	interval time.Duration
	maxWait  time.Duration
	maxItems int
	log      *slog.Logger

	// now and sleep are the clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	turn chan struct{} // holds one token while a post is paced and sent
	last time.Time     // when the last post started; guarded by turn
}

// NewSlack checks the webhook URL (https, or http to a loopback address
// for tests) and returns the notifier. Errors never quote the URL: its
// path is the credential.
func NewSlack(webhook secret.Value, o SlackOptions) (*Slack, error) {
	if err := checkWebhook(webhook.Reveal()); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Slack{
		webhook: webhook, client: client, interval: o.Interval, maxWait: o.MaxRetryWait, maxItems: o.MaxItems, log: o.Logger,
		now: time.Now, sleep: sleepCtx, turn: make(chan struct{}, 1),
	}
	if s.interval <= 0 {
		s.interval = time.Second
	}
	if s.maxWait <= 0 {
		s.maxWait = 30 * time.Second
	}
	if s.maxItems <= 0 || s.maxItems > slackMaxBlocks-slackReserved {
		s.maxItems = slackMaxBlocks - slackReserved - 5
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func checkWebhook(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		// url.Parse's error quotes the URL: say only what is wrong.
		return errors.New("slack webhook URL is not an absolute URL (value not shown)")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("slack webhook URL must use https (http only to a loopback address), not %q", u.Scheme)
}

// isLoopback reports whether host is a loopback IP literal or localhost.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name implements Notifier.
func (*Slack) Name() string { return "slack" }

// Notify posts m. It waits for its turn (Interval after the last post),
// honours HTTP 429 Retry-After within MaxRetryWait, and returns an error
// for anything but HTTP 200: 429 past the bound, 4xx, 5xx, timeouts.
func (s *Slack) Notify(ctx context.Context, m Message) error {
	body, err := SlackPayload(m, s.maxItems)
	if err != nil {
		return err
	}
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		if attempt > slackMaxAttempts {
			return fmt.Errorf("slack rate-limited the webhook %d times in a row (waited %s): not delivered", slackMaxAttempts, waited)
		}
		release, err := s.pace(ctx)
		if err != nil {
			return fmt.Errorf("wait to post to slack: %w", err)
		}
		status, header, reply, err := s.post(ctx, body)
		if err != nil {
			release()
			return fmt.Errorf("post to slack webhook: %w", err)
		}
		s.log.Debug("slack post", "status", status, "attempt", attempt, "bytes", len(body))
		switch status {
		case http.StatusOK:
			release()
			return nil
		case http.StatusTooManyRequests:
			d := retryAfter(header.Get("Retry-After"), s.now())
			if waited+d > s.maxWait {
				release()
				return fmt.Errorf("slack rate-limited the webhook (HTTP 429, retry after %s, waited %s already): not delivered", d, waited)
			}
			s.log.Info("slack rate limit: waiting", "retry_after", d, "attempt", attempt)
			// The wait holds the turn: Retry-After is for the webhook,
			// so any other post in the meantime would be refused too.
			err := s.sleep(ctx, d)
			release()
			if err != nil {
				return fmt.Errorf("wait for slack's Retry-After: %w", err)
			}
			waited += d
		default:
			release()
			return fmt.Errorf("slack webhook answered HTTP %d: %s", status, reply)
		}
	}
}

// pace waits for the webhook's turn: Interval after the start of the last
// post, whoever made it. It holds the turn until release is called, so
// that concurrent Notify calls post one at a time and never closer than
// Interval, measured from when each post actually started.
func (s *Slack) pace(ctx context.Context) (release func(), err error) {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-s.turn }
	if !s.last.IsZero() {
		if d := s.last.Add(s.interval).Sub(s.now()); d > 0 {
			if err := s.sleep(ctx, d); err != nil {
				release()
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		release()
		return nil, err
	}
	s.last = s.now()
	return release, nil
}

// post sends body and returns the status, headers and a short, cleaned
// copy of the reply. Its errors are those of the transport without the
// *url.Error wrapper, which would quote the webhook URL.
func (s *Slack) post(ctx context.Context, body []byte) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSpace(s.webhook.Reveal()), bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", errors.New("build the request")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, resp.Header, clean(string(b), 200), nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date
// (RFC 9110 §10.2.3). Missing or unreadable, it is one second.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
		return 0
	}
	return time.Second
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Block Kit JSON.
type slackPayload struct {
	Text        string       `json:"text"` // the notification's fallback
	Blocks      []slackBlock `json:"blocks"`
	UnfurlLinks bool         `json:"unfurl_links"`
	UnfurlMedia bool         `json:"unfurl_media"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"` // plain_text, mrkdwn
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji,omitempty"`
}

// mrkdwn escapes s for Slack's mrkdwn
// (https://docs.slack.dev/messaging/formatting-message-text#escaping):
// &, < and > are the only characters Slack asks to escape, and escaping
// them is what keeps "<!channel>" or "<https://evil|bank>" in a tag from
// becoming a mention or a link. The other mrkdwn markers (* _ ~ `) have no
// escape in Slack; in a cloud string they can at most change emphasis,
// which is cosmetic, so they are left alone, except inside code spans
// (see code).
//
// Plain "@channel", "@here" and "@everyone" are not mentions in a webhook
// message (mentions are the <!…> forms escaped above), but Slack clients
// have linked them in some settings (link_names); their @ becomes a
// full-width ＠ so that no setting can make them ping.
func mrkdwn(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return atMention.ReplaceAllString(s, "＠$1")
}

var atMention = regexp.MustCompile(`(?i)@(channel|here|everyone)\b`)

// code is s escaped in a code span: a backtick would end the span early,
// so it becomes a prime.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + mrkdwn(strings.ReplaceAll(s, "`", "ʹ")) + "`"
}

// plainText is s for a plain_text object (the header), which Slack does not
// parse for mentions or links; &, < and > are dropped all the same so that
// no rendering of it can become one.
func plainText(s string, limit int) string {
	s = strings.NewReplacer("&", "+", "<", "‹", ">", "›").Replace(s)
	return truncate(s, limit)
}

// cutEscaped cuts an escaped string to max bytes without splitting a rune
// or an entity (&amp; …).
func cutEscaped(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ell = "…"
	cut := limit - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if amp := strings.LastIndexByte(s[:cut], '&'); amp >= 0 && !strings.Contains(s[amp:cut], ";") {
		cut = amp
	}
	return s[:cut] + ell
}

var severityEmoji = map[string]string{"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:", "low": ":large_blue_circle:", "info": ":white_circle:"}

// slackItem is the section text of one exposure.
func slackItem(it Item) string {
	var b strings.Builder
	sev := it.Severity.String()
	mark := severityEmoji[sev]
	if it.Kind == KindResolved {
		mark = ":white_check_mark:"
	}
	fmt.Fprintf(&b, "%s *%s · %s* %s", mark, kindBadge(it.Kind), sev, code(endpoint(it)))
	if it.BackendPorts != "" && it.BackendPorts != it.Ports {
		fmt.Fprintf(&b, " → backend port %s", mrkdwn(it.BackendPorts))
	}
	if it.Level == exposure.Latent {
		b.WriteString(" _(latent: no path delivers it today)_")
	}
	if it.Kind == KindWidened && it.NewPorts != "" {
		fmt.Fprintf(&b, "\n*Added:* %s", mrkdwn(it.NewPorts))
	}
	if f := findingLine(it); f != "" {
		fmt.Fprintf(&b, "\n*Finding:* %s", mrkdwn(f))
	}
	if it.Sources != "" {
		fmt.Fprintf(&b, "\n*Who gets in:* %s", mrkdwn(it.Sources))
	}
	if t := target(it); t != "" {
		fmt.Fprintf(&b, "\n*Target:* %s", mrkdwn(t))
	}
	if it.Path != "" {
		fmt.Fprintf(&b, "\n*Path:* %s", mrkdwn(it.Path))
	}
	if it.Probe != "" {
		fmt.Fprintf(&b, "\n*Probe:* %s", mrkdwn(it.Probe))
	}
	if it.Actor != "" {
		fmt.Fprintf(&b, "\n*Change:* %s", mrkdwn(it.Actor))
	}
	if it.ExposureID != "" {
		fmt.Fprintf(&b, "\n*ID:* %s", code(it.ExposureID))
	}
	return cutEscaped(b.String(), slackMaxSection)
}

// reportLink is a mrkdwn link to u, or "" when u is not an http(s) URL.
// In <url|label> the URL must hold no |, < or > (percent-encoded here).
func reportLink(u, label string) string {
	if !isWebURL(u) {
		return ""
	}
	p, _ := url.Parse(u)
	safe := strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", "&", "&amp;", " ", "%20").Replace(p.String())
	return "<" + safe + "|" + label + ">"
}

// isWebURL reports whether u is an absolute http(s) URL: the only report
// links a message carries.
func isWebURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// SlackPayload is the Block Kit JSON of m, listing at most maxItems
// exposures (0: the default) and as many as fit in Slack's limits; the
// rest are counted in an "and N more" line.
func SlackPayload(m Message, maxItems int) ([]byte, error) {
	if maxItems <= 0 || maxItems > slackMaxBlocks-slackReserved {
		maxItems = slackMaxBlocks - slackReserved - 5
	}
	m = cleanMessage(m)
	head := Headline(m)
	p := slackPayload{Text: mrkdwn(head)}
	emoji := false
	p.Blocks = append(p.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: plainText(head, slackMaxHeader), Emoji: &emoji}})
	ctxLine := "Portcullis"
	if m.RunID != "" {
		ctxLine += " run " + code(m.RunID)
	}
	if m.Digest != nil && !m.Digest.From.IsZero() {
		ctxLine += fmt.Sprintf(" · %s to %s", m.Digest.From.UTC().Format(time.DateOnly), m.Digest.To.UTC().Format(time.DateOnly))
	}
	if l := reportLink(m.ReportURL, "Open the report"); l != "" {
		ctxLine += " · " + l
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: ctxLine}}})
	total := len(p.Text) + len(head) + len(ctxLine)

	if m.Initial != nil {
		txt := fmt.Sprintf("Portcullis now watches %s: %s found by this run. From the next run on, only changes are announced.",
			mrkdwn(scopeName(m.Scope)), plural(m.Initial.Exposures, "exposure", "exposures"))
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: txt}})
	}
	var resolved string
	if len(m.Resolved) > 0 && !m.ListResolved {
		resolved = cutEscaped(":white_check_mark: "+mrkdwn(resolvedLine(m.Resolved, 10)), 2000)
		total += len(resolved)
	}
	total += 200 // the "and N more" line
	list := m.Items
	if m.ListResolved {
		list = append(list, m.Resolved...)
	}
	shown := 0
	for _, it := range list {
		if shown == maxItems {
			break
		}
		txt := slackItem(it)
		// 80: the JSON of a section block around its text.
		if total+len(txt)+80 > slackMaxTotal {
			break
		}
		total += len(txt) + 80
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: txt}})
		shown++
	}
	if rest := len(list) - shown; rest > 0 {
		txt := fmt.Sprintf("…and %d more", rest)
		if l := reportLink(m.ReportURL, "in the report"); l != "" {
			txt += " " + l
		}
		p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: txt}}})
	}
	if resolved != "" {
		// Beside other news a context line; alone, the message's body.
		if len(m.Items) > 0 || m.Initial != nil {
			p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: resolved}}})
		} else {
			p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: resolved}})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the text is escaped for mrkdwn already
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode slack message: %w", err)
	}
	return buf.Bytes(), nil
}
