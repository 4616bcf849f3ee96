package stages

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/notify"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
)

// TestNotifySyncsSecurityHub: with SECURITY_HUB=true the notify stage
// imports the run's findings into Security Hub (moto) under the
// function's account, dated from the state's first sighting, and
// archives the findings of an exposure that resolved by the next run;
// what stays open stays ACTIVE. The report stage imports nothing.
func TestNotifySyncsSecurityHub(t *testing.T) {
	ctx := lambdaCtx(t)
	const region = "sa-east-1"
	b := newBase(t, "notify-securityhub", nil)
	e := newEstate(t, b, region)
	e.launch(3389)
	n, err := notify.NewNotify(b, envOf(map[string]string{notify.EnvSecurityHub: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	held := func() map[string]shtypes.AwsSecurityFinding {
		t.Helper()
		out := map[string]shtypes.AwsSecurityFinding{}
		c := sh.NewFromConfig(b.AWS, func(o *sh.Options) { o.Region = region })
		for p := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{MaxResults: aws.Int32(100)}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Findings {
				out[aws.ToString(f.Id)] = f
			}
		}
		return out
	}
	findings := func(run string) map[string]*reports.Finding {
		t.Helper()
		js, err := b.Store.Get(ctx, runstore.Key(run, runstore.ReportJSON))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := reports.Read(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*reports.Finding{}
		for _, f := range doc.Findings {
			out[reports.ASFFFindingID(f)] = f
		}
		return out
	}

	e.report(ctx, "sh-1")
	if got := held(); len(got) != 0 {
		t.Fatalf("the report stage imported %d findings; importing is the notify stage's", len(got))
	}
	if _, err := n.Handle(ctx, notify.NotifyInput{RunID: "sh-1"}); err != nil {
		t.Fatal(err)
	}
	f1, h1 := findings("sh-1"), held()
	rdp := 0
	for id, f := range f1 {
		if got, ok := h1[id]; !ok || got.RecordState != shtypes.RecordStateActive || aws.ToString(got.AwsAccountId) != mototest.Account {
			t.Errorf("run 1: %s finding %s not ACTIVE under %s: %+v", f.RuleID, id, mototest.Account, got)
		}
		if f.RuleID == "PORT-RDP" && f.Exposure.Level == exposure.Effective {
			rdp++
		}
	}
	if rdp != 1 {
		t.Fatalf("run 1: %d effective RDP findings, want 1", rdp)
	}

	// The RDP instance's group no longer admits the internet: that
	// exposure resolved.
	sgs, err := e.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"port-3389"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("the RDP group: %v, %v", sgs, err)
	}
	if _, err := e.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sgs.SecurityGroups[0].GroupId,
		IpPermissions: sgs.SecurityGroups[0].IpPermissions}); err != nil {
		t.Fatal(err)
	}
	e.report(ctx, "sh-2")
	if _, err := n.Handle(ctx, notify.NotifyInput{RunID: "sh-2"}); err != nil {
		t.Fatal(err)
	}
	f2, h2 := findings("sh-2"), held()
	archived := 0
	for id, f := range f1 {
		if _, still := f2[id]; still {
			continue
		}
		archived++
		if got := h2[id]; got.RecordState != shtypes.RecordStateArchived {
			t.Errorf("run 2: %s finding %s no longer raised is %q, want ARCHIVED", f.RuleID, id, got.RecordState)
		}
	}
	if archived == 0 {
		t.Error("run 2 retired no finding")
	}
	for id, f := range f2 {
		if f.RuleID == "PORT-RDP" && f.Exposure.Level == exposure.Effective {
			t.Errorf("run 2 still raises RDP: %s", id)
		}
		got := h2[id]
		if got.RecordState != shtypes.RecordStateActive {
			t.Errorf("run 2: %s finding %s is %q, want ACTIVE", f.RuleID, id, got.RecordState)
		}
		if before, ok := h1[id]; ok && aws.ToString(got.CreatedAt) != aws.ToString(before.CreatedAt) {
			t.Errorf("run 2: %s finding %s created %s, in run 1 %s: CreatedAt is the first sighting", f.RuleID, id, aws.ToString(got.CreatedAt), aws.ToString(before.CreatedAt))
		}
	}

	if _, err := notify.NewNotify(b, envOf(map[string]string{notify.EnvSecurityHub: "yes"})); err == nil || !strings.Contains(err.Error(), notify.EnvSecurityHub) {
		t.Errorf("SECURITY_HUB=yes: %v", err)
	}
}
