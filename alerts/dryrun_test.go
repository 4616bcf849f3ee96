package alerts

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

func TestDryRun(t *testing.T) {
	var out bytes.Buffer
	d := NewDryRun(&out, "slack, email")
	ctx := context.Background()
	digest := Message{
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
	for _, m := range []Message{realistic(), digest, {Scope: account, Initial: &InitialSummary{Exposures: 42, BySeverity: map[rules.Severity]int{rules.Critical: 3, rules.High: 9, rules.Medium: 30}}}} {
		if err := d.Notify(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "dryrun.txt", out.Bytes())
	for _, bad := range []string{"\x1b", "\x07", "\u202E"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("dry run output carries %q", bad)
		}
	}
}
