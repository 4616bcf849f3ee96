package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/plan"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/stagetest"
	"github.com/portcullis-sec/portcullis/functions/internal/unitstore"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/probe/lab"
	"github.com/portcullis-sec/portcullis/providers"
	"github.com/portcullis-sec/portcullis/reports"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, true, nil)) }

// envOf is the environment of a function under test.
// The shared test helpers, under this package's old names.
var (
	envOf     = stagetest.Env
	newBase   = stagetest.NewBase
	lambdaCtx = stagetest.LambdaCtx
)

func TestPlanOrganization(t *testing.T) {
	ctx := lambdaCtx(t)
	b := newBase(t, "plan-org", nil)
	org := organizations.NewFromConfig(b.AWS)
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, name := range []string{"prod", "staging"} {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		st, err := org.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: out.CreateAccountStatus.Id})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, aws.ToString(st.CreateAccountStatus.AccountId))
	}
	// A closed account is not ACTIVE and must not be planned.
	closed := created[1]
	if _, err := org.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(closed)}); err != nil {
		t.Fatal(err)
	}
	regionsOut, err := ec2.NewFromConfig(b.AWS).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var enabled []string
	for _, r := range regionsOut.Regions {
		enabled = append(enabled, aws.ToString(r.RegionName))
	}
	slices.Sort(enabled)

	tests := []struct {
		name         string
		env          map[string]string
		wantAccounts []string
		wantRegions  []string
		wantExtra    []runstore.Item
	}{
		{
			name:         "organization and enabled regions",
			env:          map[string]string{},
			wantAccounts: []string{mototest.Account, created[0]},
			wantRegions:  enabled,
		},
		{
			name:         "configured regions, one account excluded, gcp and azure",
			env:          map[string]string{plan.EnvRegions: "eu-west-1, us-east-1,eu-west-1", plan.EnvExcludeAccounts: mototest.Account, plan.EnvGCPProjects: "acme-prod", plan.EnvAzureSubscriptions: "00000000-0000-0000-0000-000000000001", plan.EnvMaxConcurrency: "7"},
			wantAccounts: []string{created[0]},
			wantRegions:  []string{"eu-west-1", "us-east-1"},
			wantExtra:    []runstore.Item{{Provider: "gcp", Account: "acme-prod"}, {Provider: "azure", Account: "00000000-0000-0000-0000-000000000001"}},
		},
		{
			name:         "configured accounts: no organization call",
			env:          map[string]string{plan.EnvAccounts: "111111111111,222222222222", plan.EnvRegions: "ap-southeast-2"},
			wantAccounts: []string{"111111111111", "222222222222"},
			wantRegions:  []string{"ap-southeast-2"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.NewPlan(b, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			run := "plan-" + string(rune('a'+i))
			out, err := p.Handle(ctx, RunInput{RunID: run})
			if err != nil {
				t.Fatal(err)
			}
			var want []runstore.Item
			// The plan lists accounts sorted; moto draws the ID of a
			// created account at random, so the expectation is sorted too.
			accounts := slices.Clone(tc.wantAccounts)
			slices.Sort(accounts)
			for _, a := range accounts {
				for _, r := range tc.wantRegions {
					want = append(want, runstore.Item{Provider: "aws", Account: a, Region: r})
				}
			}
			want = append(want, tc.wantExtra...)
			got, err := b.Store.Plan(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("plan items:\n got %v\nwant %v", got, want)
			}
			if out.Items != len(want) || out.Accounts != len(tc.wantAccounts) || out.Regions != len(tc.wantRegions) ||
				out.ItemsKey != "runs/"+run+"/plan.json" || out.Bucket != "plan-org" || out.MapPrefix != "runs/"+run+"/map" || out.RunID != run {
				t.Errorf("output %+v", out)
			}
			wantMC := 40
			if tc.env[plan.EnvMaxConcurrency] != "" {
				wantMC = 7
			}
			if out.MaxConcurrency != wantMC {
				t.Errorf("maxConcurrency %d, want %d", out.MaxConcurrency, wantMC)
			}
		})
	}
}

