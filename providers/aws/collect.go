package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

type collector struct {
	cfg  Config
	base aws.Config
	log  *slog.Logger
}

// NewCollector loads credentials through the standard chain (environment,
// shared config and SSO, web identity, container and instance roles) and
// returns a collector. The SDK's adaptive retry mode absorbs throttling.
func NewCollector(ctx context.Context, cfg Config) (providers.Collector, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryMode(aws.RetryModeAdaptive),
		config.WithRetryMaxAttempts(6),
		config.WithLogger(sdkLogger{log}),
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
	}
	base, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws configuration: %w", err)
	}
	if base.Region == "" {
		// Global calls (sts, DescribeRegions) need some region.
		base.Region = "us-east-1"
		if len(cfg.Regions) > 0 {
			base.Region = cfg.Regions[0]
		}
	}
	if cfg.onCall != nil {
		base.APIOptions = append(base.APIOptions, recordCalls(cfg.onCall))
	}
	if cfg.maxBackoff > 0 {
		base.Retryer = func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = 6
					so.MaxBackoff = cfg.maxBackoff
				})
			})
		}
	}
	if cfg.RoleARN != "" {
		ext := cfg.ExternalID
		base.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), cfg.RoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "portcullis"
				if ext != "" {
					o.ExternalID = aws.String(ext)
				}
			}))
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	c := &collector{cfg: cfg, base: base, log: log}
	if cfg.Org != nil {
		return newOrgCollector(c, *cfg.Org)
	}
	return c, nil
}

// sdkLogger routes the SDK's own log lines into slog at debug level. By
// default the SDK prints them to stderr itself, and an interrupted or reset
// response prints "failed to discard remaining HTTP response body" there,
// whatever the CLI's -v. What they report is the SDK's connection reuse: a
// call that fails comes back as an error, recorded in the snapshot.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "source", "aws-sdk", "sdkLevel", string(c))
}

