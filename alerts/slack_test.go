package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/internal/secret"
	"github.com/portcullis-sec/portcullis/rules"
)

// sink is a Slack incoming webhook on loopback: it records the bodies it
// receives and answers with the scripted replies, then 200 "ok".
type sink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got [][]byte
	// replies are popped one per request: status, Retry-After, delay.
	replies []reply
}

type reply struct {
	status     int
	retryAfter string
	delay      time.Duration
}

// webhookPath is distinctive so the leak tests can look for it.
const webhookPath = "/services/T000LEAK/B000LEAK/xoxLEAKwebhookSECRET42"

func newSink(t *testing.T, replies ...reply) *sink {
	s := &sink{replies: replies}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != webhookPath || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		s.mu.Lock()
		rep := reply{status: http.StatusOK}
		if len(s.replies) > 0 {
			rep, s.replies = s.replies[0], s.replies[1:]
		}
		s.got = append(s.got, b)
		s.mu.Unlock()
		if rep.delay > 0 {
			select {
			case <-time.After(rep.delay):
			case <-r.Context().Done():
				return
			}
		}
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.WriteHeader(rep.status)
		if rep.status == http.StatusOK {
			io.WriteString(w, "ok")
		} else {
			io.WriteString(w, "rate_limited or server_error")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) url() secret.Value { return secret.New(s.srv.URL + webhookPath) }

func (s *sink) bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

// newTestSlack is a notifier on the fake clock.
func newTestSlack(t *testing.T, webhook secret.Value, clock *fakeClock, o SlackOptions) *Slack {
	t.Helper()
	s, err := NewSlack(webhook, o)
	if err != nil {
		t.Fatal(err)
	}
	s.now, s.sleep = clock.now, clock.sleep
	return s
}

// indent is the golden form of a payload: indented for review.
func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return out.Bytes()
}

// checkLimits asserts Slack's limits on a payload and returns it decoded.
func checkLimits(t *testing.T, b []byte) slackPayload {
	t.Helper()
	var p slackPayload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Blocks) > slackMaxBlocks {
		t.Errorf("%d blocks, Slack takes %d", len(p.Blocks), slackMaxBlocks)
	}
	if len(b) > 13000 {
		t.Errorf("payload of %d bytes, want under 13,000", len(b))
	}
	for i, bl := range p.Blocks {
		texts := bl.Elements
		if bl.Text != nil {
			texts = append(texts, *bl.Text)
		}
		for _, tx := range texts {
			maxChars := slackMaxSection
			if bl.Type == "header" {
				maxChars = slackMaxHeader
			}
			if len([]rune(tx.Text)) > maxChars {
				t.Errorf("block %d (%s): %d characters, limit %d", i, bl.Type, len([]rune(tx.Text)), maxChars)
			}
			checkEscaped(t, tx.Text)
		}
	}
	checkEscaped(t, p.Text)
	return p
}

// checkEscaped fails on any < or > that is not one of our own links, on
// control characters, and on a bare & that is not an entity.
func checkEscaped(t *testing.T, s string) {
	t.Helper()
	rest := s
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 || !strings.HasPrefix(rest[i:], "<https://reports.example.com/") {
			t.Errorf("unescaped < in %q", s)
			return
		}
		rest = rest[i+j+1:]
	}
	if strings.Contains(rest, ">") {
		t.Errorf("unescaped > in %q", s)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r == '\u202E' {
			t.Errorf("control character %U in %q", r, s)
			return
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '&' && !(strings.HasPrefix(s[i:], "&amp;") || strings.HasPrefix(s[i:], "&lt;") || strings.HasPrefix(s[i:], "&gt;")) {
			t.Errorf("bare & in %q", s)
			return
		}
	}
}

func TestSlackGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"slack-realistic.json", realistic()},
		{"slack-overflow.json", overflow(200)},
		{"slack-initial.json", Message{RunID: "run-1", Scope: account, Initial: &InitialSummary{Exposures: 42, BySeverity: map[rules.Severity]int{rules.Critical: 3, rules.High: 9, rules.Medium: 30}}}},
		{"slack-resolved-only.json", Message{RunID: "run-3", Scope: account, Resolved: realistic().Resolved}},
		{"slack-resolved-listed.json", Message{RunID: "run-3", Scope: account, Resolved: realistic().Resolved, ListResolved: true}},
		{"slack-digest.json", digest()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t)
			n := newTestSlack(t, s.url(), newFakeClock(), SlackOptions{})
			if err := n.Notify(context.Background(), tc.m); err != nil {
				t.Fatal(err)
			}
			got := s.bodies()
			if len(got) != 1 {
				t.Fatalf("%d posts, want 1", len(got))
			}
			p := checkLimits(t, got[0])
			golden(t, tc.name, indent(t, got[0]))
			if tc.name == "slack-overflow.json" {
				last := p.Blocks[len(p.Blocks)-1]
				if last.Type != "context" || !strings.HasPrefix(last.Elements[0].Text, "…and ") {
					t.Errorf("last block %+v, want the 'and N more' line", last)
				}
				shown := 0
				for _, b := range p.Blocks {
					if b.Type == "section" {
						shown++
					}
				}
				if want := "…and " + strconv.Itoa(200-shown) + " more"; !strings.HasPrefix(last.Elements[0].Text, want) {
					t.Errorf("overflow line %q, want %q", last.Elements[0].Text, want)
				}
			}
		})
	}
}

func TestSlackHostileStrings(t *testing.T) {
	b, err := SlackPayload(realistic(), 0)
	if err != nil {
		t.Fatal(err)
	}
	checkLimits(t, b)
	for _, bad := range []string{"<!channel>", "<script>", "<@U024BE7LH>", "@here", "\x1b", "\x07", "\u202E"} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("payload carries %q", bad)
		}
	}
	for _, want := range []string{"&lt;!channel&gt;", "＠here", "&lt;script&gt;", " &amp; ", "&lt;@U024BE7LH&gt;"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("payload lacks the escaped %q", want)
		}
	}
}

func TestSlackRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replies   []reply
		timeout   time.Duration
		wantErr   string
		wantPosts int
		wantSleep []time.Duration
	}{
		{name: "429 then success", replies: []reply{{status: 429, retryAfter: "3"}}, wantPosts: 2, wantSleep: []time.Duration{3 * time.Second}},
		{name: "429 beyond the bound", replies: []reply{{status: 429, retryAfter: "20"}, {status: 429, retryAfter: "20"}}, wantErr: "HTTP 429, retry after 20s", wantPosts: 2, wantSleep: []time.Duration{20 * time.Second}},
		{name: "429 http date", replies: []reply{{status: 429, retryAfter: "Tue, 01 Dec 2026 22:00:05 GMT"}}, wantPosts: 2, wantSleep: []time.Duration{5 * time.Second}},
		{name: "429 retry-after 0 forever", replies: []reply{{status: 429, retryAfter: "0"}, {status: 429, retryAfter: "0"}, {status: 429, retryAfter: "0"}, {status: 429, retryAfter: "0"}, {status: 429, retryAfter: "0"}, {status: 429, retryAfter: "0"}},
			wantErr: "5 times in a row", wantPosts: 5, wantSleep: []time.Duration{0, time.Second, 0, time.Second, 0, time.Second, 0, time.Second, 0}},
		{name: "500", replies: []reply{{status: 500}}, wantErr: "HTTP 500", wantPosts: 1},
		{name: "404", replies: []reply{{status: 404}}, wantErr: "HTTP 404", wantPosts: 1},
		{name: "timeout", replies: []reply{{status: 200, delay: 2 * time.Second}}, timeout: 100 * time.Millisecond, wantErr: "Client.Timeout", wantPosts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, tc.replies...)
			clock := newFakeClock()
			var logs bytes.Buffer
			o := SlackOptions{MaxRetryWait: 30 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			if tc.timeout > 0 {
				o.HTTPClient = &http.Client{Timeout: tc.timeout}
			}
			n := newTestSlack(t, s.url(), clock, o)
			err := n.Notify(context.Background(), realistic())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if got := len(s.bodies()); got != tc.wantPosts {
				t.Errorf("%d posts, want %d", got, tc.wantPosts)
			}
			// Sleeps: the Retry-After waits (the pacing after a 429 falls
			// within them on the fake clock).
			if got := clock.slept(); !equalDurations(got, tc.wantSleep) {
				t.Errorf("slept %v, want %v", got, tc.wantSleep)
			}
			noLeak(t, "error", errString(err))
			noLeak(t, "log", logs.String())
		})
	}
}

