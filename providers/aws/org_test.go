package aws

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/providers"
)

// orgRegions are regions no other test of this package seeds, so the
// management account's VPCs there are only this test's.
var orgRegions = []string{"ca-central-1", "eu-north-1"}

// inflight tracks what a proxy sees in flight: account-regions and
// accounts, and the most of each at once, for EC2 and ELB requests.
type inflight struct {
	mu                    sync.Mutex
	units, accounts       map[string]int
	maxUnits, maxAccounts int
	requests              map[string]int // per account, every service
	assumed               []string       // role ARNs assumed, with " " and the external ID
}

func (f *inflight) observe(r mototest.Request) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Account]++
	if r.RoleARN != "" {
		f.assumed = append(f.assumed, r.RoleARN+" "+r.ExternalID)
	}
	if r.Service != "ec2" && r.Service != "elasticloadbalancing" {
		return func() {}
	}
	unit := r.Account + "/" + r.Region
	f.units[unit]++
	f.accounts[r.Account]++
	f.maxUnits = max(f.maxUnits, len(f.units))
	f.maxAccounts = max(f.maxAccounts, len(f.accounts))
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.units[unit]--; f.units[unit] == 0 {
			delete(f.units, unit)
		}
		if f.accounts[r.Account]--; f.accounts[r.Account] == 0 {
			delete(f.accounts, r.Account)
		}
	}
}

