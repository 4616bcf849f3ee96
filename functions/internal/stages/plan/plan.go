// Package plan is the plan stage of Portcullis's serverless audit: it lists
// the work items of a run. It links the AWS Organizations and EC2 clients
// and nothing of the audit, so the plan function stays small.
package plan

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	awsprov "github.com/portcullis-sec/portcullis/providers/aws"
)

// Environment variables of the plan function.
const (
	EnvAccounts           = "ACCOUNTS"            // AWS accounts; empty = every ACTIVE account of the organization
	EnvExcludeAccounts    = "EXCLUDE_ACCOUNTS"    // AWS accounts never audited
	EnvRegions            = "REGIONS"             // AWS regions; empty = the regions enabled in this account
	EnvGCPProjects        = "GCP_PROJECTS"        // GCP project IDs, one work item each
	EnvAzureSubscriptions = "AZURE_SUBSCRIPTIONS" // Azure subscription IDs, one work item each
	EnvMaxConcurrency     = "MAX_CONCURRENCY"     // collect tasks at once (the Map's MaxConcurrency)
)

// PlanOutput tells the state machine where the work items are (the
// distributed Map reads them from S3 with ItemReader, so an organization of
// any size stays under Step Functions' 256 KiB payload limit).
type PlanOutput struct {
	RunID    string `json:"runId"`
	Bucket   string `json:"bucket"`
	ItemsKey string `json:"itemsKey"`
	// MapPrefix is where the Map writes its results (ResultWriter).
	MapPrefix      string `json:"mapPrefix"`
	Items          int    `json:"items"`
	Accounts       int    `json:"accounts"`
	Regions        int    `json:"regions"`
	MaxConcurrency int    `json:"maxConcurrency"`
}

// Plan lists the work items of a run.
type Plan struct {
	*base.Base
	accounts, exclude, regions []string
	projects, subscriptions    []string
	maxConcurrency             int
	org                        *organizations.Client
	ec2                        *ec2.Client
}

// NewPlan configures the plan stage from env.
func NewPlan(b *base.Base, env base.Env) (*Plan, error) {
	mc, err := base.IntVar(env, EnvMaxConcurrency, 40)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Base: b, accounts: base.List(env(EnvAccounts)), exclude: base.List(env(EnvExcludeAccounts)), regions: base.List(env(EnvRegions)),
		projects: base.List(env(EnvGCPProjects)), subscriptions: base.List(env(EnvAzureSubscriptions)), maxConcurrency: mc,
		org: organizations.NewFromConfig(b.AWS), ec2: ec2.NewFromConfig(b.AWS),
	}
	// Configured identifiers are checked once, at cold start, so a typo
	// fails the deployment's first run loudly instead of producing
	// nonsense keys.
	for _, a := range p.accounts {
		if err := (runstore.Item{Provider: exposure.ProviderAWS, Account: a, Region: "us-east-1"}).Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvAccounts, err)
		}
	}
	for _, r := range p.regions {
		if err := (runstore.Item{Provider: exposure.ProviderAWS, Account: "000000000000", Region: r}).Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvRegions, err)
		}
	}
	for _, pr := range p.projects {
		if err := (runstore.Item{Provider: exposure.ProviderGCP, Account: pr}).Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvGCPProjects, err)
		}
	}
	for _, s := range p.subscriptions {
		if err := (runstore.Item{Provider: exposure.ProviderAzure, Account: s}).Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvAzureSubscriptions, err)
		}
	}
	return p, nil
}

// Handle lists accounts × regions (plus the GCP projects and Azure
// subscriptions), writes them to runs/<run-id>/plan.json and says where.
// A run started without a runId (by hand) gets one from the clock.
func (p *Plan) Handle(ctx context.Context, in base.RunInput) (PlanOutput, error) {
	if in.RunID == "" {
		in.RunID = "manual-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return PlanOutput{}, err
	}
	log := p.InvocationLog(ctx, "runId", in.RunID)
	ctx, cancel := base.WithMargin(ctx)
	defer cancel()

	accounts := p.accounts
	if len(accounts) == 0 {
		var err error
		// The same listing as `portcullis audit --org` (ACTIVE accounts only).
		if accounts, err = awsprov.ListAccounts(ctx, p.org, nil); err != nil {
			return PlanOutput{}, err
		}
	}
	accounts = slices.DeleteFunc(slices.Clone(accounts), func(a string) bool { return slices.Contains(p.exclude, a) })
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	regions := p.regions
	if len(regions) == 0 {
		var err error
		if regions, err = p.enabledRegions(ctx); err != nil {
			return PlanOutput{}, err
		}
	}
	regions = slices.Clone(regions)
	slices.Sort(regions)
	regions = slices.Compact(regions)

	items := make([]runstore.Item, 0, len(accounts)*len(regions)+len(p.projects)+len(p.subscriptions))
	for _, a := range accounts {
		for _, r := range regions {
			items = append(items, runstore.Item{Provider: exposure.ProviderAWS, Account: a, Region: r})
		}
	}
	for _, pr := range p.projects {
		items = append(items, runstore.Item{Provider: exposure.ProviderGCP, Account: pr})
	}
	for _, s := range p.subscriptions {
		items = append(items, runstore.Item{Provider: exposure.ProviderAzure, Account: s})
	}
	for _, it := range items {
		if err := it.Validate(); err != nil {
			return PlanOutput{}, err
		}
	}
	key, err := p.Store.PutPlan(ctx, in.RunID, items)
	if err != nil {
		return PlanOutput{}, fmt.Errorf("write plan: %w", err)
	}
	log.Info("planned run", "items", len(items), "accounts", len(accounts), "regions", len(regions),
		"gcpProjects", len(p.projects), "azureSubscriptions", len(p.subscriptions))
	return PlanOutput{
		RunID: in.RunID, Bucket: p.Store.Bucket(), ItemsKey: key, MapPrefix: runstore.Key(in.RunID, runstore.MapResultsDir),
		Items: len(items), Accounts: len(accounts), Regions: len(regions), MaxConcurrency: p.maxConcurrency,
	}, nil
}

// enabledRegions lists the regions enabled for this (the audit) account:
// DescribeRegions without AllRegions omits opt-in regions not opted into.
// A member account with fewer regions enabled reports those as errors.
func (p *Plan) enabledRegions(ctx context.Context) ([]string, error) {
	out, err := p.ec2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, fmt.Errorf("list enabled regions: %w", err)
	}
	regions := make([]string, 0, len(out.Regions))
	for _, r := range out.Regions {
		regions = append(regions, aws.ToString(r.RegionName))
	}
	return regions, nil
}
