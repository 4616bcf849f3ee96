package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// DefaultMemberRole is the read-only role infra/member-role.yaml deploys in
// every member account (its MemberRoleName parameter's default).
const DefaultMemberRole = "PortcullisAudit"

// Org configures an organization-wide audit: every ACTIVE account of the
// AWS Organization the caller manages (or is a delegated administrator
// of), each read through its member role, the caller's own account through
// the caller's own credentials.
type Org struct {
	// RoleName is the member role (an IAM role name, optionally with a
	// path: "audit/PortcullisAudit"); empty means DefaultMemberRole.
	RoleName string
	// ExternalID is the sts:ExternalId the member role's trust policy
	// requires (infra/member-role.yaml ExternalId).
	ExternalID string
	// Accounts, when set, narrows the audit to these accounts; one that is
	// not an ACTIVE account of the organization (or of OUs) is an error.
	Accounts []string
	// OUs, when set, narrows the audit to the accounts under these
	// organizational units or roots, at any depth.
	OUs []string
	// ExcludeAccounts are never audited.
	ExcludeAccounts []string
	// AccountConcurrency is how many accounts are collected at once;
	// 0 means 4. Config.Concurrency bounds the account-regions in flight
	// across all of them.
	AccountConcurrency int
	// AccountRate is the most API requests per second sent to one account
	// (every region together, retries included); 0 means
	// DefaultAccountRate, negative means no limit.
	AccountRate float64
}

// DefaultAccountRate is EC2's refill rate for non-mutating actions (20 per
// second, bucket of 100), which AWS applies per account and region:
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html.
// Holding a whole account to one region's refill rate leaves the rest of
// the account's budget to its own workloads; the SDK's adaptive retry mode
// absorbs what throttling remains.
const DefaultAccountRate = 20

// OrgPermissions lists the IAM actions an organization-wide audit needs
// beyond Permissions. They are the caller's (the management or delegated
// administrator account's), never the member role's: the member role
// grants exactly Permissions.
var OrgPermissions = []string{
	"organizations:ListAccounts",
	"organizations:ListAccountsForParent",
	"organizations:ListOrganizationalUnitsForParent",
	"sts:AssumeRole",
	"sts:GetCallerIdentity",
}