// TestOrganization audits a small organization on moto: the management
// account, prod (OU workloads), staging and denied (OU workloads/inner),
// and a closed account. denied's role cannot be assumed (a proxy answers
// AccessDenied, see mototest.Proxy); every other account × region is
// collected with that account's own credentials.
func TestOrganization(t *testing.T) {
	org := mototest.NewOrganization(t, motoURL, []mototest.OrgAccount{
		{Name: "prod", OU: "workloads"}, {Name: "staging", OU: "workloads/inner"},
		{Name: "denied", OU: "workloads/inner"}, {Name: "closed", OU: "workloads"},
	})
	org.Close(t, "closed")
	mgmt, prod, staging, denied, closed := motoAccount, org.Accounts["prod"], org.Accounts["staging"], org.Accounts["denied"], org.Accounts["closed"]

	// One VPC per account-region, with a CIDR that says whose it is.
	cidr := map[string]string{}
	for i, a := range []string{mgmt, prod, staging, denied} {
		for j, region := range orgRegions {
			cfg := mototest.Config(motoURL)
			if a != mgmt {
				cfg = org.In(t, a, region)
			}
			cfg.Region = region
			c := fmt.Sprintf("10.%d.0.0/16", 160+10*i+j)
			if _, err := ec2.NewFromConfig(cfg).CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String(c)}); err != nil {
				t.Fatal(err)
			}
			cidr[a+"/"+region] = c
		}
	}

	deniedError := exposure.Error{Scope: exposure.Scope{Provider: "aws", Account: denied}, Stage: "collect", Resource: "sts:AssumeRole"}
	notMember := func(a, where string) exposure.Error {
		return exposure.Error{Scope: exposure.Scope{Provider: "aws", Account: a}, Stage: "collect",
			Message: "not an ACTIVE account of " + where + ": not audited"}
	}
	tests := []struct {
		name          string
		org           Org
		concurrency   int
		want          []string         // accounts collected
		wantErrors    []exposure.Error // Message empty: checked by wantCause
		wantCollect   string           // Collect's error, "" for none
		maxAccounts   int              // most accounts in flight, 0 = not checked
		maxUnits      int              // most account-regions in flight
		wantCallsFrom []string
	}{
		{name: "whole organization", org: Org{AccountConcurrency: 1}, concurrency: 4,
			want: []string{mgmt, prod, staging}, wantErrors: []exposure.Error{deniedError}, maxAccounts: 1, maxUnits: 2},
		{name: "accounts filter names a non-member and a closed account", org: Org{Accounts: []string{prod, "999999999999", closed}, AccountConcurrency: 2}, concurrency: 3,
			want: []string{prod}, wantErrors: []exposure.Error{notMember("999999999999", "the organization"), notMember(closed, "the organization")}, maxAccounts: 1, maxUnits: 2},
		{name: "exclude", org: Org{ExcludeAccounts: []string{mgmt, denied}, AccountConcurrency: 2}, concurrency: 3,
			want: []string{prod, staging}, maxAccounts: 2, maxUnits: 3},
		{name: "OU at any depth leaves out the management account", org: Org{OUs: []string{org.OUs["workloads"]}},
			want: []string{prod, staging}, wantErrors: []exposure.Error{deniedError}},
		{name: "nested OU and its parent", org: Org{OUs: []string{org.OUs["workloads/inner"], org.OUs["workloads"]}, ExcludeAccounts: []string{denied}},
			want: []string{prod, staging}},
		{name: "inner OU only, role with a path and an external ID", org: Org{OUs: []string{org.OUs["workloads/inner"]}, ExcludeAccounts: []string{denied}, RoleName: "audit/Portcullis", ExternalID: "ext-1"},
			want: []string{staging}},
		{name: "account outside the OUs: nothing selected", org: Org{OUs: []string{org.OUs["workloads/inner"]}, Accounts: []string{prod}},
			wantErrors: []exposure.Error{notMember(prod, "organizational units "+org.OUs["workloads/inner"])}, wantCollect: "no account to audit"},
		{name: "only the denied account", org: Org{Accounts: []string{denied}},
			wantErrors: []exposure.Error{deniedError}, wantCollect: "no account of the organization could be collected"},
		{name: "root as parent", org: Org{OUs: []string{org.Root}, Accounts: []string{mgmt}},
			want: []string{mgmt}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := &inflight{units: map[string]int{}, accounts: map[string]int{}, requests: map[string]int{}}
			proxy := mototest.NewProxy(t, motoURL, []string{denied}, seen.observe)
			o := tc.org
			c, err := NewCollector(context.Background(), Config{Regions: orgRegions, Endpoint: proxy.URL, Org: &o, Concurrency: tc.concurrency})
			if err != nil {
				t.Fatal(err)
			}
			snap := providers.NewSnapshot()
			var progress countingProgress
			err = c.Collect(context.Background(), snap, &progress)
			switch {
			case tc.wantCollect == "" && err != nil:
				t.Fatalf("Collect: %v", err)
			case tc.wantCollect != "" && (err == nil || !strings.Contains(err.Error(), tc.wantCollect)):
				t.Fatalf("Collect: %v, want an error saying %q", err, tc.wantCollect)
			}
			if got, want := collectedAccounts(snap), slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
				t.Errorf("collected accounts %v, want %v", got, want)
			}
			for _, role := range seen.assumed {
				if strings.Contains(role, "::"+mgmt+":") {
					t.Errorf("assumed %s: the management account is read with its own credentials", role)
				}
				if strings.Contains(role, "::"+closed+":") {
					t.Errorf("assumed %s: the closed account is not ACTIVE", role)
				}
				if !strings.HasSuffix(role, ":role/"+cmp.Or(tc.org.RoleName, "PortcullisAudit")+" "+tc.org.ExternalID) {
					t.Errorf("assumed %q, not the member role with the external ID", role)
				}
			}
			if n := int(progress.done.Load()); n != len(tc.want)*len(orgRegions) || int(progress.added.Load()) != n {
				t.Errorf("progress added %d done %d, want %d", progress.added.Load(), n, len(tc.want)*len(orgRegions))
			}
			for _, a := range tc.want {
				for _, region := range orgRegions {
					own := vpcCIDRs(t, snap, a, region)
					if !slices.Contains(own, cidr[a+"/"+region]) {
						t.Errorf("%s %s: VPCs %v lack the account's own %s", a, region, own, cidr[a+"/"+region])
					}
					for other, c := range cidr {
						if other != a+"/"+region && slices.Contains(own, c) {
							t.Errorf("%s %s: VPCs %v hold %s's %s: collected with the wrong credentials", a, region, own, other, c)
						}
					}
				}
			}
			errs := snap.Errors()
			if len(errs) != len(tc.wantErrors) {
				t.Fatalf("errors %v, want %d: %v", errs, len(tc.wantErrors), tc.wantErrors)
			}
			sort.Slice(errs, func(i, j int) bool { return errs[i].Account < errs[j].Account })
			want := slices.Clone(tc.wantErrors)
			sort.Slice(want, func(i, j int) bool { return want[i].Account < want[j].Account })
			for i, e := range errs {
				w := want[i]
				if w.Message == "" {
					// The denied account: one error naming the role and STS's cause.
					if !strings.Contains(e.Message, "arn:aws:iam::"+denied+":role/PortcullisAudit") || !strings.Contains(e.Message, "AccessDenied") {
						t.Errorf("error %q does not name the role and the cause", e.Message)
					}
					w.Message = e.Message
				}
				if e != w {
					t.Errorf("error %+v, want %+v", e, w)
				}
			}
			if tc.maxAccounts > 0 && seen.maxAccounts > tc.maxAccounts {
				t.Errorf("%d accounts in flight at once, limit %d", seen.maxAccounts, tc.maxAccounts)
			}
			if tc.maxUnits > 0 && seen.maxUnits > tc.maxUnits {
				t.Errorf("%d account-regions in flight at once, limit %d", seen.maxUnits, tc.maxUnits)
			}
			if seen.requests[closed] > 0 {
				t.Errorf("%d requests sent with the closed account's credentials", seen.requests[closed])
			}
		})
	}

	t.Run("permissions", func(t *testing.T) {
		// The management account is left out (its own calls are the
		// collector's, which TestPermissions checks); what remains is the
		// organization listing and the member roles.
		var mu sync.Mutex
		called := map[string]bool{}
		for _, o := range []Org{{ExcludeAccounts: []string{mgmt}}, {OUs: []string{org.OUs["workloads"]}}} {
			proxy := mototest.NewProxy(t, motoURL, []string{denied}, nil)
			c, err := NewCollector(context.Background(), Config{Regions: orgRegions[:1], Endpoint: proxy.URL, Org: &o,
				onCall: func(a string) { mu.Lock(); called[a] = true; mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Collect(context.Background(), providers.NewSnapshot(), nil); err != nil {
				t.Fatal(err)
			}
		}
		var org []string
		for a := range called {
			switch {
			case slices.Contains(OrgPermissions, a):
				org = append(org, a)
			case !slices.Contains(Permissions, a):
				t.Errorf("%s is in neither Permissions nor OrgPermissions", a)
			}
		}
		sort.Strings(org)
		if want := slices.Sorted(slices.Values(OrgPermissions)); !slices.Equal(org, want) {
			t.Errorf("organization calls %v, OrgPermissions %v", org, want)
		}
	})

	t.Run("account rate", func(t *testing.T) {
		// A lower bound only: a limiter that works can never make this
		// fail, and without one moto answers the ~30 calls in far less.
		seen := &inflight{units: map[string]int{}, accounts: map[string]int{}, requests: map[string]int{}}
		proxy := mototest.NewProxy(t, motoURL, nil, seen.observe)
		const perSecond = 10
		c, err := NewCollector(context.Background(), Config{Regions: orgRegions, Endpoint: proxy.URL,
			Org: &Org{Accounts: []string{prod}, AccountRate: perSecond}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Collect(context.Background(), providers.NewSnapshot(), nil); err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		n := seen.requests[prod]
		if floor := time.Duration(float64(n-perSecond)/perSecond*float64(time.Second)) - 100*time.Millisecond; n <= perSecond || elapsed < floor {
			t.Errorf("%d requests to %s in %v at %d per second (burst %d): want at least %v", n, prod, elapsed, perSecond, perSecond, floor)
		}
	})

	t.Run("bad identifiers", func(t *testing.T) {
		for _, o := range []Org{{Accounts: []string{"12345"}}, {ExcludeAccounts: []string{"x"}}, {OUs: []string{"ou-nope"}}, {RoleName: "bad role"}} {
			if _, err := NewCollector(context.Background(), Config{Endpoint: motoURL, Org: &o}); err == nil {
				t.Errorf("%+v accepted", o)
			}
		}
	})
}

// collectedAccounts lists the accounts whose identity file the snapshot
// holds.
func collectedAccounts(snap *providers.Snapshot) []string {
	var out []string
	for _, n := range snap.Names() {
		if f := strings.Split(n, "/"); len(f) == 3 && f[0] == providerName && f[2] == "sts-get-caller-identity.json" {
			out = append(out, f[1])
		}
	}
	sort.Strings(out)
	return out
}

func vpcCIDRs(t *testing.T, snap *providers.Snapshot, account, region string) []string {
	t.Helper()
	b, err := fs.ReadFile(snap.FS(), path.Join(providerName, account, region, "ec2-describe-vpcs.json"))
	if err != nil {
		t.Fatalf("%s %s: %v", account, region, err)
	}
	var doc struct{ Vpcs []struct{ CidrBlock string } }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range doc.Vpcs {
		out = append(out, v.CidrBlock)
	}
	return out
}
