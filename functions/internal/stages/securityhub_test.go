package stages

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
)

// TestReportImportsIntoSecurityHub: with SECURITY_HUB=true the report
// stage imports every finding into Security Hub (moto) under the
// function's account, and the report says nothing went wrong.
func TestReportImportsIntoSecurityHub(t *testing.T) {
	ctx := lambdaCtx(t)
	const run = "run-securityhub"
	b := newBase(t, "report-securityhub", nil)
	putDemoSnapshot(ctx, t, b, run)
	r, err := NewReport(b, envOf(map[string]string{EnvSecurityHub: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Handle(ctx, ReportInput{RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := readReport(ctx, t, b, out.JSONKey)
	doc, err := reports.Read(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range doc.Errors {
		if e.Stage == "securityhub" {
			t.Errorf("security hub error: %+v", e)
		}
	}
	want := map[string]int{}
	for _, f := range doc.Findings {
		want[strings.SplitN(reports.ASFFFindingID(f), "/", 2)[0]]++
	}
	if len(doc.Findings) == 0 {
		t.Fatal("the demo account has no findings")
	}
	for region, n := range want {
		c := sh.NewFromConfig(b.AWS, func(o *sh.Options) { o.Region = region })
		got := 0
		p := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Findings {
				if strings.Contains(aws.ToString(f.Id), "/portcullis/") && aws.ToString(f.AwsAccountId) == mototest.Account {
					got++
				}
			}
		}
		if got != n {
			t.Errorf("%s: Security Hub holds %d findings, the report %d", region, got, n)
		}
	}

	if _, err := NewReport(b, envOf(map[string]string{EnvSecurityHub: "yes"})); err == nil || !strings.Contains(err.Error(), EnvSecurityHub) {
		t.Errorf("SECURITY_HUB=yes: %v", err)
	}
}
