package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// explain --fix on an offline report of the demo estate: the report names
// its snapshot, the fix is computed from it, in words and as JSON.
func TestExplainFix(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	if code, _, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--no-probe", "--provider", "aws", "--format", "json", "--output", out); code == exitError {
		t.Fatal(stderr)
	}
	d, err := readReport(out)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, x := range d.Exposures {
		if x.Address == "203.0.113.30" && x.FromPort == 22 {
			id = x.ID
		}
	}
	if id == "" {
		t.Fatal("no SSH exposure of bastion-1 in the demo report")
	}

	code, text, stderr := runCLI(t, "explain", out, id[:10], "--fix")
	if code != exitOK {
		t.Fatalf("explain --fix: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Fix for " + id,
		"Alternative 1 (smallest blast radius): 1 change(s); blast radius 0",
		"revoke security-group sg-04c1972510a149482 (bastion-ssh) rule inbound #1 (tcp/22 from 0.0.0.0/0)",
		`aws ec2 revoke-security-group-ingress --region eu-west-1 --group-id sg-04c1972510a149482 --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`,
		"insert deny 99 into network-acl acl-037d9b12c2a49518f (shared-default)",
		"grafana-1 203.0.113.31",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain --fix output lacks %q:\n%s", want, text)
		}
	}

	code, js, stderr := runCLI(t, "explain", "--fix", "--format", "json", "--keep", "198.51.100.0/24", out, id)
	if code != exitOK {
		t.Fatalf("explain --fix --format json: exit %d: %s", code, stderr)
	}
	var plan struct {
		Exposure     string
		Alternatives []struct {
			Changes []struct {
				Provider, Account, Region, Layer, Resource, Action string
				Rule                                               struct{ NewSources []string }
			}
			Closes, AlsoCloses, Narrows, Commands []string
		}
	}
	if err := json.Unmarshal([]byte(js), &plan); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if plan.Exposure != id || len(plan.Alternatives) == 0 {
		t.Fatalf("plan %+v", plan)
	}
	c := plan.Alternatives[0].Changes[0]
	if c.Action != "narrow" || c.Resource != "sg-04c1972510a149482" || c.Provider != "aws" || c.Region != "eu-west-1" ||
		len(c.Rule.NewSources) != 1 || c.Rule.NewSources[0] != "198.51.100.0/24" {
		t.Errorf("first change %+v, want bastion-ssh narrowed to 198.51.100.0/24", c)
	}

	// Without --fix the explanation is unchanged; --keep alone is refused.
	if code, text, _ := runCLI(t, "explain", out, id); code != exitOK || !strings.Contains(text, "Path (every layer that let it in)") || strings.Contains(text, "Alternative") {
		t.Errorf("explain without --fix: exit %d:\n%s", code, text)
	}
	for _, args := range [][]string{
		{"explain", out, id, "--keep", "198.51.100.0/24"},
		{"explain", out, id, "--fix", "--keep", "not-a-cidr"},
		{"explain", out, id, "--fix", "--format", "xml"},
		{"explain", out, id, "--fix", "--snapshot", filepath.Join(t.TempDir(), "missing")},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitError || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want a clear error", args, code, stderr)
		}
	}
}