func TestPlanRejects(t *testing.T) {
	b := newBase(t, "plan-rejects", nil)
	for _, env := range []map[string]string{
		{plan.EnvAccounts: "12345"},
		{plan.EnvRegions: "eu-west-1,../../etc"},
		{plan.EnvGCPProjects: "Not_A_Project"},
		{plan.EnvAzureSubscriptions: "sub-1"},
		{plan.EnvMaxConcurrency: "0"},
	} {
		if _, err := plan.NewPlan(b, envOf(env)); err == nil {
			t.Errorf("NewPlan(%v) accepted", env)
		}
	}
	p, err := plan.NewPlan(b, envOf(map[string]string{plan.EnvAccounts: mototest.Account, plan.EnvRegions: "eu-west-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Handle(lambdaCtx(t), RunInput{RunID: "../other"}); err == nil {
		t.Error("run id ../other accepted")
	}
}

// seedRegion builds, in moto, a public subnet with an instance whose
// security group admits SSH from anywhere.
func seedRegion(t *testing.T, cfg aws.Config, region string) (sg string) {
	t.Helper()
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
	sg, _ = mototest.SSHInstance(t, c, region, "10.42.0.0/16", "ssh-world", "")
	return sg
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(reports.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPipeline runs plan → collect (each item) → report as the state
// machine does, against moto, and checks what lands in S3.
func TestPipeline(t *testing.T) {
	ctx := lambdaCtx(t)
	const bucket, run = "pipeline", "run-2025-01-01"
	var logs bytes.Buffer
	b := newBase(t, bucket, &logs)
	sg := seedRegion(t, b.AWS, "eu-west-3")

	// Two regions are planned; only one collect task runs, as when a task
	// fails for good: the report must say that scope is missing.
	p, err := plan.NewPlan(b, envOf(map[string]string{plan.EnvAccounts: mototest.Account, plan.EnvRegions: "eu-west-3,eu-north-1"}))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Handle(ctx, RunInput{RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Items != 2 {
		t.Fatalf("plan %+v", plan)
	}

	const externalID = "ext-7f3c-secret-ish"
	c, err := NewCollect(b, envOf(map[string]string{EnvMemberRoleName: "PortcullisAudit", EnvExternalID: externalID}))
	if err != nil {
		t.Fatal(err)
	}
	item := runstore.Item{Provider: "aws", Account: mototest.Account, Region: "eu-west-3"}
	cout, err := c.Handle(ctx, CollectInput{RunID: run, Item: item})
	if err != nil {
		t.Fatal(err)
	}
	if cout.Files == 0 || cout.Errors != 0 {
		t.Fatalf("collect output %+v", cout)
	}
	s3c := s3.NewFromConfig(b.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	listed, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("runs/" + run + "/")})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, o := range listed.Contents {
		keys[aws.ToString(o.Key)] = true
	}
	snapPrefix := "runs/" + run + "/snapshot/aws/" + mototest.Account + "/"
	for _, want := range []string{
		snapPrefix + "sts-get-caller-identity.json",
		snapPrefix + "eu-west-3/ec2-describe-security-groups.json",
		snapPrefix + "eu-west-3/ec2-describe-network-interfaces.json",
		snapPrefix + "eu-west-3/ec2-describe-route-tables.json",
		"runs/" + run + "/errors/aws/" + mototest.Account + "/eu-west-3.json",
		"runs/" + run + "/plan.json",
	} {
		if !keys[want] {
			t.Errorf("missing s3://%s/%s (have %v)", bucket, want, keys)
		}
	}
	sgs, err := b.Store.Get(ctx, snapPrefix+"eu-west-3/ec2-describe-security-groups.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sgs, []byte(sg)) {
		t.Errorf("describe-security-groups.json does not hold %s", sg)
	}
	// The member role was assumed: the caller identity is the role's.
	ident, _ := b.Store.Get(ctx, snapPrefix+"sts-get-caller-identity.json")
	if !bytes.Contains(ident, []byte("PortcullisAudit")) {
		t.Errorf("caller identity %s: the member role was not assumed", ident)
	}

	r, err := NewReport(b, envOf(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	rout, err := r.Handle(ctx, ReportInput{RunID: run, Probe: &ProbeState{Skipped: true}})
	if err != nil {
		t.Fatal(err)
	}
	js, err := b.Store.Get(ctx, rout.JSONKey)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(inst); err != nil {
		t.Errorf("report.json does not validate: %v", err)
	}
	var doc struct {
		Partial bool `json:"partial"`
		Scope   struct {
			Accounts []string `json:"accounts"`
			Regions  []string `json:"regions"`
			Snapshot string   `json:"snapshot"`
		} `json:"scope"`
		Summary struct {
			Exposures struct {
				Effective int `json:"effective"`
			} `json:"exposures"`
		} `json:"summary"`
		Exposures []json.RawMessage `json:"exposures"`
		Errors    []exposure.Error  `json:"errors"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Exposures.Effective == 0 || !bytes.Contains(js, []byte(sg)) {
		t.Errorf("report has %d effective exposures and names %s: %v; want SSH open to the world", doc.Summary.Exposures.Effective, sg, bytes.Contains(js, []byte(sg)))
	}
	if !slices.Equal(doc.Scope.Accounts, []string{mototest.Account}) || !slices.Equal(doc.Scope.Regions, []string{"eu-west-3"}) ||
		doc.Scope.Snapshot != "s3://pipeline/runs/"+run+"/snapshot" {
		t.Errorf("scope %+v", doc.Scope)
	}
	missing := false
	for _, e := range doc.Errors {
		if e.Provider == "aws" && e.Account == mototest.Account && e.Region == "eu-north-1" && strings.Contains(e.Message, "no result from the collect task") {
			missing = true
		}
	}
	if !doc.Partial || !missing {
		t.Errorf("partial=%v errors=%v: want the uncollected eu-north-1 reported", doc.Partial, doc.Errors)
	}
	// Probing was off: no observations, and none are made up.
	if rout.Probed || rout.Observed != 0 || bytes.Contains(js, []byte(`"probe":`)) || keys["runs/"+run+"/observations.json"] {
		t.Errorf("unprobed run: output probed=%v observations=%d, report mentions a probe: %v", rout.Probed, rout.Observed, bytes.Contains(js, []byte(`"probe":`)))
	}
	var summary map[string]any
	if err := json.Unmarshal(rout.Summary, &summary); err != nil || summary["exposures"] == nil {
		t.Errorf("summary %s: %v", rout.Summary, err)
	}
	html, err := b.Store.Get(ctx, rout.HTMLKey)
	if err != nil || !bytes.Contains(html, []byte("<html")) {
		t.Errorf("report.html: %v", err)
	}
	if strings.Contains(logs.String(), externalID) {
		t.Error("the external ID was logged")
	}
	if !strings.Contains(logs.String(), `"requestId":"req-1"`) {
		t.Errorf("logs carry no request ID: %s", logs.String())
	}
}

func TestCollectCredentialFailureIsRecorded(t *testing.T) {
	ctx := lambdaCtx(t)
	b := newBase(t, "cred-failure", nil)
	c, err := NewCollect(b, envOf(map[string]string{EnvMemberRoleName: "PortcullisAudit", EnvGCPCredentials: "ssm:/portcullis/missing"}))
	if err != nil {
		t.Fatal(err)
	}
	it := runstore.Item{Provider: "gcp", Account: "acme-prod"}
	out, err := c.Handle(ctx, CollectInput{RunID: "r1", Item: it})
	if err != nil {
		t.Fatal(err)
	}
	if out.Errors != 1 || out.Files != 0 {
		t.Errorf("output %+v", out)
	}
	errs, err := b.Store.Errors(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Provider != "gcp" || errs[0].Account != "acme-prod" || !strings.Contains(errs[0].Message, "/portcullis/missing") {
		t.Errorf("errors %+v", errs)
	}
}

func TestCollectRejects(t *testing.T) {
	b := newBase(t, "collect-rejects", nil)
	for _, env := range []map[string]string{
		{},
		{EnvMemberRoleName: "bad role"},
		{EnvMemberRoleName: "PortcullisAudit", EnvGCPCredentials: "file:/etc/creds.json"},
		{EnvMemberRoleName: "PortcullisAudit", EnvAzureCredentials: "ssm:"},
	} {
		if _, err := NewCollect(b, envOf(env)); err == nil {
			t.Errorf("NewCollect(%v) accepted", env)
		}
	}
	c, err := NewCollect(b, envOf(map[string]string{EnvMemberRoleName: "audit/PortcullisAudit"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdaCtx(t)
	if got := c.roleARN(ctx, "111111111111"); got != "arn:aws:iam::111111111111:role/audit/PortcullisAudit" {
		t.Errorf("role ARN %s", got)
	}
	cn := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{InvokedFunctionArn: "arn:aws-cn:lambda:cn-north-1:111111111111:function:f"})
	if got := c.roleARN(cn, "111111111111"); got != "arn:aws-cn:iam::111111111111:role/audit/PortcullisAudit" {
		t.Errorf("role ARN in aws-cn %s", got)
	}
	for _, in := range []CollectInput{
		{RunID: "r", Item: runstore.Item{Provider: "aws", Account: "1234", Region: "eu-west-1"}},
		{RunID: "r", Item: runstore.Item{Provider: "aws", Account: mototest.Account, Region: "eu-west-1/../x"}},
		{RunID: "r", Item: runstore.Item{Provider: "oci", Account: "x"}},
		{RunID: "", Item: runstore.Item{Provider: "aws", Account: mototest.Account, Region: "eu-west-1"}},
	} {
		if _, err := c.Handle(ctx, in); err == nil {
			t.Errorf("Handle(%+v) accepted", in)
		}
	}
}

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	b := newBase(t, "credentials", nil)
	sm := secretsmanager.NewFromConfig(b.AWS)
	ps := ssm.NewFromConfig(b.AWS)
	const secretMaterial = "SECRET-MATERIAL-do-not-log"
	put := func(name, value string) {
		t.Helper()
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
			t.Fatal(err)
		}
	}
	put("/portcullis/gcp-wif", `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/aws","subject_token_type":"urn:ietf:params:aws:token-type:aws4_request","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"environment_id":"aws1","regional_cred_verification_url":"https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}}`)
	put("/portcullis/gcp-user", `{"type":"authorized_user","refresh_token":"`+secretMaterial+`"}`)
	put("/portcullis/gcp-garbage", `not json `+secretMaterial)

	for _, tc := range []struct {
		ref     credentialRef
		wantErr string
	}{
		{"ssm:/portcullis/gcp-wif", ""},
		{"ssm:/portcullis/gcp-user", `type "authorized_user" is not accepted`},
		{"ssm:/portcullis/gcp-garbage", "not a JSON credential configuration"},
		{"ssm:/portcullis/absent", "read ssm parameter /portcullis/absent"},
	} {
		doc, err := tc.ref.fetch(ctx, b.AWS)
		if err == nil {
			_, err = gcpCredentials(doc)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.ref, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.ref, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), secretMaterial):
			t.Errorf("%s: the error quotes the secret: %v", tc.ref, err)
		}
	}

	// Azure: a client secret from Secrets Manager reaches azidentity's
	// environment for the invocation only.
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("portcullis/azure"),
		SecretString: aws.String(`{"tenantId":"00000000-0000-0000-0000-0000000000aa","clientId":"00000000-0000-0000-0000-0000000000bb","clientSecret":"` + secretMaterial + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := credentialRef("secretsmanager:"+aws.ToString(out.ARN)).fetch(ctx, b.AWS)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := parseAzureCredentials(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The credential is built for the provider's Config, never through the
	// process environment (no token is requested: that would leave the
	// machine).
	cred, err := azureCredential(b.AWS, ac)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cred.(*azidentity.ClientSecretCredential); !ok {
		t.Errorf("credential with a client secret is %T, want *azidentity.ClientSecretCredential", cred)
	}
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"} {
		if _, set := os.LookupEnv(k); set {
			t.Errorf("%s set in the process environment", k)
		}
	}
	fed, err := azureCredential(b.AWS, azureCredentials{TenantID: ac.TenantID, ClientID: ac.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fed.(*azidentity.ClientAssertionCredential); !ok {
		t.Errorf("credential without a secret is %T, want a federated *azidentity.ClientAssertionCredential", fed)
	}
	if _, err := parseAzureCredentials([]byte(`{"clientSecret":"` + secretMaterial + `"}`)); err == nil || strings.Contains(err.Error(), secretMaterial) {
		t.Errorf("azure credentials without tenant: %v", err)
	}
}

func TestProbeStaysOff(t *testing.T) {
	ctx := lambdaCtx(t)
	b := newBase(t, "probe-off", nil)
	p, err := NewProbe(b, envOf(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Handle(ctx, RunInput{RunID: "r"}); !errors.Is(err, ErrProbingDisabled) {
		t.Errorf("probe with probing off: %v", err)
	}
	// Switched on, it still refuses an emulator's made-up addresses.
	p, err = NewProbe(b, envOf(map[string]string{EnvProbeEnabled: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Handle(ctx, RunInput{RunID: "r"}); err == nil || !strings.Contains(err.Error(), "emulator") {
		t.Errorf("probe against moto: %v", err)
	}
	if _, err := NewProbe(b, envOf(map[string]string{EnvProbeEnabled: "yes please"})); err == nil {
		t.Error("PROBE_ENABLED=yes please accepted")
	}
}

// demoAccount is the demo estate's sandbox account: jupyter-sandbox on
// 192.0.2.80 (a documentation address) has SSH (22) and Jupyter (8888)
// open to anyone (demo/estate/README.md).
const (
	demoAccount = "444455556666"
	demoAddr    = "192.0.2.80"
)

// putDemoSnapshot writes the demo sandbox account into a run's snapshot
// prefix, as the collect tasks would have: a snapshot whose public
// addresses are documentation ones, unlike the 54.214.x.x moto hands out.
func putDemoSnapshot(ctx context.Context, t *testing.T, b *Base, run string) {
	t.Helper()
	estate := demo.Estate()
	regions, err := fs.ReadDir(estate, "aws/"+demoAccount)
	if err != nil {
		t.Fatal(err)
	}
	// One collect task's output per region: the region's files and the
	// account's own, the snapshot and the unit result, and the plan.
	var items []runstore.Item
	for _, r := range regions {
		if !r.IsDir() {
			continue
		}
		it := runstore.Item{Provider: "aws", Account: demoAccount, Region: r.Name()}
		items = append(items, it)
		snap := providers.NewSnapshot()
		err := fs.WalkDir(estate, "aws/"+demoAccount, func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if path.Dir(name) != "aws/"+demoAccount && !strings.HasPrefix(name, "aws/"+demoAccount+"/"+it.Region+"/") {
				return nil
			}
			data, err := fs.ReadFile(estate, name)
			if err != nil {
				return err
			}
			return snap.Put(name, data)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Store.PutSnapshot(ctx, run, it, snap); err != nil {
			t.Fatal(err)
		}
		usnap, err := unitstore.Snapshot(it, snap)
		if err != nil {
			t.Fatal(err)
		}
		u, err := audit.AnalyzeUnit(usnap, exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unitstore.Put(ctx, b.Store, run, it, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Store.PutPlan(ctx, run, items); err != nil {
		t.Fatal(err)
	}
}

// runObjects lists the keys under runs/<run>/.
func runObjects(ctx context.Context, t *testing.T, b *Base, run string) map[string]bool {
	t.Helper()
	s3c := s3.NewFromConfig(b.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Store.Bucket()), Prefix: aws.String("runs/" + run + "/")})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, o := range out.Contents {
		keys[aws.ToString(o.Key)] = true
	}
	return keys
}

// TestProbeWritesOnlyObservations runs the probe stage past its safety
// refusals (TestProbeStaysOff covers those) on a snapshot of documentation
// addresses, each probe redirected onto a loopback lab service.
func TestProbeWritesOnlyObservations(t *testing.T) {
	ctx := lambdaCtx(t)
	const run = "run-probe"
	b := newBase(t, "probe-observations", nil)
	putDemoSnapshot(ctx, t, b, run)
	// A report already in the prefix must come out untouched: the probe
	// stage writes nothing but observations.
	sentinel := []byte(`{"sentinel":"written before the probe stage"}`)
	if err := b.Store.Put(ctx, runstore.Key(run, runstore.ReportJSON), "application/json", sentinel); err != nil {
		t.Fatal(err)
	}
	before := runObjects(ctx, t, b, run)

	p, err := NewProbe(b, envOf(map[string]string{EnvProbeEnabled: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	var planned []probe.Target
	var l *lab.Lab
	t.Cleanup(func() {
		if l != nil {
			_ = l.Close()
		}
	})
	po := audit.ProbeOptions{
		Enabled: true,
		Config:  probe.Config{Timeout: time.Second, Rate: 500, PerAddressRate: 100, AllowLoopback: true},
		Setup: func(ctx context.Context, targets []probe.Target) (map[netip.AddrPort]netip.AddrPort, error) {
			// Network safety: every planned probe must be of a
			// documentation address, and every one is redirected onto
			// loopback (the guard refuses to dial documentation ranges in
			// any case).
			var svcs []lab.Service
			for _, tg := range targets {
				if probe.Classify(tg.Addr) != probe.ClassDocumentation {
					return nil, fmt.Errorf("planned probe of %s: not a documentation address", tg.Addr)
				}
				kind := lab.Closed
				if tg.Protocol == exposure.ProtocolTCP && tg.Port == 22 {
					kind = lab.SSH
				} else if tg.Protocol == exposure.ProtocolUDP {
					kind = lab.ClosedUDP
				}
				svcs = append(svcs, lab.Service{Kind: kind, Public: netip.AddrPortFrom(tg.Addr, tg.Port)})
				planned = append(planned, tg)
			}
			var err error
			if l, err = lab.Start(ctx, svcs); err != nil {
				return nil, err
			}
			return l.Redirect(), nil
		},
	}
	out, err := p.observe(ctx, run, po, b.Log)
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) == 0 {
		t.Fatal("no probe planned: the sandbox's SSH is effective")
	}
	if out.ObservationsKey != "runs/"+run+"/observations.json" || out.RunID != run || out.Bucket != "probe-observations" ||
		out.Observations != len(planned) || out.Open != 1 {
		t.Errorf("output %+v, want %d observations, 1 open", out, len(planned))
	}
	data, err := b.Store.Get(ctx, out.ObservationsKey)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := decodeObservations(data)
	if err != nil {
		t.Fatalf("observations.json: %v", err)
	}
	var ssh *exposure.Observation
	for i, o := range obs {
		if o.Endpoint == demoAddr && o.Protocol == exposure.ProtocolTCP && o.Port == 22 {
			ssh = &obs[i]
		}
	}
	if ssh == nil || ssh.State != exposure.ProbeOpen || ssh.Service != "ssh" {
		t.Errorf("observation of %s:22 = %+v, want open ssh (all: %+v)", demoAddr, ssh, obs)
	}
	if l.Accepted() == 0 {
		t.Error("the lab accepted no connection: nothing was probed")
	}

	after := runObjects(ctx, t, b, run)
	for k := range after {
		if !before[k] && k != out.ObservationsKey {
			t.Errorf("the probe stage wrote %s", k)
		}
	}
	if after[runstore.Key(run, runstore.ReportHTML)] {
		t.Error("the probe stage wrote report.html")
	}
	if got, err := b.Store.Get(ctx, runstore.Key(run, runstore.ReportJSON)); err != nil || !bytes.Equal(got, sentinel) {
		t.Errorf("report.json changed: %s, %v", got, err)
	}
}

// reportDoc is the part of report.json the report-stage tests read.
type reportDoc struct {
	Partial  bool `json:"partial"`
	Findings []struct {
		RuleID     string `json:"ruleId"`
		ExposureID string `json:"exposureId"`
		Port       int    `json:"port"`
		Probe      *struct {
			Endpoint string              `json:"endpoint"`
			Port     int                 `json:"port"`
			State    exposure.ProbeState `json:"state"`
			Service  string              `json:"service"`
		} `json:"probe"`
	} `json:"findings"`
	Exposures []struct {
		ID       string         `json:"id"`
		Level    exposure.Level `json:"level"`
		Address  string         `json:"address"`
		FromPort int            `json:"fromPort"`
		ToPort   int            `json:"toPort"`
	} `json:"exposures"`
	Errors []exposure.Error `json:"errors"`
}

func readReport(ctx context.Context, t *testing.T, b *Base, key string) ([]byte, reportDoc) {
	t.Helper()
	js, err := b.Store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(inst); err != nil {
		t.Errorf("report.json does not validate: %v", err)
	}
	var doc reportDoc
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	return js, doc
}

// TestReportUsesObservations: an observations.json written by hand into
// the run prefix (no probe is sent) reaches the findings of the exposure
// it observed.
func TestReportUsesObservations(t *testing.T) {
	ctx := lambdaCtx(t)
	const run = "run-report-observations"
	b := newBase(t, "report-observations", nil)
	putDemoSnapshot(ctx, t, b, run)
	obs := []exposure.Observation{{Endpoint: demoAddr, Protocol: exposure.ProtocolTCP, Port: 22, State: exposure.ProbeOpen,
		Service: "ssh", Product: "OpenSSH_9.6"}}
	key := runstore.Key(run, runstore.ObservationsFile)
	if err := b.Store.PutJSON(ctx, key, obs); err != nil {
		t.Fatal(err)
	}
	r, err := NewReport(b, envOf(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Handle(ctx, ReportInput{RunID: run, Probe: &ProbeState{ProbeOutput: ProbeOutput{ObservationsKey: key, Observations: 1, Open: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Probed || out.Observed != 1 || out.JSONKey != "runs/"+run+"/report.json" || out.RunID != run {
		t.Errorf("output %+v, want probed with 1 observation", out)
	}
	_, doc := readReport(ctx, t, b, out.JSONKey)
	ssh := map[string]bool{} // effective exposures of demoAddr covering TCP 22
	for _, x := range doc.Exposures {
		if x.Address == demoAddr && x.Level == exposure.Effective && x.FromPort <= 22 && 22 <= x.ToPort {
			ssh[x.ID] = true
		}
	}
	if len(ssh) == 0 {
		t.Fatalf("no effective exposure of %s:22 in the report", demoAddr)
	}
	confirmed := 0
	for _, f := range doc.Findings {
		if !ssh[f.ExposureID] || f.Port != 22 {
			continue
		}
		if f.Probe == nil || f.Probe.State != exposure.ProbeOpen || f.Probe.Service != "ssh" || f.Probe.Endpoint != demoAddr || f.Probe.Port != 22 {
			t.Errorf("finding %s on %s:22 carries probe %+v, want the open ssh observation", f.RuleID, demoAddr, f.Probe)
			continue
		}
		confirmed++
	}
	if confirmed == 0 {
		t.Errorf("no finding on %s:22 carries the observation", demoAddr)
	}
	for _, e := range doc.Errors {
		if e.Stage == "probe" {
			t.Errorf("probe error with a good observations.json: %+v", e)
		}
	}
}

// TestReportProbeProblems: whatever keeps probe results out of the report
// is an error in it, and the report is written all the same.
func TestReportProbeProblems(t *testing.T) {
	ctx := lambdaCtx(t)
	b := newBase(t, "report-probe-problems", nil)
	r, err := NewReport(b, envOf(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	good := ProbeOutput{ObservationsKey: "runs/x/observations.json", Observations: 2}
	for i, tc := range []struct {
		name         string
		observations string // "" = no observations.json
		probe        *ProbeState
		wantErr      string // "" = no probe error
		wantProbed   bool
	}{
		{name: "not probed", probe: &ProbeState{Skipped: true}},
		{name: "invoked by hand, not probed"},
		{name: "probed, nothing to probe", observations: `[]`, probe: &ProbeState{ProbeOutput: good}, wantProbed: true},
		{name: "malformed", observations: `[{"endpoint":`, probe: &ProbeState{ProbeOutput: good}, wantErr: "unreadable observations"},
		{name: "not an array", observations: `null`, probe: &ProbeState{ProbeOutput: good}, wantErr: "not a JSON array"},
		{name: "unknown state", observations: `[{"endpoint":"192.0.2.80","protocol":"tcp","port":22,"state":"maybe"}]`,
			probe: &ProbeState{ProbeOutput: good}, wantErr: `unknown state "maybe"`},
		{name: "unknown protocol", observations: `[{"endpoint":"192.0.2.80","protocol":"sctp","port":22,"state":"open"}]`,
			probe: &ProbeState{ProbeOutput: good}, wantErr: `protocol "sctp"`},
		{name: "probe reported observations that are missing", probe: &ProbeState{ProbeOutput: good}, wantErr: "wrote no observations.json"},
		{name: "probe failed (caught)", probe: &ProbeState{Error: "States.TaskFailed",
			Cause: `{"errorMessage":"probe run r: configure prober: boom","errorType":"wrapError"}`},
			wantErr: "the probe stage failed: States.TaskFailed: probe run r: configure prober: boom"},
		{name: "probe timed out (caught)", probe: &ProbeState{Error: "States.Timeout"}, wantErr: "the probe stage failed: States.Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := fmt.Sprintf("run-problem-%d", i)
			putDemoSnapshot(ctx, t, b, run)
			if tc.observations != "" {
				if err := b.Store.Put(ctx, runstore.Key(run, runstore.ObservationsFile), "application/json", []byte(tc.observations)); err != nil {
					t.Fatal(err)
				}
			}
			out, err := r.Handle(ctx, ReportInput{RunID: run, Probe: tc.probe})
			if err != nil {
				t.Fatalf("the report stage failed instead of reporting: %v", err)
			}
			if out.Probed != tc.wantProbed {
				t.Errorf("probed = %v, want %v", out.Probed, tc.wantProbed)
			}
			js, doc := readReport(ctx, t, b, out.JSONKey)
			var probeErrs []exposure.Error
			for _, e := range doc.Errors {
				if e.Stage == "probe" {
					probeErrs = append(probeErrs, e)
				}
			}
			switch {
			case tc.wantErr == "" && len(probeErrs) > 0:
				t.Errorf("probe errors %+v, want none", probeErrs)
			case tc.wantErr != "" && (len(probeErrs) != 1 || !strings.Contains(probeErrs[0].Message, tc.wantErr)):
				t.Errorf("probe errors %+v, want one saying %q", probeErrs, tc.wantErr)
			case tc.wantErr != "" && !doc.Partial:
				t.Error("a report missing its probe results is not marked partial")
			}
			if !tc.wantProbed && bytes.Contains(js, []byte(`"probe":`)) {
				t.Error("unprobed report carries probe results")
			}
			if _, err := b.Store.Get(ctx, out.HTMLKey); err != nil {
				t.Errorf("report.html: %v", err)
			}
		})
	}
}

// TestStateMachineMatchesHandlers: every field the state machine selects
// from a function's output exists in it (a missing one fails the whole
// execution with States.Runtime, which no Catch catches), and what the
// Report state passes decodes into ReportInput.
func TestStateMachineMatchesHandlers(t *testing.T) {
	b, err := os.ReadFile("../../../infra/statemachine.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			Result         json.RawMessage
			ResultSelector map[string]any
			Parameters     struct{ Payload map[string]any }
		}
	}
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatal(err)
	}
	for state, out := range map[string]any{"Plan": plan.PlanOutput{}, "Probe": ProbeOutput{}, "Report": ReportOutput{}} {
		have := jsonFields(out)
		sel := def.States[state].ResultSelector
		if len(sel) == 0 {
			t.Errorf("state %s selects nothing", state)
		}
		for k, v := range sel {
			path, ok := v.(string)
			if !strings.HasSuffix(k, ".$") || !ok {
				continue // a constant
			}
			f, ok := strings.CutPrefix(path, "$.Payload.")
			if !ok || !have[f] {
				t.Errorf("state %s selects %s, which %T does not always return (has %v)", state, path, out, have)
			}
		}
	}
	in := jsonFields(ReportInput{Probe: &ProbeState{}})
	for k := range def.States["Report"].Parameters.Payload {
		if !in[strings.TrimSuffix(k, ".$")] {
			t.Errorf("Report passes %s, which ReportInput does not read", k)
		}
	}
	var skipped ProbeState
	if err := json.Unmarshal(def.States["ProbeSkipped"].Result, &skipped); err != nil || !skipped.Skipped {
		t.Errorf("ProbeSkipped's result %s does not decode as skipped: %v", def.States["ProbeSkipped"].Result, err)
	}
}

// jsonFields is the set of top-level field names v marshals to.
func jsonFields(v any) map[string]bool {
	js, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(js, &m)
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