// Identifier shapes, from the Organizations API reference
// (https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccountsForParent.html)
// and IAM's role names with an optional path
// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
var (
	accountIDPattern = regexp.MustCompile(`^\d{12}$`)
	parentIDPattern  = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
	roleNamePattern  = regexp.MustCompile(`^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
)

// Validate checks the identifiers of an organization-wide audit, so a typo
// fails before any call.
func (o Org) Validate() error {
	if o.RoleName != "" && (!roleNamePattern.MatchString(strings.TrimPrefix(o.RoleName, "/")) || len(o.RoleName) > 512) {
		return fmt.Errorf("member role %q is not an IAM role name (with an optional path)", o.RoleName)
	}
	for _, a := range append(slices.Clone(o.Accounts), o.ExcludeAccounts...) {
		if !accountIDPattern.MatchString(a) {
			return fmt.Errorf("account %q is not a 12-digit AWS account ID", a)
		}
	}
	for _, ou := range o.OUs {
		if !parentIDPattern.MatchString(ou) {
			return fmt.Errorf("%q is not an organizational unit (ou-…) or root (r-…) ID", ou)
		}
	}
	return nil
}

// OrganizationsAPI is what listing accounts needs of an Organizations
// client.
type OrganizationsAPI interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
}

// ListAccounts lists the ACTIVE accounts of the organization, sorted, or
// with parents only those under these OUs or roots, at any depth
// (ListAccountsForParent and ListOrganizationalUnitsForParent through the
// tree). Suspended accounts and accounts pending closure cannot be assumed
// into and are left out.
// https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html
func ListAccounts(ctx context.Context, client OrganizationsAPI, parents []string) ([]string, error) {
	var out []string
	keep := func(accounts []orgtypes.Account) {
		for _, a := range accounts {
			if active(a) {
				out = append(out, aws.ToString(a.Id))
			}
		}
	}
	if len(parents) == 0 {
		p := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list organization accounts: %w", err)
			}
			keep(page.Accounts)
		}
	}
	// Breadth first; seen guards against listing a subtree twice when both
	// an OU and one of its ancestors are named.
	queue, seen := slices.Clone(parents), map[string]bool{}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		if seen[parent] {
			continue
		}
		seen[parent] = true
		ap := organizations.NewListAccountsForParentPaginator(client, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list accounts of %s: %w", parent, err)
			}
			keep(page.Accounts)
		}
		op := organizations.NewListOrganizationalUnitsForParentPaginator(client, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		for op.HasMorePages() {
			page, err := op.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list organizational units of %s: %w", parent, err)
			}
			for _, ou := range page.OrganizationalUnits {
				queue = append(queue, aws.ToString(ou.Id))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// active prefers State, which replaces Status (retired September 2026).
func active(a orgtypes.Account) bool {
	if a.State != "" {
		return a.State == orgtypes.AccountStateActive
	}
	return a.Status == orgtypes.AccountStatusActive
}

// orgCollector collects every selected account of an organization.
type orgCollector struct {
	*collector
	org Org
}

func newOrgCollector(c *collector, org Org) (*orgCollector, error) {
	if err := org.Validate(); err != nil {
		return nil, err
	}
	org.RoleName = strings.TrimPrefix(org.RoleName, "/")
	if org.RoleName == "" {
		org.RoleName = DefaultMemberRole
	}
	if org.AccountConcurrency <= 0 {
		org.AccountConcurrency = 4
	}
	if org.AccountRate == 0 {
		org.AccountRate = DefaultAccountRate
	}
	return &orgCollector{collector: c, org: org}, nil
}

// Collect lists the organization's accounts and collects each one's
// regions. An account whose role cannot be assumed is one error naming the
// account and the cause, and the others complete; the error return is for
// what stops everything (the organization cannot be listed, no account
// could be collected).
func (o *orgCollector) Collect(ctx context.Context, snap *providers.Snapshot, progress providers.Progress) error {
	if progress == nil {
		progress = providers.NoProgress{}
	}
	ident, err := sts.NewFromConfig(o.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("get caller identity: %w", err)
	}
	caller := aws.ToString(ident.Account)
	partition := "aws"
	if a, err := arn.Parse(aws.ToString(ident.Arn)); err == nil {
		partition = a.Partition
	}
	listed, err := ListAccounts(ctx, organizations.NewFromConfig(o.base), o.org.OUs)
	if err != nil {
		return err
	}
	accounts := listed
	if len(o.org.Accounts) > 0 {
		accounts = nil
		for _, a := range o.org.Accounts {
			if _, found := slices.BinarySearch(listed, a); !found {
				where := "the organization"
				if len(o.org.OUs) > 0 {
					where = "organizational units " + strings.Join(o.org.OUs, ", ")
				}
				snap.AddError(exposure.Error{Scope: exposure.Scope{Provider: providerName, Account: a}, Stage: "collect",
					Message: "not an ACTIVE account of " + where + ": not audited"})
				continue
			}
			accounts = append(accounts, a)
		}
		slices.Sort(accounts)
		accounts = slices.Compact(accounts)
	}
	accounts = slices.DeleteFunc(accounts, func(a string) bool { return slices.Contains(o.org.ExcludeAccounts, a) })
	if len(accounts) == 0 {
		return fmt.Errorf("no account to audit: the organization lists %d ACTIVE accounts and none is selected", len(listed))
	}
	o.log.DebugContext(ctx, "auditing aws organization", "accounts", len(accounts), "listed", len(listed), "caller", caller)

	// regions bounds the account-regions in flight across every account;
	// accountGroup bounds the accounts, each with its own credentials and
	// rate limiter, that feed it.
	var regions, accountGroup errgroup.Group
	regions.SetLimit(o.cfg.Concurrency)
	accountGroup.SetLimit(o.org.AccountConcurrency)
	var collected atomic.Int32
	for _, account := range accounts {
		accountGroup.Go(func() error {
			if o.collectMember(ctx, snap, progress, &regions, account, caller, partition) {
				collected.Add(1)
			}
			return nil
		})
	}
	_ = accountGroup.Wait()
	_ = regions.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if collected.Load() == 0 {
		return errors.New("no account of the organization could be collected")
	}
	return nil
}

// collectMember collects one account and reports whether it could be read
// at all; failures are recorded in snap.
func (o *orgCollector) collectMember(ctx context.Context, snap *providers.Snapshot, progress providers.Progress, regions *errgroup.Group, account, caller, partition string) bool {
	scope := exposure.Scope{Provider: providerName, Account: account}
	cfg := o.base.Copy()
	if account != caller {
		// The caller's own account is read with its own credentials: the
		// management account need not trust itself through a member role
		// (StackSets do not deploy to it).
		roleARN := "arn:" + partition + ":iam::" + account + ":role/" + o.org.RoleName
		ext := o.org.ExternalID
		creds := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(o.base), roleARN,
			func(ao *stscreds.AssumeRoleOptions) {
				ao.RoleSessionName = "portcullis"
				if ext != "" {
					ao.ExternalID = aws.String(ext)
				}
			}))
		// Assuming once up front makes a denied role one error for the
		// account rather than one per region and API.
		if _, err := creds.Retrieve(ctx); err != nil {
			snap.AddError(exposure.Error{Scope: scope, Stage: "collect", Resource: "sts:AssumeRole",
				Message: "assume role " + roleARN + ", account skipped: " + err.Error()})
			return false
		}
		cfg.Credentials = creds
	}
	if o.org.AccountRate > 0 {
		cfg.APIOptions = append(slices.Clone(cfg.APIOptions), rateLimit(rate.NewLimiter(rate.Limit(o.org.AccountRate), max(1, int(o.org.AccountRate)))))
	}
	member := &collector{cfg: o.cfg, base: cfg, log: o.log}
	if err := member.collectAccount(ctx, snap, progress, regions, account); err != nil {
		if ctx.Err() == nil {
			snap.AddError(exposure.Error{Scope: scope, Stage: "collect", Message: err.Error() + ", account skipped"})
		}
		return false
	}
	return true
}

// rateLimit holds every request attempt (after the retry middleware, so
// retries count too) to limiter.
func rateLimit(limiter *rate.Limiter) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("portcullisAccountRate",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := limiter.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wait for the account's request rate: %w", err)
				}
				return next.HandleFinalize(ctx, in)
			}), "Retry", middleware.After)
	}
}