// recordCalls reports every operation invoked, as an IAM action.
func recordCalls(onCall func(string)) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("portcullisRecordCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				onCall(iamAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)))
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// iamAction maps an SDK service ID and operation to the IAM action that
// authorizes it. Classic ELB and ELBv2 share the elasticloadbalancing prefix.
func iamAction(serviceID, op string) string {
	prefix := map[string]string{
		"EC2":                       "ec2",
		"STS":                       "sts",
		"Organizations":             "organizations",
		"Elastic Load Balancing":    "elasticloadbalancing",
		"Elastic Load Balancing v2": "elasticloadbalancing",
	}[serviceID]
	if prefix == "" {
		prefix = serviceID
	}
	return prefix + ":" + op
}

// Collect writes every enabled (or configured) region of the account into
// snap. A region or API that fails is recorded with snap.AddError and the
// rest completes; the error return is for failures that stop everything.
func (c *collector) Collect(ctx context.Context, snap *providers.Snapshot, progress providers.Progress) error {
	if progress == nil {
		progress = providers.NoProgress{}
	}
	var regions errgroup.Group
	regions.SetLimit(c.cfg.Concurrency)
	return c.collectAccount(ctx, snap, progress, &regions, "")
}

// collectAccount collects the account c's credentials read, one region at a
// time on regions (which an organization-wide audit shares between
// accounts), and returns when all its regions are done. want, when set, is
// the account the credentials must belong to.
func (c *collector) collectAccount(ctx context.Context, snap *providers.Snapshot, progress providers.Progress, regions *errgroup.Group, want string) error {
	ident, err := sts.NewFromConfig(c.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("get caller identity: %w", err)
	}
	account := aws.ToString(ident.Account)
	if want != "" && account != want {
		// Never file one account's resources under another's name.
		return fmt.Errorf("get caller identity: the credentials for account %s belong to account %s", want, account)
	}
	if err := putCLI(snap, path.Join(providerName, account, "sts-get-caller-identity.json"), map[string]any{
		"UserId": ident.UserId, "Account": ident.Account, "Arn": ident.Arn,
	}); err != nil {
		return err
	}
	names := c.cfg.Regions
	if len(names) == 0 {
		if names, err = c.enabledRegions(ctx); err != nil {
			return fmt.Errorf("list enabled regions of account %s: %w", account, err)
		}
	}
	progress.Add(len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		regions.Go(func() error {
			defer wg.Done()
			c.collectRegion(ctx, snap, account, name)
			progress.Done(providerName + " " + account + " " + name)
			return nil
		})
	}
	wg.Wait()
	return ctx.Err()
}

// enabledRegions lists the regions enabled for the account (opted-in and
// default ones; DescribeRegions without AllRegions leaves out disabled ones).
func (c *collector) enabledRegions(ctx context.Context) ([]string, error) {
	out, err := ec2.NewFromConfig(c.base).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range out.Regions {
		names = append(names, aws.ToString(r.RegionName))
	}
	sort.Strings(names)
	return names, nil
}

// regionCollector collects one account-region.
type regionCollector struct {
	ec2   *ec2.Client
	elbv2 *elbv2.Client
	elb   *elb.Client
	snap  *providers.Snapshot
	dir   string
	scope exposure.Scope

	mu   sync.Mutex
	gaps []collectGap
}

// fileCollectGaps lists, per region, the per-resource calls that failed
// (collectGap): what normalization must treat as unknown for that one
// resource, where the regional file cannot say it.
const fileCollectGaps = "collect-gaps.json"

// collectGap is one resource whose data could not be collected.
type collectGap struct {
	Action   string // the IAM action that failed
	Resource string // the resource it was called for (ARN)
	Message  string
}

// gap records a per-resource failure: an error naming the resource and
// what was lost, and a gap normalization reads. Collection goes on.
func (rc *regionCollector) gap(err error, resource, lost string) {
	action := ""
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		action = iamAction(oe.ServiceID, oe.OperationName)
	}
	rc.snap.AddError(exposure.Error{
		Scope: rc.scope, Stage: "collect", Resource: resource,
		Message: strings.TrimSpace(action+" "+lost) + ": " + err.Error(),
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gaps = append(rc.gaps, collectGap{Action: action, Resource: resource, Message: lost})
}

func (c *collector) collectRegion(ctx context.Context, snap *providers.Snapshot, account, name string) {
	rc := &regionCollector{
		ec2:   ec2.NewFromConfig(c.base, func(o *ec2.Options) { o.Region = name }),
		elbv2: elbv2.NewFromConfig(c.base, func(o *elbv2.Options) { o.Region = name }),
		elb:   elb.NewFromConfig(c.base, func(o *elb.Options) { o.Region = name }),
		snap:  snap,
		dir:   path.Join(providerName, account, name),
		scope: exposure.Scope{Provider: providerName, Account: account, Region: name},
	}
	// The first call doubles as a probe of the region: a disabled region,
	// missing permissions or an unreachable endpoint fail here and the
	// region is reported once instead of once per API.
	if err := rc.collectVPCs(ctx); err != nil {
		rc.fail(err, "collect region, skipped")
		return
	}
	families := []func(context.Context) error{
		rc.collectSubnets,
		rc.collectRouteTables,
		rc.collectInternetGateways,
		rc.collectEgressOnlyInternetGateways,
		rc.collectNATGateways,
		rc.collectNetworkACLs,
		rc.collectSecurityGroups,
		rc.collectPrefixLists,
		rc.collectNetworkInterfaces,
		rc.collectInstances,
		rc.collectAddresses,
		rc.collectLoadBalancers,
		rc.collectTargetGroups,
		rc.collectClassicLoadBalancers,
	}
	var g errgroup.Group
	g.SetLimit(4)
	for _, f := range families {
		g.Go(func() error {
			if err := f(ctx); err != nil {
				rc.fail(err, "collect")
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(rc.gaps) > 0 {
		sort.Slice(rc.gaps, func(i, j int) bool {
			return rc.gaps[i].Action+rc.gaps[i].Resource < rc.gaps[j].Action+rc.gaps[j].Resource
		})
		if err := rc.put(fileCollectGaps, map[string]any{"Gaps": rc.gaps}); err != nil {
			rc.fail(err, "store collection gaps")
		}
	}
	c.log.DebugContext(ctx, "collected aws region", "account", account, "region", name)
}

// fail records a partial failure naming the API that failed.
func (rc *regionCollector) fail(err error, what string) {
	resource := ""
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		resource = iamAction(oe.ServiceID, oe.OperationName)
	}
	rc.snap.AddError(exposure.Error{
		Scope: rc.scope, Stage: "collect", Resource: resource,
		Message: what + ": " + err.Error(),
	})
}

// put stores v in the region directory as the CLI would print it.
func (rc *regionCollector) put(name string, v any) error {
	return putCLI(rc.snap, path.Join(rc.dir, name), v)
}

// putCLI stores v as indented JSON without null members: the SDK's output
// structs carry no JSON tags, so encoding/json writes the API member names
// the CLI prints, plus nulls for absent members that the CLI leaves out.
func putCLI(snap *providers.Snapshot, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if err := snap.PutJSON(name, dropNulls(doc)); err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	return nil
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			// Absent members (nil pointers, unset enums) are left out,
			// as the CLI does.
			if e == nil || e == "" || k == "ResultMetadata" {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(e)
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}

// pages reads every page of a paginated AWS list call and returns the items
// of all pages in order; items picks them out of one page.
func pages[O, Opt, T any](ctx context.Context, more func() bool, next func(context.Context, ...func(*Opt)) (O, error), items func(O) []T) ([]T, error) {
	out := []T{}
	for more() {
		page, err := next(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, items(page)...)
	}
	return out, nil
}
