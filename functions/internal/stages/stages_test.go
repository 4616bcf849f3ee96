package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, true, nil)) }

// envOf is the environment of a function under test.
func envOf(m map[string]string) Env { return func(k string) string { return m[k] } }

// newBase opens a fresh bucket in moto and returns the base of a function
// writing to it.
func newBase(t *testing.T, bucket string, log io.Writer) *Base {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	b, err := NewBase(context.Background(), envOf(map[string]string{EnvBucket: bucket}), slog.New(slog.NewJSONHandler(log, nil)), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !b.emulated {
		t.Fatal("AWS_ENDPOINT_URL is not in effect: refusing to go on")
	}
	if _, err := s3.NewFromConfig(b.AWS, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(context.Background(),
		&s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return b
}

// lambdaCtx is an invocation context with a deadline and a function ARN.
func lambdaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "req-1",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + mototest.Account + ":function:portcullis-collect",
	})
}

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
			env:          map[string]string{EnvRegions: "eu-west-1, us-east-1,eu-west-1", EnvExcludeAccounts: mototest.Account, EnvGCPProjects: "acme-prod", EnvAzureSubscriptions: "00000000-0000-0000-0000-000000000001", EnvMaxConcurrency: "7"},
			wantAccounts: []string{created[0]},
			wantRegions:  []string{"eu-west-1", "us-east-1"},
			wantExtra:    []runstore.Item{{Provider: "gcp", Account: "acme-prod"}, {Provider: "azure", Account: "00000000-0000-0000-0000-000000000001"}},
		},
		{
			name:         "configured accounts: no organization call",
			env:          map[string]string{EnvAccounts: "111111111111,222222222222", EnvRegions: "ap-southeast-2"},
			wantAccounts: []string{"111111111111", "222222222222"},
			wantRegions:  []string{"ap-southeast-2"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(b, envOf(tc.env))
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
			if tc.env[EnvMaxConcurrency] != "" {
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
		{EnvAccounts: "12345"},
		{EnvRegions: "eu-west-1,../../etc"},
		{EnvGCPProjects: "Not_A_Project"},
		{EnvAzureSubscriptions: "sub-1"},
		{EnvMaxConcurrency: "0"},
	} {
		if _, err := NewPlan(b, envOf(env)); err == nil {
			t.Errorf("NewPlan(%v) accepted", env)
		}
	}
	p, err := NewPlan(b, envOf(map[string]string{EnvAccounts: mototest.Account, EnvRegions: "eu-west-1"}))
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
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.42.0.0/16")})
	must(err)
	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.42.1.0/24"), AvailabilityZone: aws.String(region + "a")})
	must(err)
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	must(err)
	_, err = c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: vpc.Vpc.VpcId})
	must(err)
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpc.Vpc.VpcId)}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	must(err)
	_, err = c.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rts.RouteTables[0].RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: igw.InternetGateway.InternetGatewayId})
	must(err)
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: vpc.Vpc.VpcId, GroupName: aws.String("ssh-world"), Description: aws.String("ssh")})
	must(err)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	must(err)
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro,
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), SubnetId: sn.Subnet.SubnetId, Groups: []string{aws.ToString(g.GroupId)}, AssociatePublicIpAddress: aws.Bool(true)}},
	})
	must(err)
	return aws.ToString(g.GroupId)
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
	p, err := NewPlan(b, envOf(map[string]string{EnvAccounts: mototest.Account, EnvRegions: "eu-west-3,eu-north-1"}))
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
	rout, err := r.Handle(ctx, RunInput{RunID: run})
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
