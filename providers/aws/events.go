package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// CloudTrail management events reach EventBridge with this detail type
// (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html),
// from the event sources below.
const (
	CloudTrailDetailType = "AWS API Call via CloudTrail"
	SourceEC2            = "ec2.amazonaws.com"
	SourceELB            = "elasticloadbalancing.amazonaws.com"
)

// eventFamily ties one API family the collector reads (its IAM read
// action, as in Permissions) to the management events that change what
// that read returns in a way that can change an exposure. An exempt
// family names why no event of it warrants a re-audit.
type eventFamily struct {
	Read   string
	Source string
	Events []string
	Exempt string
}

// eventFamilies is the one list of exposure-changing events, derived from
// the collector's API families: each family's create, modify, associate
// and delete calls. Creations of objects that admit nothing until they are
// associated or attached (an empty security group, a route table, an
// unattached internet gateway) are left out: their association is listed.
// docs/react.md prints this table; TestEventFamiliesCoverCollector keeps
// it complete against Permissions.
var eventFamilies = []eventFamily{
	{Read: "ec2:DescribeSecurityGroups", Source: SourceEC2, Events: []string{
		"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "ModifySecurityGroupRules", "DeleteSecurityGroup"}},
	{Read: "ec2:DescribeNetworkAcls", Source: SourceEC2, Events: []string{
		"CreateNetworkAclEntry", "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry", "ReplaceNetworkAclAssociation", "DeleteNetworkAcl"}},
	{Read: "ec2:DescribeRouteTables", Source: SourceEC2, Events: []string{
		"CreateRoute", "ReplaceRoute", "DeleteRoute", "AssociateRouteTable", "DisassociateRouteTable", "ReplaceRouteTableAssociation", "DeleteRouteTable"}},
	{Read: "ec2:DescribeInternetGateways", Source: SourceEC2, Events: []string{
		"AttachInternetGateway", "DetachInternetGateway", "DeleteInternetGateway"}},
	{Read: "ec2:DescribeEgressOnlyInternetGateways", Source: SourceEC2, Events: []string{
		"CreateEgressOnlyInternetGateway", "DeleteEgressOnlyInternetGateway"}},
	{Read: "ec2:DescribeNatGateways", Source: SourceEC2, Events: []string{
		"CreateNatGateway", "DeleteNatGateway"}},
	{Read: "ec2:DescribeAddresses", Source: SourceEC2, Events: []string{
		"AssociateAddress", "DisassociateAddress", "ReleaseAddress"}},
	// RunInstances with a public address; StartInstances assigns a new
	// public IPv4 address and StopInstances releases it
	// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html#concepts-public-addresses).
	{Read: "ec2:DescribeInstances", Source: SourceEC2, Events: []string{
		"RunInstances", "StartInstances", "StopInstances", "TerminateInstances", "ModifyInstanceAttribute"}},
	{Read: "ec2:DescribeNetworkInterfaces", Source: SourceEC2, Events: []string{
		"CreateNetworkInterface", "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute", "AttachNetworkInterface",
		"DetachNetworkInterface", "AssignIpv6Addresses", "UnassignIpv6Addresses"}},
	{Read: "ec2:DescribeSubnets", Source: SourceEC2, Events: []string{
		"ModifySubnetAttribute", "DeleteSubnet"}},
	{Read: "ec2:DescribeVpcs", Source: SourceEC2, Events: []string{
		"AssociateVpcCidrBlock", "DisassociateVpcCidrBlock", "DeleteVpc"}},
	{Read: "ec2:DescribeManagedPrefixLists", Source: SourceEC2, Events: []string{
		"ModifyManagedPrefixList", "RestoreManagedPrefixListVersion", "DeleteManagedPrefixList"}},
	{Read: "ec2:GetManagedPrefixListEntries", Source: SourceEC2, Events: []string{
		"ModifyManagedPrefixList", "RestoreManagedPrefixListVersion"}},
	{Read: "ec2:DescribeRegions", Exempt: "the enabled regions are the plan's; enabling one is audited by the next scheduled run"},
	// ELBv2 and Classic Load Balancer calls share the IAM prefix and the
	// event source.
	{Read: "elasticloadbalancing:DescribeLoadBalancers", Source: SourceELB, Events: []string{
		"CreateLoadBalancer", "DeleteLoadBalancer", "SetSecurityGroups", "SetSubnets", "SetIpAddressType", "ModifyLoadBalancerAttributes",
		// Classic Load Balancers:
		"ApplySecurityGroupsToLoadBalancer", "AttachLoadBalancerToSubnets", "DetachLoadBalancerFromSubnets",
		"EnableAvailabilityZonesForLoadBalancer", "DisableAvailabilityZonesForLoadBalancer",
		"CreateLoadBalancerListeners", "DeleteLoadBalancerListeners",
		"RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer"}},
	{Read: "elasticloadbalancing:DescribeListeners", Source: SourceELB, Events: []string{
		"CreateListener", "ModifyListener", "DeleteListener"}},
	{Read: "elasticloadbalancing:DescribeRules", Source: SourceELB, Events: []string{
		"CreateRule", "ModifyRule", "DeleteRule", "SetRulePriorities"}},
	{Read: "elasticloadbalancing:DescribeTargetGroups", Source: SourceELB, Events: []string{
		"ModifyTargetGroup", "DeleteTargetGroup"}},
	{Read: "elasticloadbalancing:DescribeTargetHealth", Source: SourceELB, Events: []string{
		"RegisterTargets", "DeregisterTargets"}},
	{Read: "elasticloadbalancing:DescribeTargetGroupAttributes", Source: SourceELB, Events: []string{
		"ModifyTargetGroupAttributes"}},
	{Read: "elasticloadbalancing:DescribeTags", Exempt: "tags name things and select exceptions; they admit no traffic (the next scheduled run applies a tag-scoped exception)"},
	{Read: "sts:GetCallerIdentity", Exempt: "the caller's identity, not the estate"},
}

// ExposureEvents returns the exposure-changing management events by event
// source (ec2.amazonaws.com, elasticloadbalancing.amazonaws.com), each
// list sorted and without repeats: what the react function's EventBridge
// rule matches.
func ExposureEvents() map[string][]string {
	out := map[string][]string{}
	for _, f := range eventFamilies {
		if f.Source != "" {
			out[f.Source] = append(out[f.Source], f.Events...)
		}
	}
	for s, names := range out {
		slices.Sort(names)
		out[s] = slices.Compact(names)
	}
	return out
}

// IsExposureEvent reports whether a management event of source can
// change an exposure.
func IsExposureEvent(source, name string) bool {
	for _, f := range eventFamilies {
		if f.Source == source && slices.Contains(f.Events, name) {
			return true
		}
	}
	return false
}

// Event is what a re-audit needs of one CloudTrail management event: its
// scope and who did what, when.
type Event struct {
	ID      string // the EventBridge event ID, or CloudTrail's eventID
	Account string // the account whose resources changed (recipientAccountId)
	Region  string
	Source  string // ec2.amazonaws.com, …
	Name    string // AuthorizeSecurityGroupIngress, …
	Time    time.Time
	Actor   Actor
	// ErrorCode is set when the call failed (AccessDenied, …): nothing
	// changed.
	ErrorCode string
}

// Actor is the principal behind an event (CloudTrail's userIdentity and
// request origin).
type Actor struct {
	ARN       string // userIdentity.arn; for an AWS service, its name
	Type      string // IAMUser, AssumedRole, Root, AWSService, …
	SourceIP  string // sourceIPAddress (an address, or a service's name)
	UserAgent string
}

// Scope is the account-region the event changed.
func (e Event) Scope() exposure.Scope {
	return exposure.Scope{Provider: providerName, Account: e.Account, Region: e.Region}
}

// ChangesExposure reports whether the event is a successful call of the
// list above.
func (e Event) ChangesExposure() bool {
	return e.ErrorCode == "" && IsExposureEvent(e.Source, e.Name)
}

// cloudTrailRecord is the part of a CloudTrail record that is read
// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
type cloudTrailRecord struct {
	EventID      string `json:"eventID"`
	EventTime    string `json:"eventTime"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	AWSRegion    string `json:"awsRegion"`
	SourceIP     string `json:"sourceIPAddress"`
	UserAgent    string `json:"userAgent"`
	ErrorCode    string `json:"errorCode"`
	Recipient    string `json:"recipientAccountId"`
	UserIdentity struct {
		Type      string `json:"type"`
		ARN       string `json:"arn"`
		AccountID string `json:"accountId"`
		InvokedBy string `json:"invokedBy"`
	} `json:"userIdentity"`
}

// eventBridgeEnvelope is an EventBridge event
// (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
type eventBridgeEnvelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

// eventName is the shape of an API operation name. Accounts and regions are
// checked with the patterns of validScope.
var eventName = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)

// maxEventBytes bounds an event document: EventBridge events are at most
// 256 KB (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
const maxEventBytes = 256 << 10

// ParseEvent reads an EventBridge event carrying a CloudTrail management
// event (detail-type "AWS API Call via CloudTrail"), or a bare CloudTrail
// record. The account is detail.recipientAccountId (the account whose
// resources the call acted on, which a cross-account call's
// userIdentity.accountId is not), else the envelope's account; the region
// is detail.awsRegion, else the envelope's region. Fields that end up in
// role ARNs and object keys are checked against their documented shapes.
func ParseEvent(b []byte) (Event, error) {
	if len(b) > maxEventBytes {
		return Event{}, fmt.Errorf("read event: %d bytes, more than an EventBridge event's 256 KB", len(b))
	}
	var env eventBridgeEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Event{}, fmt.Errorf("read event: not a JSON object: %w", err)
	}
	detail := b
	if env.Detail != nil {
		if env.DetailType != CloudTrailDetailType {
			return Event{}, fmt.Errorf("read event %s: detail-type %q is not %q: not a CloudTrail management event", env.ID, env.DetailType, CloudTrailDetailType)
		}
		detail = env.Detail
	}
	var r cloudTrailRecord
	if err := json.Unmarshal(detail, &r); err != nil {
		return Event{}, fmt.Errorf("read event %s: detail is not a CloudTrail record: %w", env.ID, err)
	}
	e := Event{
		ID: cmpOr(env.ID, r.EventID), Account: cmpOr(r.Recipient, env.Account), Region: cmpOr(r.AWSRegion, env.Region),
		Source: r.EventSource, Name: r.EventName, ErrorCode: r.ErrorCode,
		Actor: Actor{ARN: cmpOr(r.UserIdentity.ARN, r.UserIdentity.InvokedBy), Type: r.UserIdentity.Type, SourceIP: r.SourceIP, UserAgent: r.UserAgent},
	}
	switch {
	case e.Source == "" || e.Name == "":
		return Event{}, errors.New("read event: no eventSource or eventName: not a CloudTrail management event")
	case !eventName.MatchString(e.Name):
		return Event{}, fmt.Errorf("read event %s: eventName %q is not an API operation name", e.ID, e.Name)
	case !accountIDPattern.MatchString(e.Account):
		return Event{}, fmt.Errorf("read event %s (%s): account %q is not a 12-digit account ID", e.ID, e.Name, e.Account)
	case !regionPattern.MatchString(e.Region):
		return Event{}, fmt.Errorf("read event %s (%s): region %q is not a region name", e.ID, e.Name, e.Region)
	}
	ts := cmpOr(r.EventTime, env.Time)
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return Event{}, fmt.Errorf("read event %s (%s): eventTime %q is not an RFC 3339 time", e.ID, e.Name, ts)
	}
	e.Time = t.UTC()
	return e, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// maxUserAgent bounds the user agent quoted in an alert: SDKs append
// long platform strings.
const maxUserAgent = 80

// Describe says who changed a scope, from the events that changed it (one
// or a burst): "arn:… (AuthorizeSecurityGroupIngress) from 198.51.100.7
// (aws-cli/2.15.0 …) at 2026-12-01 10:02 UTC", or for several events
// "arn:…, arn:… (12 calls: AuthorizeSecurityGroupIngress, CreateRoute, …)
// between 10:02 and 10:03 UTC". The strings are the cloud's: the alert
// renderers escape them.
func Describe(events []Event) string {
	if len(events) == 0 {
		return ""
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Time.Compare(b.Time) })
	var actors, names []string
	for _, e := range evs {
		if a := cmpOr(e.Actor.ARN, "an unknown principal"); !slices.Contains(actors, a) {
			actors = append(actors, a)
		}
		if !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	who := strings.Join(actors[:min(len(actors), 2)], ", ")
	if len(actors) > 2 {
		who += fmt.Sprintf(" and %d more", len(actors)-2)
	}
	what := strings.Join(names[:min(len(names), 3)], ", ")
	if len(names) > 3 {
		what += ", …"
	}
	if len(evs) > 1 {
		what = fmt.Sprintf("%d calls: %s", len(evs), what)
	}
	s := who + " (" + what + ")"
	if len(actors) == 1 {
		a := evs[0].Actor
		if a.SourceIP != "" {
			s += " from " + a.SourceIP
		}
		if ua := a.UserAgent; ua != "" {
			if len(ua) > maxUserAgent {
				ua = strings.ToValidUTF8(ua[:maxUserAgent], "") + "…"
			}
			s += " (" + ua + ")"
		}
	}
	first, last := evs[0].Time, evs[len(evs)-1].Time
	const layout = "2006-01-02 15:04"
	if first.Truncate(time.Minute).Equal(last.Truncate(time.Minute)) {
		return s + " at " + first.Format(layout) + " UTC"
	}
	return s + " between " + first.Format(layout) + " and " + last.Format("15:04") + " UTC"
}
