package aws

import (
	"context"
	"fmt"
	"path"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Network ACLs: stateless, evaluated per subnet in rule-number order, the
// first matching rule decides, and the "*" rule (number 32767) denies the
// rest. Inbound rules filter the client's packets; outbound rules filter the
// replies, which go to the client's ephemeral port.
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html

const fileNetworkACLs = "ec2-describe-network-acls.json"

func (rc *regionCollector) collectNetworkACLs(ctx context.Context) error {
	p := ec2.NewDescribeNetworkAclsPaginator(rc.ec2, &ec2.DescribeNetworkAclsInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeNetworkAclsOutput) []ec2types.NetworkAcl { return o.NetworkAcls })
	if err != nil {
		return err
	}
	return rc.put(fileNetworkACLs, map[string]any{"NetworkAcls": out})
}

type networkACL struct {
	NetworkAclId string
	VpcId        string
	IsDefault    bool
	Associations []struct {
		SubnetId string
	}
	Entries []aclEntry
	Tags    []tag
}

type aclEntry struct {
	RuleNumber    int64
	Protocol      string
	RuleAction    string
	Egress        bool
	CidrBlock     string
	Ipv6CidrBlock string
	IcmpTypeCode  *struct {
		Code *int64
		Type *int64
	}
	PortRange *struct {
		From *int64
		To   *int64
	}
}

func (r *region) loadACLs() {
	var doc struct{ NetworkAcls []*networkACL }
	if r.readJSON(fileNetworkACLs, &doc) {
		for _, a := range doc.NetworkAcls {
			if a != nil && a.NetworkAclId != "" {
				r.acls = append(r.acls, a)
			}
		}
	}
}

// buildACLLayers builds an inbound and an outbound layer per NACL.
func (r *region) buildACLLayers() {
	r.aclIn, r.aclOut = map[string]*exposure.Layer{}, map[string]*exposure.Layer{}
	for _, a := range r.acls {
		name := tagValue(a.Tags, "Name")
		in := &exposure.Layer{
			Scope: r.scope, ID: a.NetworkAclId, Kind: exposure.LayerNetworkACL, Name: name,
			Mode: exposure.Ordered, Default: exposure.Deny, Latent: true, Tags: tagMap(a.Tags),
			Attached: len(a.Associations) > 0, Internal: r.vpcInternal(a.VpcId),
		}
		out := &exposure.Layer{
			Scope: r.scope, ID: a.NetworkAclId, Kind: exposure.LayerNetworkACL, Name: name,
			Mode: exposure.Ordered, Default: exposure.Deny, Egress: true, Tags: tagMap(a.Tags),
			Attached: len(a.Associations) > 0,
		}
		for i, e := range a.Entries {
			rule, err := aclRule(e)
			if err != nil {
				dir := "ingress"
				if e.Egress {
					dir = "egress"
				}
				r.errorf(fmt.Sprintf("%s %s rule %d (Entries[%d])", a.NetworkAclId, dir, e.RuleNumber, i), "%v; rule skipped", err)
				continue
			}
			if e.Egress {
				out.Rules = append(out.Rules, rule)
			} else {
				in.Rules = append(in.Rules, rule)
			}
		}
		r.aclIn[a.NetworkAclId], r.aclOut[a.NetworkAclId] = in, out
	}
}

