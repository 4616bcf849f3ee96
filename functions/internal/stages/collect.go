package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/unitstore"
	"github.com/portcullis-sec/portcullis/providers"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/providers/azure"
	"github.com/portcullis-sec/portcullis/providers/gcp"
)

// Environment variables of the collect function.
const (
	EnvMemberRoleName   = "MEMBER_ROLE_NAME"  // the read-only role in every member account (infra/member-role.yaml)
	EnvExternalID       = "EXTERNAL_ID"       // sts:ExternalId the member role's trust policy requires
	EnvGCPCredentials   = "GCP_CREDENTIALS"   // credential reference (ssm:… or secretsmanager:…)
	EnvAzureCredentials = "AZURE_CREDENTIALS" //nolint:gosec // G101: an environment variable name; its value is a credential reference (ssm:… or secretsmanager:…), not a secret
)

// CollectInput is one item of the distributed Map.
type CollectInput struct {
	RunID string        `json:"runId"`
	Item  runstore.Item `json:"item"`
}

// CollectOutput is what the Map keeps of one item (written to S3 by its
// ResultWriter).
type CollectOutput struct {
	RunID  string        `json:"runId"`
	Item   runstore.Item `json:"item"`
	Files  int           `json:"files"`
	Errors int           `json:"errors"`
}

// Collect reads one account-region (or project, or subscription) into the
// run's snapshot.
type Collect struct {
	*Base
	memberRole string
	externalID string
	gcpCreds   credentialRef
	azureCreds credentialRef
}

