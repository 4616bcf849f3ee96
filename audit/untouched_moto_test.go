package audit

import (
	"context"
	"testing"
	"time"

	awsprov "github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/rules"
)

// TestUntouchedAccountPassesDefaultGate audits a moto region nobody has
// touched: its default VPC, default NACL (AWS's own allow-all) and default
// security group. Nothing is reachable, so nothing may reach the default
// gate (--fail-on high), while the CIS AWS NACL control still fails on
// the allow-all NACL and the default-security-group control fails on the
// default group's rules (AWS Config vpc-default-security-group-closed).
func TestUntouchedAccountPassesDefaultGate(t *testing.T) {
	// eu-north-1: no other test of this package creates anything there.
	res, err := Run(context.Background(), Options{
		Providers: []string{"aws"},
		AWS:       awsprov.Config{Regions: []string{"eu-north-1"}, Endpoint: motoURL},
		Rules:     rules.Options{Now: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	for _, e := range rep.Exposures {
		if e.Level == "effective" {
			t.Errorf("untouched account has an effective exposure: %s %s %s", e.Target.ID, e.Protocol, e.Ports)
		}
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no findings: the default NACL's allow-all should be reported (latent)")
	}
	for _, f := range rep.Findings {
		if f.Suppressed == nil && f.Severity >= rules.High {
			t.Errorf("%s on %s (%s) is %s: an untouched account fails --fail-on high", f.RuleID, f.Exposure.Target.ID, f.Exposure.Level, f.Severity)
		}
	}
	status := map[string]rules.ControlStatus{}
	for _, c := range rep.Compliance {
		if c.Framework == rules.FrameworkCISAWS {
			status[c.Control] = c.Status
		}
	}
	if status["5.1"] != rules.StatusFail {
		t.Errorf("CIS AWS 5.1 (NACL admin ports) = %q, want fail on the default NACL; controls: %v", status["5.1"], status)
	}
	if status["5.4"] != rules.StatusFail {
		t.Errorf("CIS AWS 5.4 (default security group) = %q, want fail (its default rules); controls: %v", status["5.4"], status)
	}
}
