package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// Distinctive secrets: the test asserts they appear in no log line, report
// or state file.
const (
	slackSecretPath = "/services/T0PORTCULLIS/B0TEST/xoxSECRETslackTOKEN42"
	smtpSecretPass  = "SMTPpassw0rdSECRET77"
)

// slackSink is a loopback Slack incoming webhook that records what it is
// sent; failing makes it answer 500.
type slackSink struct {
	*httptest.Server
	mu       sync.Mutex
	messages []string
	attempts int
	failing  atomic.Bool
}

func newSlackSink(t *testing.T) *slackSink {
	s := &slackSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.attempts++
		if r.URL.Path != slackSecretPath {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		if s.failing.Load() {
			http.Error(w, "internal_error", http.StatusInternalServerError)
			return
		}
		s.messages = append(s.messages, string(body))
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages
	s.messages = nil
	return m
}

// smtpSink is a loopback SMTP server that requires AUTH PLAIN with the
// test's password and records the messages.
type smtpSink struct {
	addr     string
	mu       sync.Mutex
	messages []string
}

type smtpSinkSession struct {
	sink *smtpSink
	auth bool
}

func (b *smtpSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &smtpSinkSession{sink: b}, nil
}

func (s *smtpSinkSession) AuthMechanisms() []string { return []string{"PLAIN"} }
func (s *smtpSinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != smtpSecretPass {
			return errors.New("bad credentials")
		}
		s.auth = true
		return nil
	}), nil
}
func (s *smtpSinkSession) Mail(string, *gosmtp.MailOptions) error {
	if !s.auth {
		return errors.New("authenticate first")
	}
	return nil
}
func (s *smtpSinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *smtpSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.messages = append(s.sink.messages, string(b))
	s.sink.mu.Unlock()
	return nil
}
func (s *smtpSinkSession) Reset()        {}
func (s *smtpSinkSession) Logout() error { return nil }

func newSMTPSink(t *testing.T) *smtpSink {
	b := &smtpSink{}
	srv := gosmtp.NewServer(b)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback: the client sends AUTH without TLS only to loopback
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *smtpSink) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.messages
	b.messages = nil
	return m
}

// regionFailer is a loopback proxy in front of moto that answers every EC2
// call of one region with UnauthorizedOperation while failing is set, as a
// region whose collection is denied.
type regionFailer struct {
	*httptest.Server
	failing atomic.Value // region name, "" for none
}

var scopeRegion = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func newRegionFailer(t *testing.T, motoURL string) *regionFailer {
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &regionFailer{}
	p.failing.Store("")
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := scopeRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil && m[2] == "ec2" && m[1] == p.failing.Load().(string) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// publicInstance builds a public subnet with one instance in a new VPC
// whose security group admits tcp/22 from anywhere, and returns the group
// and instance IDs. moto's addresses are real internet space: the test
// never probes.
func publicInstance(t *testing.T, c *ec2.Client, region, cidr, name string) (group, instance string) {
	t.Helper()
	return mototest.SSHInstance(t, c, region, cidr, name, name+" <!channel> & <script>")
}

func permission(proto string, from, to int32) []ec2types.IpPermission {
	return []ec2types.IpPermission{{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
		IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}
}

func authorize(t *testing.T, c *ec2.Client, group, proto string, from, to int32) {
	t.Helper()
	if _, err := c.AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(group), IpPermissions: permission(proto, from, to)}); err != nil {
		t.Fatal(err)
	}
}

func revoke(t *testing.T, c *ec2.Client, group, proto string, from, to int32) {
	t.Helper()
	if _, err := c.RevokeSecurityGroupIngress(context.Background(), &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(group), IpPermissions: permission(proto, from, to)}); err != nil {
		t.Fatal(err)
	}
}

