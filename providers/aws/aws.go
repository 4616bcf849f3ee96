// Package aws is Portcullis's AWS provider: it collects the EC2 and Elastic
// Load Balancing resources that decide what internet traffic reaches, per
// account and region, into a snapshot that holds exactly what the AWS CLI
// prints, and normalizes such a snapshot into an exposure.Inventory.
//
// See docs/providers/aws.md for the snapshot layout, the permissions and the
// path semantics.
package aws

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// providerName is the Scope.Provider of everything this package produces.
const providerName = exposure.ProviderAWS

// Config configures the AWS collector.
type Config struct {
	// Regions to audit; empty means every region enabled for the account
	// (ec2:DescribeRegions).
	Regions []string
	// Profile is the shared-config profile; empty uses the default
	// credential chain.
	Profile string
	// Concurrency is how many regions are collected at once; 0 means 8.
	Concurrency int
	// Endpoint overrides every service endpoint (a moto_server URL in
	// tests). AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> work too.
	Endpoint string
	// RoleARN, when set, is assumed (with ExternalID) before collecting:
	// the read-only member role of an organization-wide audit.
	RoleARN    string
	ExternalID string
	// Org, when set, audits every ACTIVE account of the AWS Organization
	// (or those it selects) instead of the caller's account alone; see
	// org.go. Concurrency then bounds the account-regions in flight across
	// all accounts.
	Org *Org
	// Logger receives debug logs; nil uses slog.Default().
	Logger *slog.Logger

	// onCall, when set, is told every API operation invoked (tests check
	// Permissions against it).
	onCall func(action string)
	// maxBackoff, when set, caps the retry backoff (the fault-injection
	// test keeps its retries short; the SDK's default cap is 20 s).
	maxBackoff time.Duration
}

// Permissions lists every IAM action the collector calls; the least-
// privilege policy in infra/ is generated from it.
var Permissions = []string{
	"ec2:DescribeAddresses",
	"ec2:DescribeEgressOnlyInternetGateways",
	"ec2:DescribeInstances",
	"ec2:DescribeInternetGateways",
	"ec2:DescribeManagedPrefixLists",
	"ec2:DescribeNatGateways",
	"ec2:DescribeNetworkAcls",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeRegions",
	"ec2:DescribeRouteTables",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSubnets",
	"ec2:DescribeVpcs",
	"ec2:GetManagedPrefixListEntries",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeRules",
	"elasticloadbalancing:DescribeTags",
	"elasticloadbalancing:DescribeTargetGroupAttributes",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
	"sts:GetCallerIdentity",
}

// Driver is what the AWS provider promises audit (providers.Driver). A unit
// of collection is one account-region.
var Driver = providers.Driver{
	Name:        providerName,
	Title:       "AWS",
	Normalize:   Normalize,
	Permissions: Permissions,
	Regional:    true,
	ValidScope:  validScope,
}

// regionPattern is the shape of a region name: a geography, an optional
// partition word and a number (us-east-1, us-gov-west-1, cn-north-1,
// https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// validScope checks one account-region before it becomes a snapshot path,
// an object key or a role ARN.
func validScope(account, region string) error {
	if !accountIDPattern.MatchString(account) {
		return fmt.Errorf("aws account %q is not a 12-digit account ID", account)
	}
	if !regionPattern.MatchString(region) {
		return fmt.Errorf("aws region %q is not a region name", region)
	}
	return nil
}