// IAM role names (1-64 of [\w+=,.@-]) with an optional path:
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html
var roleName = regexp.MustCompile(`^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)

// NewCollect configures the collect stage from env.
func NewCollect(b *Base, env Env) (*Collect, error) {
	c := &Collect{
		Base: b, memberRole: strings.TrimSpace(env(EnvMemberRoleName)), externalID: env(EnvExternalID),
		gcpCreds: credentialRef(strings.TrimSpace(env(EnvGCPCredentials))), azureCreds: credentialRef(strings.TrimSpace(env(EnvAzureCredentials))),
	}
	if c.memberRole == "" {
		return nil, fmt.Errorf("%s is not set: the collect function only reads member accounts through their audit role", EnvMemberRoleName)
	}
	c.memberRole = strings.TrimPrefix(c.memberRole, "/")
	if !roleName.MatchString(c.memberRole) || len(c.memberRole) > 512 {
		return nil, fmt.Errorf("%s=%q is not an IAM role name (with an optional path)", EnvMemberRoleName, c.memberRole)
	}
	if err := c.gcpCreds.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvGCPCredentials, err)
	}
	if err := c.azureCreds.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvAzureCredentials, err)
	}
	return c, nil
}

// Handle collects one work item and writes its snapshot files and errors
// under runs/<run-id>/. A scope that cannot be read at all (the role cannot
// be assumed, the region is not enabled) is an error recorded for the
// report, not a failed task; the task fails only when S3 cannot be written,
// which Step Functions retries.
func (c *Collect) Handle(ctx context.Context, in CollectInput) (CollectOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return CollectOutput{}, err
	}
	if err := in.Item.Validate(); err != nil {
		return CollectOutput{}, err
	}
	log := c.InvocationLog(ctx, "runId", in.RunID, "provider", in.Item.Provider, "account", in.Item.Account, "region", in.Item.Region)
	cctx, cancel := withMargin(ctx)
	defer cancel()

	snap := c.collect(cctx, in.Item, log)
	// Writes use the invocation's own deadline, past the margin kept for them.
	n, errs, err := c.Store.PutSnapshot(ctx, in.RunID, in.Item, snap)
	if err != nil {
		return CollectOutput{}, fmt.Errorf("write snapshot of %s: %w", in.Item, err)
	}
	// The unit's own audit, up to the rules, for the report stage to merge
	// (audit.AnalyzeUnit): the snapshot stays for the probe stage and for
	// offline re-audits.
	usnap, err := unitstore.Snapshot(in.Item, snap)
	if err != nil {
		return CollectOutput{}, err
	}
	u, err := audit.AnalyzeUnit(usnap, scopeOf(in.Item), log)
	if err != nil {
		return CollectOutput{}, fmt.Errorf("analyze %s: %w", in.Item, err)
	}
	size, err := unitstore.Put(ctx, c.Store, in.RunID, in.Item, u)
	if err != nil {
		return CollectOutput{}, fmt.Errorf("write unit result of %s: %w", in.Item, err)
	}
	log.Info("collected", "files", n, "errors", errs, "targets", u.Targets, "effective", len(u.Effective), "latent", len(u.Latent), "unitBytes", size)
	return CollectOutput{RunID: in.RunID, Item: in.Item, Files: n, Errors: errs}, nil
}

// collect reads one work item into a snapshot. What keeps the scope from
// being read (credentials that cannot be prepared, the role that cannot be
// assumed, the deadline) is an error in the snapshot: the scope is recorded
// as not audited and the rest of the run goes on.
func (c *Collect) collect(ctx context.Context, it runstore.Item, log *slog.Logger) *providers.Snapshot {
	o, err := c.options(ctx, it, log)
	if err != nil {
		log.Error("collect: credentials", "error", err)
		snap := providers.NewSnapshot()
		snap.AddError(exposure.Error{Scope: scopeOf(it), Stage: "collect", Message: err.Error()})
		return snap
	}
	snap, err := audit.Collect(ctx, o)
	switch {
	case snap == nil && err != nil:
		// Cancelled or past the deadline: nothing usable was kept.
		snap = providers.NewSnapshot()
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "collection did not finish before the function's timeout: raise the collect function's Timeout (" + msg + ")"
		}
		snap.AddError(exposure.Error{Scope: scopeOf(it), Stage: "collect", Message: msg})
	case err != nil:
		// ErrNothingAudited: the snapshot holds the reasons.
		log.Warn("collect: nothing collected", "error", err)
	}
	return snap
}

func scopeOf(it runstore.Item) exposure.Scope {
	return exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}
}

// options builds the audit options of one item.
func (c *Collect) options(ctx context.Context, it runstore.Item, log *slog.Logger) (audit.Options, error) {
	o := audit.Options{Providers: []string{it.Provider}, Version: c.Version, Logger: log}
	switch it.Provider {
	case exposure.ProviderAWS:
		o.AWS = aws.Config{
			Regions:     []string{it.Region},
			RoleARN:     c.roleARN(ctx, it.Account),
			ExternalID:  c.externalID,
			Concurrency: 1,
			Logger:      log,
		}
	case exposure.ProviderGCP:
		o.GCP = gcp.Config{Projects: []string{it.Account}, Concurrency: 1, Logger: log}
		if c.gcpCreds != "" {
			doc, err := c.gcpCreds.fetch(ctx, c.AWS)
			if err != nil {
				return o, err
			}
			opt, err := gcpCredentials(doc)
			if err != nil {
				return o, fmt.Errorf("%s: %w", c.gcpCreds, err)
			}
			o.GCP.ClientOptions = append(o.GCP.ClientOptions, opt)
		}
	case exposure.ProviderAzure:
		o.Azure = azure.Config{Subscriptions: []string{it.Account}, Concurrency: 1, Logger: log}
		if c.azureCreds != "" {
			doc, err := c.azureCreds.fetch(ctx, c.AWS)
			if err != nil {
				return o, err
			}
			ac, err := parseAzureCredentials(doc)
			if err != nil {
				return o, fmt.Errorf("%s: %w", c.azureCreds, err)
			}
			o.Azure.Cloud = ac.Cloud
			if o.Azure.Credential, err = azureCredential(c.AWS, ac); err != nil {
				return o, err
			}
		}
	default:
		// A provider in audit's table that this stage cannot configure yet.
		return o, fmt.Errorf("collect: the serverless collect stage has no configuration for provider %s", it.Provider)
	}
	log.Debug("collect options ready")
	return o, nil
}

// roleARN is the member role of account, in the partition the function
// runs in (aws, aws-cn, aws-us-gov), which its own ARN names.
func (c *Collect) roleARN(ctx context.Context, account string) string {
	partition := "aws"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		if f := strings.SplitN(lc.InvokedFunctionArn, ":", 3); len(f) == 3 && f[0] == "arn" && f[1] != "" {
			partition = f[1]
		}
	}
	return "arn:" + partition + ":iam::" + account + ":role/" + c.memberRole
}
