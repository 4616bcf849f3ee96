package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// motoURL is the loopback moto_server of the --org tests; the other tests
// of this package read snapshots and never call AWS.
var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

// TestAuditOrg runs audit --org and snapshot --org through the CLI on a
// small organization in moto: the management account, exposed (an
// instance with SSH open to the world), quiet (nothing) and denied, whose
// member role cannot be assumed (mototest.Proxy answers STS AccessDenied:
// moto itself assumes any role).
func TestAuditOrg(t *testing.T) {
	org := mototest.NewOrganization(t, motoURL, []mototest.OrgAccount{
		{Name: "exposed"}, {Name: "quiet", OU: "workloads"}, {Name: "denied", OU: "workloads"},
	})
	const region = "us-east-2"
	exposed, quiet, denied := org.Accounts["exposed"], org.Accounts["quiet"], org.Accounts["denied"]
	sshOpen(t, ec2.NewFromConfig(org.In(t, exposed, region)), region)
	// Every moto region starts with a default VPC, whose default network
	// ACL admits all traffic (as AWS's does): a latent critical finding.
	// Closed, the management account and quiet have nothing to find.
	mgmtCfg := mototest.Config(motoURL)
	mgmtCfg.Region = region
	closeNACLs(t, ec2.NewFromConfig(mgmtCfg))
	closeNACLs(t, ec2.NewFromConfig(org.In(t, quiet, region)))
	proxy := mototest.NewProxy(t, motoURL, []string{denied}, nil)

	base := []string{"--org", "--aws-endpoint", proxy.URL, "--regions", region}
	tests := []struct {
		name         string
		args         []string
		want         int
		wantAccounts []string // accounts in the report's scope, or with files in the snapshot
		wantErrors   []string // accounts the report's errors name
		inStderr     string
	}{
		{name: "whole organization: findings", args: []string{"audit"},
			want: exitFindings, wantAccounts: []string{mototest.Account, exposed, quiet}, wantErrors: []string{denied}},
		{name: "exposed account excluded: partial", args: []string{"audit", "--exclude-accounts", exposed},
			want: exitPartial, wantAccounts: []string{mototest.Account, quiet}, wantErrors: []string{denied}},
		{name: "OU", args: []string{"audit", "--ous", org.OUs["workloads"]},
			want: exitPartial, wantAccounts: []string{quiet}, wantErrors: []string{denied}},
		{name: "accounts without the denied one: clean", args: []string{"audit", "--accounts", quiet + "," + mototest.Account},
			want: exitOK, wantAccounts: []string{mototest.Account, quiet}},
		{name: "only the denied account: nothing audited", args: []string{"audit", "--accounts", denied},
			want: exitError, inStderr: denied},
		{name: "snapshot", args: []string{"snapshot"},
			want: exitPartial, wantAccounts: []string{mototest.Account, exposed, quiet}, wantErrors: []string{denied}, inStderr: "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append(append(slices.Clone(tc.args), base...), "--"+map[string]string{"audit": "output", "snapshot": "out"}[tc.args[0]], out)
			if tc.args[0] == "audit" {
				args = append(args, "--format", "json", "--no-probe")
			}
			code, _, stderr := runCLI(t, args...)
			if code != tc.want {
				if b, err := os.ReadFile(out); err == nil {
					t.Logf("report:\n%s", b)
				}
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("stderr does not mention %q:\n%s", tc.inStderr, stderr)
			}
			if code == exitError {
				return
			}
			var accounts, errAccounts []string
			var errs []struct{ Account, Resource, Message string }
			if tc.args[0] == "snapshot" {
				dirs, err := os.ReadDir(filepath.Join(out, "aws"))
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range dirs {
					if _, err := os.Stat(filepath.Join(out, "aws", d.Name(), region, "ec2-describe-vpcs.json")); err != nil {
						t.Errorf("account %s: %v", d.Name(), err)
					}
					accounts = append(accounts, d.Name())
				}
				b, err := os.ReadFile(filepath.Join(out, "errors.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &errs); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				rep := validateReport(t, b)
				var r struct {
					Scope  struct{ Accounts []string }
					Errors []struct{ Account, Resource, Message string }
				}
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				accounts, errs = r.Scope.Accounts, r.Errors
				ssh := false
				for _, f := range rep["findings"].([]any) {
					ssh = ssh || f.(map[string]any)["ruleId"] == "PORT-SSH"
				}
				if tc.want == exitFindings && !ssh {
					t.Errorf("exit 1 without the exposed account's SSH finding: %v", rep["findings"])
				}
			}
			for _, e := range errs {
				errAccounts = append(errAccounts, e.Account)
				if e.Account == denied && (e.Resource != "sts:AssumeRole" || !strings.Contains(e.Message, "AccessDenied") ||
					!strings.Contains(e.Message, ":role/PortcullisAudit")) {
					t.Errorf("error for the denied account does not name the role and the cause: %+v", e)
				}
			}
			slices.Sort(accounts)
			if want := slices.Sorted(slices.Values(tc.wantAccounts)); !slices.Equal(accounts, want) {
				t.Errorf("accounts %v, want %v", accounts, want)
			}
			if !slices.Equal(errAccounts, tc.wantErrors) {
				t.Errorf("errors %+v, want one for each of %v", errs, tc.wantErrors)
			}
		})
	}
}

func TestOrgFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"accounts without --org", []string{"audit", "--accounts", "111122223333"}, "--accounts needs --org"},
		{"ous without --org", []string{"snapshot", "--out", "x", "--ous", "ou-ab12-cdefgh34"}, "--ous needs --org"},
		{"org with role-arn", []string{"audit", "--org", "--role-arn", "arn:aws:iam::111122223333:role/x"}, "--role-arn"},
		{"org with snapshot", []string{"audit", "--org", "--snapshot", "testdata/clean"}, "--snapshot"},
		{"org without aws", []string{"audit", "--org", "--provider", "gcp"}, "--provider"},
		{"bad account", []string{"audit", "--org", "--exclude-accounts", "1234"}, "12-digit"},
		{"bad OU", []string{"snapshot", "--out", "x", "--org", "--ous", "workloads"}, "organizational unit"},
		{"bad role name", []string{"audit", "--org", "--role-name", "a role"}, "role name"},
		{"bad rate", []string{"audit", "--org", "--account-rate", "-1"}, "--account-rate"},
		{"bad gcp organization", []string{"audit", "--provider", "gcp", "--gcp-organization", "acme"}, "organizations/<number>"},
		{"gcp projects and folder", []string{"audit", "--provider", "gcp", "--gcp-folder", "123", "--gcp-projects", "p"}, "one or the other"},
		{"bad azure management group", []string{"audit", "--provider", "azure", "--azure-management-group", "a/b"}, "management group ID"},
		{"azure subscriptions and management group", []string{"audit", "--provider", "azure", "--azure-management-group", "mg", "--azure-subscriptions", "s"}, "one or the other"},
		{"bad account concurrency", []string{"audit", "--org", "--account-concurrency", "0"}, "--account-concurrency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != exitError || !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("exit %d, stderr %q: want %d mentioning %q", code, stderr, exitError, tc.inStderr)
			}
		})
	}
}

// closeNACLs deletes the allow-all inbound entries of every network ACL in
// the region, so what is left denies every inbound packet.
func closeNACLs(t *testing.T, c *ec2.Client) {
	t.Helper()
	ctx := context.Background()
	acls, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acls.NetworkAcls {
		for _, e := range a.Entries {
			if aws.ToBool(e.Egress) || aws.ToInt32(e.RuleNumber) >= 32767 {
				continue
			}
			if _, err := c.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: a.NetworkAclId,
				RuleNumber: e.RuleNumber, Egress: aws.Bool(false)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sshOpen builds a public subnet with an instance whose security group
// admits SSH from anywhere (moto gives it a public address in real internet
// space: the tests never probe).
func sshOpen(t *testing.T, c *ec2.Client, region string) {
	t.Helper()
	mototest.SSHInstance(t, c, region, "10.42.0.0/16", "ssh-world", "")
}
