package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func decodeInto(t *testing.T, format string, v any) {
	t.Helper()
	if err := json.Unmarshal(render(t, format, fixtureReport()), v); err != nil {
		t.Fatalf("%s output is not JSON: %v", format, err)
	}
}

func TestSARIF(t *testing.T) {
	var log sarifLog
	decodeInto(t, "sarif", &log)
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("sarif version %q runs %d", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Results) != 6 {
		t.Errorf("results = %d, want one per finding (6)", len(run.Results))
	}
	if run.Invocations[0].ExecutionSuccessful || len(run.Invocations[0].Notifications) != 1 {
		t.Errorf("a partial run must not be reported as successful: %+v", run.Invocations)
	}
	for _, r := range run.Results {
		rule := run.Tool.Driver.Rules[r.RuleIndex]
		if rule.ID != r.RuleID {
			t.Errorf("result %s points at rule %s", r.RuleID, rule.ID)
		}
		if r.PartialFingerprints["portcullisFinding/v1"] == "" || len(r.Locations) != 1 ||
			strings.Contains(r.Locations[0].PhysicalLocation.ArtifactLocation.URI, " ") {
			t.Errorf("result %s lacks a fingerprint or location: %+v", r.RuleID, r)
		}
		switch r.RuleID {
		case "rdp-public":
			if r.Level != "error" || rule.Properties["security-severity"] != "9.5" {
				t.Errorf("critical rule level %s severity %v", r.Level, rule.Properties["security-severity"])
			}
		case "wide-port-range":
			if r.Level != "warning" {
				t.Errorf("medium rule level %s", r.Level)
			}
		case "telnet-public":
			if len(r.Suppressions) != 1 || r.Suppressions[0].Status != "accepted" {
				t.Errorf("suppressed finding has suppressions %+v", r.Suppressions)
			}
		}
	}
	if uri := resourceURI(&Exposure{Provider: "aws", Account: acct, Region: "eu-west-1", Target: Target{ID: nlbARN}}); !strings.HasPrefix(uri, "aws/111122223333/eu-west-1/arn:aws:") {
		t.Errorf("resource URI = %s", uri)
	}
}

func TestOCSF(t *testing.T) {
	var events []ocsfFinding
	decodeInto(t, "ocsf", &events)
	if len(events) != 6 {
		t.Fatalf("events = %d, want 6", len(events))
	}
	byRule := map[string]ocsfFinding{}
	for _, e := range events {
		byRule[e.FindingInfo.Analytic.UID] = e
		if e.ClassUID != 2004 || e.CategoryUID != 2 || e.TypeUID != e.ClassUID*100+e.ActivityID ||
			e.Metadata.Version != ocsfVersion || e.FindingInfo.UID == "" || e.Time != 1795561200000 {
			t.Errorf("event %s breaks the Detection Finding base: %+v", e.FindingInfo.UID, e)
		}
	}
	if e := byRule["rdp-public"]; e.SeverityID != 5 || e.Evidences[0].DstEndpoint.IP != "2001:db8:1::10" ||
		e.Evidences[0].DstEndpoint.Port != 3389 || e.Cloud.Provider != "AWS" {
		t.Errorf("rdp event = %+v", e)
	}
	if e := byRule["postgres-public"]; e.Evidences[0].DstEndpoint.Hostname != nlbHost || e.Evidences[0].DstEndpoint.IP != "" {
		t.Errorf("load balancer reached by name: %+v", e.Evidences[0].DstEndpoint)
	}
	if e := byRule["telnet-public"]; e.StatusID != 3 || e.StatusDetail == "" || e.Cloud.Provider != "GCP" {
		t.Errorf("suppressed event = status %d %q", e.StatusID, e.StatusDetail)
	}
	if e := byRule["mysql-public"]; e.Evidences[0].DstEndpoint != nil || e.Unmapped["level"] != "latent" {
		t.Errorf("latent event = %+v", e)
	}
}

func TestMarkdownMaxRows(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, largeReport(2000), MarkdownOptions{MaxRows: 50}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "…and 1955 more active findings") || !strings.Contains(out, "…and 1957 more exposures") {
		t.Errorf("capped Markdown does not count what it left out:\n%s", out[len(out)-600:])
	}
	if n := len(out); n > 65536 {
		t.Errorf("capped Markdown is %d bytes, over GitHub's comment limit", n)
	}
}
