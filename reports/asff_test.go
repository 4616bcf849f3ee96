package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// productARN is the default product ARN of an account in a region, as
// BatchImportFindings wants it for an account's own findings.
var productARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):securityhub:([a-z0-9-]+):(\d{12}):product/(\d{12})/default$`)

// checkASFFBatch checks one batch against what BatchImportFindings
// requires: at most 100 findings, every required ASFF field present and
// non-empty (checked on the JSON itself, so a misspelled field name
// fails), one account and region whose default product ARN every finding
// names, and the ASFF size limits.
// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html
func checkASFFBatch(t *testing.T, b ASFFBatch) {
	t.Helper()
	if len(b.Findings) == 0 || len(b.Findings) > 100 {
		t.Errorf("batch %s/%s has %d findings, want 1 to 100", b.Account, b.Region, len(b.Findings))
	}
	for _, raw := range b.Findings {
		if len(raw) > asffMaxFindingBytes {
			t.Errorf("finding of %d bytes (Security Hub refuses above 240 KB; the bound is %d)", len(raw), asffMaxFindingBytes)
		}
		var f map[string]any
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("finding is not JSON: %v", err)
		}
		id, _ := f["Id"].(string)
		for _, k := range []string{"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "CreatedAt", "UpdatedAt", "Title", "Description"} {
			if v, _ := f[k].(string); v == "" {
				t.Errorf("finding %s: required %s missing or empty", id, k)
			}
		}
		if f["SchemaVersion"] != "2018-10-08" {
			t.Errorf("finding %s: SchemaVersion %v", id, f["SchemaVersion"])
		}
		if types, _ := f["Types"].([]any); len(types) == 0 {
			t.Errorf("finding %s: required Types missing", id)
		}
		if sev, _ := f["Severity"].(map[string]any); sev == nil || !map[any]bool{"INFORMATIONAL": true, "LOW": true, "MEDIUM": true, "HIGH": true, "CRITICAL": true}[sev["Label"]] {
			t.Errorf("finding %s: Severity.Label missing or invalid: %v", id, f["Severity"])
		}
		m := productARN.FindStringSubmatch(fmt.Sprint(f["ProductArn"]))
		if m == nil || m[2] != b.Region || m[3] != b.Account || m[4] != b.Account || f["AwsAccountId"] != b.Account || f["Region"] != b.Region {
			t.Errorf("finding %s: ProductArn %v, AwsAccountId %v, Region %v in the batch of %s/%s", id, f["ProductArn"], f["AwsAccountId"], f["Region"], b.Account, b.Region)
		} else if m[1] != partitionOf(b.Region) {
			t.Errorf("finding %s: partition %s in region %s", id, m[1], b.Region)
		}
		if utf8.RuneCountInString(fmt.Sprint(f["Title"])) > 256 || utf8.RuneCountInString(fmt.Sprint(f["Description"])) > 1024 {
			t.Errorf("finding %s exceeds the Title or Description limit", id)
		}
		resources, _ := f["Resources"].([]any)
		if len(resources) == 0 {
			t.Errorf("finding %s: no Resources", id)
		}
		for _, r := range resources {
			r, _ := r.(map[string]any)
			if typ, _ := r["Type"].(string); typ == "" {
				t.Errorf("finding %s: a resource has no Type", id)
			}
			if rid, _ := r["Id"].(string); rid == "" {
				t.Errorf("finding %s: a resource has no Id", id)
			}
			if r["Partition"] != partitionOf(b.Region) {
				t.Errorf("finding %s: resource partition %v in %s", id, r["Partition"], b.Region)
			}
			tags, _ := r["Tags"].(map[string]any)
			if len(tags) > 50 {
				t.Errorf("finding %s: %d tags (ASFF allows 50)", id, len(tags))
			}
			for k, v := range tags {
				if k == "" || utf8.RuneCountInString(k) > 128 || utf8.RuneCountInString(fmt.Sprint(v)) > 256 {
					t.Errorf("finding %s: tag %.40q = %.40q beyond ASFF's limits", id, k, v)
				}
			}
		}
	}
}

func asffOfReport(t *testing.T, r *Report, o ASFFOptions) ([]ASFFBatch, []ASFFSkip) {
	t.Helper()
	batches, skipped, err := ASFF(NewDocument(r), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		checkASFFBatch(t, b)
	}
	return batches, skipped
}

func decodeFindings(t *testing.T, b ASFFBatch) []asffFinding {
	t.Helper()
	out := make([]asffFinding, len(b.Findings))
	for i, raw := range b.Findings {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestASFFBatchesByAccountAndRegion(t *testing.T) {
	batches, skipped := asffOfReport(t, fixtureReport(), ASFFOptions{})
	var got []string
	for _, b := range batches {
		got = append(got, fmt.Sprintf("%s/%s:%d", b.Account, b.Region, len(b.Findings)))
	}
	// 4 AWS findings in eu-west-1, 1 in us-east-1; the GCP one is skipped.
	if want := []string{acct + "/eu-west-1:4", acct + "/us-east-1:1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batches = %v, want %v", got, want)
	}
	if len(skipped) != 1 || skipped[0].Provider != "gcp" || skipped[0].Account != "shop-prod" {
		t.Fatalf("skipped = %+v, want the GCP finding", skipped)
	}
	if w := ASFFSkipWarning(skipped); !strings.Contains(w, "1 gcp finding not written") || !strings.Contains(w, "--securityhub") {
		t.Errorf("warning = %q", w)
	}
	ids := map[string]bool{}
	for _, b := range batches {
		for _, f := range decodeFindings(t, b) {
			if ids[f.ID] {
				t.Errorf("duplicate Id %s", f.ID)
			}
			ids[f.ID] = true
			r := f.Resources[0]
			switch r.Type {
			case "AwsEc2NetworkInterface", "AwsEc2SecurityGroup", "AwsEc2NetworkAcl", "AwsElbv2LoadBalancer":
				if !strings.HasPrefix(r.ID, "arn:aws:") {
					t.Errorf("resource %s has no ARN", r.ID)
				}
			default:
				t.Errorf("unexpected resource type %s for %s", r.Type, r.ID)
			}
			if _, ok := f.ProductFields["portcullis/Account"]; ok {
				t.Errorf("finding %s under its own account names another", f.ID)
			}
		}
	}

	// The file: one batch a line, each line a JSON array.
	lines := strings.Split(strings.TrimSuffix(string(render(t, "asff", fixtureReport())), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("asff file has %d lines, want one per batch (2)", len(lines))
	}
	for i, l := range lines {
		var arr []asffFinding
		if err := json.Unmarshal([]byte(l), &arr); err != nil || len(arr) != len(batches[i].Findings) {
			t.Errorf("line %d is not the batch's JSON array: %v (%d findings)", i+1, err, len(arr))
		}
	}

	for _, c := range []struct{ region, want string }{
		{"eu-west-1", "aws"}, {"cn-north-1", "aws-cn"}, {"us-gov-west-1", "aws-us-gov"},
	} {
		if got := partitionOf(c.region); got != c.want {
			t.Errorf("partitionOf(%s) = %s, want %s", c.region, got, c.want)
		}
	}
}

func TestASFFSplitsAt100(t *testing.T) {
	r := largeReport(250) // 250 findings in eu-west-1 plus the fixture's
	china := r.Exposures[0]
	china.Site = &exposure.Site{Scope: exposure.Scope{Provider: "aws", Account: "444455556666", Region: "cn-north-1"},
		Target: china.Target, Endpoint: china.Endpoint}
	batches, _ := asffOfReport(t, r, ASFFOptions{})
	var got []string
	total := 0
	for _, b := range batches {
		got = append(got, fmt.Sprintf("%s/%s:%d", b.Account, b.Region, len(b.Findings)))
		total += len(b.Findings)
	}
	want := []string{acct + "/eu-west-1:100", acct + "/eu-west-1:100", acct + "/eu-west-1:53", acct + "/us-east-1:1", "444455556666/cn-north-1:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batches = %v, want %v", got, want)
	}
	if total != 255 {
		t.Errorf("%d findings in the batches, want every AWS finding (255)", total)
	}
	var buf bytes.Buffer
	if err := Write(&buf, "asff", r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(batches) {
		t.Errorf("file has %d lines for %d batches", n, len(batches))
	}
}

func TestASFFUnderTheAuditAccount(t *testing.T) {
	const audit = "999988887777"
	r := fixtureReport()
	batches, skipped := asffOfReport(t, r, ASFFOptions{Account: audit, Region: "eu-central-1"})
	if len(skipped) != 0 {
		t.Errorf("skipped %+v with an audit account", skipped)
	}
	var got []string
	var gcp *asffFinding
	for _, b := range batches {
		got = append(got, fmt.Sprintf("%s/%s:%d", b.Account, b.Region, len(b.Findings)))
		for _, f := range decodeFindings(t, b) {
			if f.ProductFields["portcullis/Account"] == "" {
				t.Errorf("finding %s moved under the audit account does not say where it is", f.ID)
			}
			if f.ProductFields["portcullis/Provider"] == "gcp" {
				gcp = &f
			} else if !strings.Contains(f.Resources[0].ID, acct) && f.Resources[0].Type != "AwsElbLoadBalancer" {
				t.Errorf("AWS resource %s lost its own account", f.Resources[0].ID)
			}
		}
	}
	want := []string{audit + "/eu-central-1:1", audit + "/eu-west-1:4", audit + "/us-east-1:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batches = %v, want %v", got, want)
	}
	if gcp == nil {
		t.Fatal("the GCP finding is missing")
	}
	res := gcp.Resources[0]
	if res.Type != "Other" || res.ID != "projects/shop-prod/zones/europe-west1-b/instances/honeypot-1" ||
		res.Details == nil || res.Details.Other["Provider"] != "gcp" || res.Details.Other["Account"] != "shop-prod" ||
		res.Details.Other["Region"] != "europe-west1" || gcp.ID != "gcp/shop-prod/portcullis/"+gcp.ProductFields["portcullis/ExposureId"]+":telnet-public:23" {
		t.Errorf("GCP finding = %s %+v", gcp.ID, res)
	}
	if gcp.Workflow.Status != "SUPPRESSED" || gcp.Note == nil {
		t.Errorf("the suppressed GCP finding is %s", gcp.Workflow.Status)
	}
}

func TestASFFGCPOnlyIsNotSilent(t *testing.T) {
	r := fixtureReport()
	var findings []rules.Finding
	for _, f := range r.Findings {
		if f.Exposure.Site != nil && f.Exposure.Provider == "gcp" {
			findings = append(findings, f)
		}
	}
	r.Findings = findings
	if out := render(t, "asff", r); len(out) != 0 {
		t.Errorf("GCP-only asff file = %q, want no batch", out)
	}
	_, skipped := asffOfReport(t, r, ASFFOptions{})
	if len(skipped) != 1 || ASFFSkipWarning(skipped) == "" {
		t.Errorf("GCP-only audit: skipped %+v, warning %q", skipped, ASFFSkipWarning(skipped))
	}
	if ASFFSkipWarning(nil) != "" {
		t.Error("a warning with nothing skipped")
	}
}

func TestASFFClipsTags(t *testing.T) {
	// Control characters and <, >, & take 6 bytes each in JSON (\u001b).
	hostile := "\x00\x07\x1b<&>"
	for _, c := range []struct {
		name      string
		tags      map[string]string
		wantTags  int
		wantNote  string
		maxRunesV int
	}{
		{"many long tags", func() map[string]string {
			m := map[string]string{}
			for i := range 200 {
				m[fmt.Sprintf("k%03d-%s", i, strings.Repeat("x", 300))] = strings.Repeat("v", 5000)
			}
			return m
		}(), 50, "150 tags beyond ASFF's 50", 256},
		{"hostile tags too large together", func() map[string]string {
			m := map[string]string{}
			for i := range 60 {
				m[fmt.Sprintf("%03d%s", i, strings.Repeat(hostile, 40))] = strings.Repeat(hostile, 200)
			}
			return m
		}(), 0, "the resource's tags would make the finding too large", 0},
		{"keys clipped into one", map[string]string{strings.Repeat("a", 200) + "1": "x", strings.Repeat("a", 200) + "2": "y", "": "empty"}, 1, "2 tags beyond ASFF's 50", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fixtureReport()
			r.Findings = r.Findings[:1]
			r.Findings[0].Exposure.Target.Tags = c.tags
			batches, _ := asffOfReport(t, r, ASFFOptions{})
			if len(batches) != 1 {
				t.Fatalf("batches = %d", len(batches))
			}
			f := decodeFindings(t, batches[0])[0]
			if len(f.Resources[0].Tags) != c.wantTags || f.ProductFields["portcullis/TagsOmitted"] != c.wantNote {
				t.Errorf("%d tags, note %q; want %d, %q", len(f.Resources[0].Tags), f.ProductFields["portcullis/TagsOmitted"], c.wantTags, c.wantNote)
			}
			for _, v := range f.Resources[0].Tags {
				if utf8.RuneCountInString(v) != c.maxRunesV {
					t.Errorf("tag value of %d characters, want %d", utf8.RuneCountInString(v), c.maxRunesV)
				}
			}
		})
	}
}

// TestASFFHostileEstate: names, descriptions and tags holding markup,
// formulas and control characters still give valid batches (the checks
// of checkASFFBatch) under an audit account and without one.
func TestASFFHostileEstate(t *testing.T) {
	for _, o := range []ASFFOptions{{}, {Account: "999988887777", Region: "us-gov-west-1"}} {
		batches, _ := asffOfReport(t, hostileReport(), o)
		if len(batches) == 0 {
			t.Errorf("options %+v: no batch for the hostile estate", o)
		}
		for _, b := range batches {
			for _, raw := range b.Findings {
				if !json.Valid(raw) {
					t.Errorf("invalid JSON: %.200s", raw)
				}
			}
		}
	}
}