// aclRule converts one NACL entry. Ports apply to TCP (6) and UDP (17)
// only; ICMP (1) and ICMPv6 (58) match IcmpTypeCode.Type, -1 being every
// type; other protocols match every packet of the protocol.
func aclRule(e aclEntry) (exposure.Rule, error) {
	rule := exposure.Rule{
		ID:       strconv.FormatInt(e.RuleNumber, 10),
		Priority: int(e.RuleNumber),
	}
	// Custom rules are numbered 1-32766; the default "*" deny rules are
	// 32767 (IPv4) and 32768 (IPv6) in what the API returns.
	if e.RuleNumber < 1 || e.RuleNumber > 32768 {
		return rule, fmt.Errorf("rule number %d out of range 1-32768", e.RuleNumber)
	}
	switch e.RuleAction {
	case "allow":
		rule.Action = exposure.Allow
	case "deny":
		rule.Action = exposure.Deny
	default:
		return rule, fmt.Errorf("unknown RuleAction %q", e.RuleAction)
	}
	proto, err := exposure.ParseProtocol(e.Protocol)
	if err != nil {
		return rule, fmt.Errorf("field Protocol: %w", err)
	}
	rule.Protocol = proto
	cidr := e.CidrBlock
	if cidr == "" {
		cidr = e.Ipv6CidrBlock
	}
	if cidr == "" {
		return rule, fmt.Errorf("neither CidrBlock nor Ipv6CidrBlock set")
	}
	if rule.Sources, err = cidrSources(cidr); err != nil {
		return rule, fmt.Errorf("CidrBlock: %w", err)
	}
	rule.SourceNames = []string{cidr}
	switch {
	case proto == exposure.ProtocolTCP || proto == exposure.ProtocolUDP:
		if e.PortRange == nil || e.PortRange.From == nil || e.PortRange.To == nil {
			break // no range: the whole protocol
		}
		pr, err := exposure.NewPortRange(*e.PortRange.From, *e.PortRange.To)
		if err != nil {
			return rule, fmt.Errorf("PortRange: %w", err)
		}
		if !pr.IsAll() {
			rule.Ports = []exposure.PortRange{pr}
		}
	case proto.IsICMP():
		if e.IcmpTypeCode == nil || e.IcmpTypeCode.Type == nil || *e.IcmpTypeCode.Type == -1 {
			break
		}
		t := *e.IcmpTypeCode.Type
		if t < 0 || t > 255 {
			return rule, fmt.Errorf("IcmpTypeCode.Type %d out of range 0-255", t)
		}
		rule.Ports = []exposure.PortRange{exposure.Port(uint16(t))}
	}
	return rule, nil
}

// aclOf returns the NACL of a subnet: its association, else the VPC's
// default NACL (every subnet is associated with exactly one NACL).
func (r *region) aclOf(subnetID string) *networkACL {
	var def *networkACL
	vpcID := ""
	if s := r.subnets[subnetID]; s != nil {
		vpcID = s.VpcId
	}
	for _, a := range r.acls {
		for _, as := range a.Associations {
			if as.SubnetId == subnetID && subnetID != "" {
				return a
			}
		}
		if a.IsDefault && a.VpcId == vpcID {
			def = a
		}
	}
	return def
}

// explicitACL reports whether a NACL association names the subnet.
func (r *region) explicitACL(subnetID string) bool {
	for _, a := range r.acls {
		for _, as := range a.Associations {
			if subnetID != "" && as.SubnetId == subnetID {
				return true
			}
		}
	}
	return false
}

// aclLayersOf returns the NACL inbound and outbound layers of a subnet;
// unknown layers when the NACLs (or, for the VPC's default NACL, the
// subnets) were not collected.
func (r *region) aclLayersOf(subnetID string) (in, out *exposure.Layer) {
	id := "network ACL of " + subnetID
	if !r.have[fileNetworkACLs] {
		l := r.unknownLayer(id, exposure.LayerNetworkACL, fileNetworkACLs)
		return l, l
	}
	if !r.have[fileSubnets] && !r.explicitACL(subnetID) {
		// The default NACL is the VPC's, and the subnets file says which.
		l := r.unknownLayer(id, exposure.LayerNetworkACL, fileSubnets)
		return l, l
	}
	a := r.aclOf(subnetID)
	if a == nil {
		r.errorf(subnetID, "no network ACL for subnet (no association and no default NACL): its rules are unknown")
		l := exposure.UnknownLayer(r.scope, id, exposure.LayerNetworkACL, "no network ACL for the subnet in "+path.Join(r.dir, fileNetworkACLs))
		return l, l
	}
	return r.aclIn[a.NetworkAclId], r.aclOut[a.NetworkAclId]
}
