package rules

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// fixtureEstate is a small estate across AWS and GCP (no Azure) whose
// per-control results are reviewed in testdata/compliance.golden.
func fixtureEstate(t *testing.T) Input {
	aws := func(s expSpec) *exposure.Exposure { s.Provider = "aws"; return s.build(t) }
	gcp := func(s expSpec) *exposure.Exposure {
		s.Provider, s.Account, s.Region, s.LayerKind = "gcp", "my-project", "europe-west1", exposure.LayerFirewall
		return s.build(t)
	}
	defaultSG := &exposure.Layer{
		Scope: exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		ID:    "sg-default", Name: "default", Kind: exposure.LayerSecurityGroup, Latent: true,
		Rules: []exposure.Rule{{ID: "sgr-self", Protocol: exposure.ProtocolAll, SourceNames: []string{"sg-default"}}},
	}
	return Input{
		Exposures: []*exposure.Exposure{
			// Public web tier: informational only.
			aws(expSpec{Ports: "443", Target: "eni-web", Layer: "sg-web", Sources: []string{"0.0.0.0/0", "::/0"}}),
			// Bastion open to the office range only: low, no CIS failure.
			aws(expSpec{Ports: "22", Target: "eni-bastion", Layer: "sg-bastion", Sources: []string{"198.51.100.0/24"}}),
			// An unattached group still allowing RDP from ::/0 (CIS 5.3).
			aws(expSpec{Ports: "3389", Level: "latent", Layer: "sg-legacy", Sources: []string{"::/0"}}),
			// A NACL admitting every TCP port from 0.0.0.0/0 (CIS 5.1).
			aws(expSpec{Ports: "0-65535", Level: "latent", Layer: "acl-public", LayerKind: exposure.LayerNetworkACL}),
			// A database reachable from anyone, covered by an exception.
			aws(expSpec{Ports: "5432", Target: "eni-db", Layer: "sg-db"}),
			// Memcached over UDP, behind an NLB that translates 21211 -> 11211.
			aws(expSpec{Protocol: "udp", Ports: "21211", Backend: "11211", Target: "nlb-cache", Layer: "sg-cache"}),
			// GCP: SSH open to the world through a firewall rule (CIS 3.6).
			gcp(expSpec{Ports: "22", Target: "vm-1-nic0", Layer: "allow-ssh", Endpoint: "203.0.113.7"}),
		},
		Layers: []*exposure.Layer{
			defaultSG,
			nacl("acl-private", true, exposure.Rule{ID: "100", Priority: 100, Action: exposure.Allow, Protocol: exposure.ProtocolTCP,
				Ports: []exposure.PortRange{exposure.Port(443)}, Sources: exposure.AnySource(), SourceNames: []string{"0.0.0.0/0"}}),
		},
		Providers: []string{"aws", "gcp"},
	}
}

func TestComplianceGolden(t *testing.T) {
	exc := writeFile(t, "exceptions.yaml", `exceptions:
  - rule: PORT-POSTGRESQL
    resource: eni-db
    reason: managed by the vendor, access restricted by certificate
    owner: data@example.com
    expires: 2025-12-31
`)
	eng := mustEngine(t, Options{ExceptionsFile: exc})
	res := eng.EvaluateInput(fixtureEstate(t))
	var b strings.Builder
	b.WriteString("# Per-control results for the fixture estate in compliance_test.go.\n")
	b.WriteString("# Regenerate with: go test ./rules -run TestComplianceGolden -update\n\n")
	for _, c := range res.Compliance {
		fmt.Fprintf(&b, "%-11s %-8s %-6s %-14s %s\n", c.Framework, c.Version, c.Control, c.Status, c.Reason)
		for _, ev := range c.Evidence {
			fmt.Fprintf(&b, "    fail-by   %s\n", evidenceLine(ev))
		}
		for _, ev := range c.Excepted {
			fmt.Fprintf(&b, "    excepted  %s\n", evidenceLine(ev))
		}
	}
	b.WriteString("\n# Findings\n")
	for _, f := range res.Findings {
		sup := ""
		if f.Suppressed != nil {
			sup = " suppressed"
		}
		fmt.Fprintf(&b, "%-8s %-24s %s/%s port=%d by=%s%s subsumes=%d refs=%s\n", f.Severity, f.RuleID, f.Exposure.Provider, f.Exposure.Target.ID,
			f.Port, f.MatchedBy, sup, len(f.Subsumes), refList(f.Compliance))
	}
	b.WriteString("\n# Misconfigurations\n")
	for _, m := range res.Misconfigurations {
		fmt.Fprintf(&b, "%-8s %s %s %s %s %s\n", m.Severity, m.Kind, m.Layer, m.Protocol, m.Family, m.Ports)
	}
	got := b.String()
	const golden = "testdata/compliance.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("compliance results differ from %s (review, then go test ./rules -update):\n%s", golden, got)
	}
}

func evidenceLine(ev ControlEvidence) string {
	s := fmt.Sprintf("%s %s/%s/%s %s", ev.RuleID, ev.Provider, ev.Account, ev.Region, ev.Resource)
	if ev.Level != "" {
		s += fmt.Sprintf(" %s %s/%s", ev.Level, ev.Protocol, ev.Port)
	}
	s += " " + ev.Severity.String()
	if ev.Detail != "" {
		s += " (" + ev.Detail + ")"
	}
	return strings.TrimSpace(s)
}

// TestComplianceNotApplicable: with nothing audited for a provider, its
// benchmark is not applicable rather than passed.
func TestComplianceNotApplicable(t *testing.T) {
	eng := mustEngine(t, Options{})
	res := eng.EvaluateInput(Input{Providers: []string{"azure"}})
	for _, c := range res.Compliance {
		switch {
		case c.Framework == "cis-azure" && c.Status != StatusPass:
			t.Errorf("clean azure: %s %s = %s", c.Framework, c.Control, c.Status)
		case c.Framework == "cis-aws" || c.Framework == "cis-gcp":
			if c.Status != StatusNotApplicable {
				t.Errorf("unaudited provider: %s %s = %s", c.Framework, c.Control, c.Status)
			}
		}
	}
	res = eng.Evaluate(nil, nil)
	for _, c := range res.Compliance {
		if c.Status != StatusNotApplicable {
			t.Errorf("nothing audited: %s %s = %s", c.Framework, c.Control, c.Status)
		}
	}
}
