package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// TestAuditSecurityHub imports the demo audit into moto: every finding
// (GCP and Azure ones under the calling account), a summary line on
// stderr, the report unchanged and the exit code that of the audit.
func TestAuditSecurityHub(t *testing.T) {
	url := motoURL // the package's moto_server (org_test.go)
	base := []string{"audit", "--snapshot", "../../demo/estate", "--format", "json"}
	wantCode, plain, _ := runCLI(t, base...)
	code, out, stderr := runCLI(t, append(base, "--securityhub", "--aws-endpoint", url)...)
	if code != wantCode {
		t.Errorf("exit %d with --securityhub, %d without", code, wantCode)
	}
	var doc struct {
		Findings []struct{ ID string }
		Errors   []struct{ Stage, Message string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	validateReport(t, []byte(out))
	var before struct{ Errors []any }
	if err := json.Unmarshal([]byte(plain), &before); err != nil {
		t.Fatal(err)
	}
	if len(doc.Errors) != len(before.Errors) {
		t.Errorf("import added errors: %+v", doc.Errors)
	}
	want := fmt.Sprintf("Security Hub: %d of %d findings imported into account %s", len(doc.Findings), len(doc.Findings), mototest.Account)
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	// GCP and Azure findings went to the default region (AWS_REGION).
	c := sh.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	clouds := map[string]bool{}
	for p := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{MaxResults: aws.Int32(100)}); p.HasMorePages(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			clouds[f.ProductFields["portcullis/Provider"]] = true
		}
	}
	if !clouds["gcp"] || !clouds["azure"] {
		t.Errorf("us-east-1 holds findings of %v, want GCP and Azure ones", clouds)
	}
}

// TestAuditSecurityHubFailure: Security Hub unreachable. The report
// carries the error (stage securityhub), stderr says it, and the exit
// code still says what the audit found.
func TestAuditSecurityHubFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	base := []string{"audit", "--snapshot", "../../demo/estate", "--format", "json"}
	wantCode, _, _ := runCLI(t, base...)
	code, out, stderr := runCLI(t, append(base, "--securityhub", "--aws-endpoint", closed)...)
	if code != wantCode {
		t.Errorf("exit %d with a failed import, %d without", code, wantCode)
	}
	var doc struct {
		Partial bool
		Summary struct{ Errors int }
		Errors  []struct{ Stage, Message string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range doc.Errors {
		if e.Stage == "securityhub" {
			n++
			if !strings.Contains(e.Message, "find the calling account") {
				t.Errorf("error = %q", e.Message)
			}
		}
	}
	if n != 1 || doc.Summary.Errors != len(doc.Errors) || !strings.Contains(stderr, "portcullis: Security Hub: securityhub aws") {
		t.Errorf("%d securityhub errors, summary %d of %d, stderr %q", n, doc.Summary.Errors, len(doc.Errors), stderr)
	}
}

func TestASFFFileWarnsAboutOtherClouds(t *testing.T) {
	_, out, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--format", "asff")
	if !strings.Contains(stderr, "gcp findings not written") || !strings.Contains(stderr, "azure finding") {
		t.Errorf("stderr = %q, want the GCP and Azure findings named", stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		var batch []struct{ AwsAccountId, Region string }
		if err := json.Unmarshal([]byte(l), &batch); err != nil || len(batch) == 0 || len(batch) > 100 {
			t.Errorf("line %d: %d findings, %v", i+1, len(batch), err)
		}
	}
	if len(lines) < 2 {
		t.Errorf("%d batches for the demo estate's AWS findings in 3 accounts", len(lines))
	}
}

func TestAuditRejectsMeaninglessFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--color", "purple"}, `--color: unknown value "purple"`},
		{[]string{"--probe-rate", "-5"}, "--probe-rate: -5 is not a positive"},
		{[]string{"--probe-rate", "0"}, "--probe-rate: 0 is not a positive"},
		{[]string{"--probe-rate", "NaN"}, "--probe-rate: NaN is not a positive"},
		{[]string{"--probe-concurrency", "0"}, "--probe-concurrency: 0 is not a positive"},
		{[]string{"--probe-timeout", "-1s"}, "--probe-timeout: -1s is not a positive"},
		{[]string{"--probe-timeout", "0s"}, "--probe-timeout: 0s is not a positive"},
		{[]string{"--concurrency", "-2"}, "--concurrency: -2 is negative"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"audit", "--snapshot", "../../demo/estate"}, c.args...)...)
			if code != exitError || out != "" || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stdout %d bytes, stderr %q; want exit 2 and %q", code, len(out), stderr, c.want)
			}
		})
	}
	if code, _, stderr := runCLI(t, "snapshot", "--concurrency", "-1", "--out", t.TempDir()); code != exitError || !strings.Contains(stderr, "--concurrency: -1 is negative") {
		t.Errorf("snapshot --concurrency -1: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "report", "--in", "../../reports/testdata/report.json", "--color", "purple"); code != exitError || !strings.Contains(stderr, `--color: unknown value "purple"`) {
		t.Errorf("report --color purple: exit %d, %q", code, stderr)
	}
}