// TestMonitorScenario drives `portcullis audit --state DIR --notify
// slack,email` over consecutive runs on a moto estate in two regions and
// asserts exactly which messages reach a loopback Slack webhook and a
// loopback SMTP server: open → unchanged → widened → Slack failing (email
// delivered, Slack kept pending) → delivered once → a region failing
// (nothing resolves) → a new exposure suppressed by an exception → resolved
// → reopened. It also plants a distinctive webhook URL and SMTP password
// and asserts they appear in no log line, report or state file.
func TestMonitorScenario(t *testing.T) {
	const east, west = "us-east-1", "eu-west-1"
	clients := map[string]*ec2.Client{}
	for _, r := range []string{east, west} {
		cfg := mototest.Config(motoURL)
		cfg.Region = r
		clients[r] = ec2.NewFromConfig(cfg)
		closeNACLs(t, clients[r]) // the default VPC's allow-all NACL is latent noise here
	}
	web, _ := publicInstance(t, clients[east], east, "10.61.0.0/16", "web")
	db, _ := publicInstance(t, clients[west], west, "10.62.0.0/16", "db")

	slack, mailbox, proxy := newSlackSink(t), newSMTPSink(t), newRegionFailer(t, motoURL)
	dir := t.TempDir()
	stateDir, exceptions := filepath.Join(dir, "state"), filepath.Join(dir, "exceptions.yaml")
	vars := map[string]string{
		"PORTCULLIS_SLACK_WEBHOOK_URL": slack.URL + slackSecretPath,
		"PORTCULLIS_SMTP_URL":          "smtp://alerts:" + smtpSecretPass + "@" + mailbox.addr,
	}
	var logs, reportsSeen bytes.Buffer
	audit := func(step string, extra ...string) (int, map[string]any) {
		t.Helper()
		out := filepath.Join(dir, strings.ReplaceAll(step, " ", "-")+".json")
		args := append([]string{"audit", "--aws-endpoint", proxy.URL, "--regions", east + "," + west, "--no-probe", "-v",
			"--state", stateDir, "--notify", "slack,email", "--email-from", "portcullis@example.com", "--email-to", "oncall@example.com",
			"--format", "json", "--output", out}, extra...)
		var stdout, stderr bytes.Buffer
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
		code := run(context.Background(), args, e)
		logs.Write(stderr.Bytes())
		logs.Write(stdout.Bytes())
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("%s: no report (exit %d): %v\n%s", step, code, err, stderr.String())
		}
		reportsSeen.Write(data)
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		return code, doc
	}
	// expect checks what each sink received in one step: the Slack texts
	// and email subjects must contain the given fragments, one message each.
	expect := func(step string, slackWant, mailWant []string) {
		t.Helper()
		gotSlack, gotMail := slack.take(), mailbox.take()
		if len(gotSlack) != len(slackWant) {
			t.Errorf("%s: %d Slack messages, want %d:\n%s", step, len(gotSlack), len(slackWant), strings.Join(gotSlack, "\n---\n"))
		}
		for i := 0; i < len(gotSlack) && i < len(slackWant); i++ {
			if !strings.Contains(gotSlack[i], slackWant[i]) {
				t.Errorf("%s: Slack message %d lacks %q:\n%s", step, i, slackWant[i], gotSlack[i])
			}
		}
		if len(gotMail) != len(mailWant) {
			t.Errorf("%s: %d emails, want %d", step, len(gotMail), len(mailWant))
		}
		for i := 0; i < len(gotMail) && i < len(mailWant); i++ {
			if !strings.Contains(gotMail[i], mailWant[i]) {
				t.Errorf("%s: email %d lacks %q:\n%.1500s", step, i, mailWant[i], gotMail[i])
			}
		}
	}
	changes := func(doc map[string]any) map[string]any {
		c, _ := doc["changes"].(map[string]any)
		if c == nil {
			t.Fatal("report has no changes section")
		}
		return c
	}

	// 1. First run: one "baseline established" summary, not an alert per exposure.
	if code, doc := audit("1 open"); code != exitFindings || changes(doc)["initial"] != true {
		t.Fatalf("first run: exit %d, changes %v", code, doc["changes"])
	}
	expect("1 open", []string{"Baseline established for aws " + mototest.Account + ": 2 exposures"},
		[]string{"Subject: [Portcullis] Baseline established for aws " + mototest.Account})

	// 2. Nothing changed: nothing is sent.
	audit("2 unchanged")
	expect("2 unchanged", nil, nil)

	// 3. RDP added to the web group: the exposure widened.
	authorize(t, clients[east], web, "tcp", 3389, 3389)
	_, doc := audit("3 widened")
	if n := changes(doc)["counts"].(map[string]any)["widened"]; n != 1.0 {
		t.Errorf("widened count %v, want 1", n)
	}
	expect("3 widened", []string{"3389"}, []string{"Subject: [Portcullis] 1 widened exposure in aws " + mototest.Account})

	// 4. SNMP opened (a new exposure, udp) while Slack answers 500: email
	// delivers, Slack stays pending.
	slack.failing.Store(true)
	authorize(t, clients[east], web, "udp", 161, 161)
	_, doc = audit("4 slack failing")
	expect("4 slack failing", nil, []string{"Subject: [Portcullis] 1 new exposure in aws " + mototest.Account})
	if !strings.Contains(logs.String(), "notify") {
		t.Error("the failed Slack delivery is not reported on stderr")
	}
	if errs, _ := doc["errors"].([]any); !containsStage(errs, "notify") {
		t.Errorf("the failed delivery is not in the report's errors: %v", errs)
	}

	// 5. Slack answers again: the pending alert goes out once, through
	// Slack only (email already delivered it).
	slack.failing.Store(false)
	audit("5 delivered")
	expect("5 delivered", []string{"161"}, nil)
	audit("5b quiet")
	expect("5b quiet", nil, nil)

	// 6. The west region fails while its only exposure is revoked: a
	// failed region resolves nothing and sends nothing.
	revoke(t, clients[west], db, "tcp", 22, 22)
	proxy.failing.Store(west)
	_, doc = audit("6 region failing")
	proxy.failing.Store("")
	expect("6 region failing", nil, nil)
	c := changes(doc)
	if n := c["counts"].(map[string]any)["resolved"]; n != 0.0 {
		t.Errorf("a failed region resolved %v exposures", n)
	}
	if skipped, _ := c["skipped"].([]any); len(skipped) != 1 || !strings.Contains(asJSON(skipped), west) {
		t.Errorf("skipped scopes %v, want %s", skipped, west)
	}

	// 7. A new instance opened to the world, covered by an exception:
	// suppressed findings never alert.
	_, legacy := publicInstance(t, clients[east], east, "10.63.0.0/16", "legacy")
	writeFile(t, exceptions, "exceptions:\n  - resource: "+legacy+"\n    reason: decommissioned next week, CHG-1\n    owner: ops@example.com\n    expires: 2099-12-31\n")
	_, doc = audit("7 suppressed", "--exceptions", exceptions)
	expect("7 suppressed", nil, nil)
	// The report still lists it as new (the report tells everything; only
	// the alerts are quiet), suppressed.
	found := false
	for _, it := range changes(doc)["items"].([]any) {
		m := it.(map[string]any)
		if m["kind"] == "new" && m["suppressed"] == true && strings.Contains(asJSON(m["target"]), "legacy") {
			found = true
		}
	}
	if !found {
		t.Errorf("the suppressed exposure is not in the report's changes as new and suppressed: %s", asJSON(changes(doc)["items"]))
	}

	// 8. The west region answers again: its revoked exposure resolves, and
	// with --notify-resolved that is a message of its own.
	audit("8 resolved", "--exceptions", exceptions, "--notify-resolved")
	expect("8 resolved", []string{"resolved"}, []string{"Subject: [Portcullis] 1 exposure resolved in aws " + mototest.Account})

	// 9. SSH opened again in the west: reopened.
	authorize(t, clients[west], db, "tcp", 22, 22)
	audit("9 reopened", "--exceptions", exceptions)
	expect("9 reopened", []string{"reopened"}, []string{"Subject: [Portcullis] 1 reopened exposure in aws " + mototest.Account})

	// No secret anywhere: logs, reports, the state.
	var stateFiles bytes.Buffer
	_ = filepath.WalkDir(stateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			stateFiles.Write(b)
		}
		return nil
	})
	if stateFiles.Len() == 0 {
		t.Fatal("no state written")
	}
	for _, secret := range []string{slackSecretPath, "xoxSECRETslackTOKEN42", smtpSecretPass} {
		for what, b := range map[string]*bytes.Buffer{"logs": &logs, "reports": &reportsSeen, "state": &stateFiles} {
			if strings.Contains(b.String(), secret) {
				t.Errorf("the secret %q appears in the %s", secret, what)
			}
		}
	}
	// The hostile Name tag reached Slack escaped, never as a mention.
	for _, m := range slack.take() {
		if strings.Contains(m, "<!channel>") {
			t.Errorf("a tag pinged the channel: %s", m)
		}
	}
}

func containsStage(errs []any, stage string) bool {
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["stage"] == stage {
			return true
		}
	}
	return false
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