func TestSlackPacing(t *testing.T) {
	s := newSink(t)
	clock := newFakeClock()
	n := newTestSlack(t, s.url(), clock, SlackOptions{})
	ctx := context.Background()
	for range 3 {
		if err := n.Notify(ctx, realistic()); err != nil {
			t.Fatal(err)
		}
	}
	// Back to back: the second and third post each wait a full second.
	if got := clock.slept(); !equalDurations(got, []time.Duration{time.Second, time.Second}) {
		t.Errorf("slept %v, want [1s 1s]", got)
	}
	// After 400 ms of other work, the next post waits the remaining 600.
	clock.advance(400 * time.Millisecond)
	if err := n.Notify(ctx, realistic()); err != nil {
		t.Fatal(err)
	}
	if got := clock.slept(); len(got) != 3 || got[2] != 600*time.Millisecond {
		t.Errorf("slept %v, want a third sleep of 600ms", got)
	}
	// A cancelled context stops the wait with an error: not delivered.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Notify(cctx, realistic()); err == nil {
		t.Error("Notify with a cancelled context returned nil")
	}
	if got := len(s.bodies()); got != 4 {
		t.Errorf("%d posts, want 4", got)
	}
}

// TestSlackRealClockSpacing checks the default clock with a short interval
// and concurrent callers: requests leave at least Interval apart (timed
// where they leave, in the client's transport, since arrival times carry
// the jitter of connection setup).
func TestSlackRealClockSpacing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	rt := &stampingTransport{next: http.DefaultTransport}
	n, err := NewSlack(secret.New(srv.URL+webhookPath), SlackOptions{Interval: 50 * time.Millisecond, HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := n.Notify(context.Background(), realistic()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	at := rt.times()
	if len(at) != 4 {
		t.Fatalf("%d posts, want 4", len(at))
	}
	slices.SortFunc(at, time.Time.Compare)
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < 50*time.Millisecond {
			t.Errorf("posts %d and %d %s apart, want ≥ 50ms", i-1, i, d)
		}
	}
}

type stampingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
}

func (s *stampingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

func (s *stampingTransport) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

func TestSlackWebhookChecks(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.slack.com" + webhookPath, true},
		{"http://127.0.0.1:8080" + webhookPath, true},
		{"http://[::1]:8080" + webhookPath, true},
		{"http://localhost:8080" + webhookPath, true},
		{"http://hooks.slack.com" + webhookPath, false},
		{"http://192.0.2.1" + webhookPath, false},
		{"ftp://hooks.slack.com" + webhookPath, false},
		{"hooks.slack.com" + webhookPath, false},
		{"https://%zz" + webhookPath, false},
		{"", false},
	} {
		_, err := NewSlack(secret.New(tc.url), SlackOptions{})
		if (err == nil) != tc.ok {
			t.Errorf("NewSlack(%q): %v", tc.url, err)
		}
		noLeak(t, "error", errString(err))
	}
}

// TestSlackNoRedirect: a webhook that redirects is a failure, and the
// redirect is not followed (it could point at plain http).
func TestSlackNoRedirect(t *testing.T) {
	var followed bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	n := newTestSlack(t, secret.New(srv.URL+webhookPath), newFakeClock(), SlackOptions{})
	if err := n.Notify(context.Background(), realistic()); err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Errorf("error %v, want HTTP 307", err)
	}
	if followed {
		t.Error("the redirect was followed")
	}
}

// TestSlackUnreachableNoLeak: a transport error (connection refused) does
// not quote the URL, which net/http's *url.Error would.
func TestSlackUnreachableNoLeak(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	n := newTestSlack(t, secret.New(u+webhookPath), newFakeClock(), SlackOptions{})
	err := n.Notify(context.Background(), realistic())
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	noLeak(t, "error", err.Error())
}

func noLeak(t *testing.T, what, s string) {
	t.Helper()
	for _, secretPart := range []string{"xoxLEAKwebhookSECRET42", "T000LEAK", smtpPassword} {
		if strings.Contains(s, secretPart) {
			t.Errorf("the %s carries a secret: %s", what, s)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkSlackPayload(b *testing.B) {
	m := overflow(200)
	for b.Loop() {
		if _, err := SlackPayload(m, 0); err != nil {
			b.Fatal(err)
		}
	}
}
