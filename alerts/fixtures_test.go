package alerts

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./alerts -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (go test ./alerts -update, then review):\n--- got\n%s", name, got)
	}
}

// smtpPassword is planted in SMTP URLs; no error or log may carry it.
const smtpPassword = "pw-LEAK-3c9d1e7f"

var account = exposure.Scope{Provider: "aws", Account: "111122223333"}

// hostile is a name a tenant controls, made to break every output.
var hostile = "<!channel> @here <script>alert(1)</script> & *bold* `tick` \x1b[31mred\x07 \u202Egnp.exe " + strings.Repeat("very-long-name-", 40)

// realistic is one run's message: three new exposures, a widened one, a
// hostile one, and two resolved.
func realistic() Message {
	return Message{
		RunID:     "run-20261201T2200Z",
		ReportURL: "https://reports.example.com/runs/run-20261201T2200Z/report.html",
		Scope:     account,
		Items: []Item{
			{
				Kind: KindNew, Severity: rules.High, Level: exposure.Effective,
				Address: "203.0.113.20", Protocol: "tcp", Ports: "443", BackendPorts: "8443",
				Findings: []FindingRef{{RuleID: "aws-lb-tls-backend", Title: "Load balancer forwards to an admin port", Severity: rules.High}},
				Sources:  "anyone", TargetName: "api-lb", TargetID: "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/api/50dc6c495c0c9188",
				Path:       "igw-0a1 → rtb-0b2 → acl-0c3#100 → sg-0lb (api-lb) → forward 443→8443",
				ExposureID: "e-5e0c2f7a91b3d4c6",
			},
			{
				Kind: KindNew, Severity: rules.Critical, Level: exposure.Effective,
				Address: "203.0.113.10", Protocol: "tcp", Ports: "22",
				Findings: []FindingRef{{RuleID: "ssh-open-to-internet", Title: "SSH open to the internet", Severity: rules.Critical}},
				Sources:  "anyone", TargetName: "bastion-1", TargetID: "i-0123456789abcdef0",
				Path:       "igw-0a1 → rtb-0b2 → acl-0c3#100 → sg-0ssh",
				Probe:      "open ssh (SSH-2.0-OpenSSH_9.6)",
				ExposureID: "e-0f1e2d3c4b5a6978",
				Actor:      "opened by arn:aws:iam::111122223333:user/alice at 2026-12-01 21:58 UTC",
			},
			{
				Kind: KindWidened, Severity: rules.Medium, Level: exposure.Effective,
				Address: "2001:db8::10", Protocol: "tcp", Ports: "8000-8090", NewPorts: "8081-8090",
				Findings: []FindingRef{{RuleID: "wide-port-range", Title: "Wide port range open", Severity: rules.Medium}},
				Sources:  "198.51.100.0/24, 203.0.113.0/24", TargetName: "app-1", TargetID: "i-0fedcba9876543210",
				Path: "igw-0a1 → rtb-0b2 → acl-0c3#110 → sg-0app", ExposureID: "e-9a8b7c6d5e4f3021",
			},
			{
				Kind: KindReopened, Severity: rules.Critical, Level: exposure.Effective,
				Address: "203.0.113.11", Protocol: "tcp", Ports: "3389",
				Findings: []FindingRef{{RuleID: "rdp-open-to-internet", Title: "RDP open to the internet", Severity: rules.Critical}},
				Sources:  "anyone", TargetName: hostile, TargetID: "i-0badc0ffee0000001",
				Path:       "igw-0a1 → rtb-0b2 → acl-0c3#100 → sg-0rdp (" + hostile + ")",
				Probe:      "open (no banner) <@U024BE7LH>",
				ExposureID: "e-1122334455667788",
			},
		},
		Resolved: []Item{
			{Kind: KindResolved, Severity: rules.High, Level: exposure.Effective, Address: "203.0.113.30", Protocol: "tcp", Ports: "5432", TargetName: "db-old", TargetID: "i-0aaaaaaaaaaaaaaa1"},
			{Kind: KindResolved, Severity: rules.Critical, Level: exposure.Effective, Address: "203.0.113.31", Protocol: "udp", Ports: "161", TargetID: "i-0aaaaaaaaaaaaaaa2"},
		},
	}
}

// digest is a weekly digest of a GCP project with a probe confirmation
// and a latent exposure.
func digest() Message {
	return Message{
		RunID: "run-20261207", Scope: exposure.Scope{Provider: "gcp", Account: "acme-prod"},
		Digest: &Period{Label: "weekly", From: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		Items: []Item{
			{Kind: KindConfirmed, Severity: rules.High, Level: exposure.Effective, Address: "198.51.100.7", Protocol: "tcp", Ports: "6379",
				Findings: []FindingRef{{RuleID: "redis-open", Title: "Redis open to the internet", Severity: rules.High}},
				Sources:  "anyone", TargetName: "cache-1", TargetID: "projects/acme-prod/zones/europe-west1-b/instances/cache-1", Probe: "open redis (no auth)"},
			{Kind: KindNew, Severity: rules.Medium, Level: exposure.Latent, Protocol: "tcp", Ports: "0-65535",
				Findings: []FindingRef{{RuleID: "firewall-allow-all", Severity: rules.Medium}},
				Sources:  "anyone", TargetID: "projects/acme-prod/global/firewalls/allow-all", Path: "firewall allow-all (priority 1000)"},
		},
	}
}

// overflow is a message of n new exposures, larger than any channel lists.
func overflow(n int) Message {
	m := Message{RunID: "run-big", ReportURL: "https://reports.example.com/runs/run-big/report.html", Scope: account}
	for i := range n {
		m.Items = append(m.Items, Item{
			Kind: KindNew, Severity: rules.Severity(4 - i%3), Level: exposure.Effective,
			Address: fmt.Sprintf("203.0.113.%d", i%250+1), Protocol: "tcp", Ports: fmt.Sprint(8000 + i),
			Findings: []FindingRef{{RuleID: "any-port-open", Title: "Port open to the internet", Severity: rules.Severity(4 - i%3)}},
			Sources:  "anyone", TargetName: fmt.Sprintf("web-%03d", i), TargetID: fmt.Sprintf("i-%017x", i),
			Path: "igw-0a1 → rtb-0b2 → acl-0c3#100 → sg-0web", ExposureID: fmt.Sprintf("e-%016x", i),
		})
	}
	return m
}

// fakeClock records sleeps instead of sleeping.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
