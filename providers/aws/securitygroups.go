package aws

import (
	"context"
	"fmt"
	"path"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Security groups: stateful, allow-only; an ENI admits what any of its
// groups admits. Inbound rules only: replies to admitted traffic are always
// allowed out.
// https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html

const fileSecurityGroups = "ec2-describe-security-groups.json"

func (rc *regionCollector) collectSecurityGroups(ctx context.Context) error {
	p := ec2.NewDescribeSecurityGroupsPaginator(rc.ec2, &ec2.DescribeSecurityGroupsInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeSecurityGroupsOutput) []ec2types.SecurityGroup { return o.SecurityGroups })
	if err != nil {
		return err
	}
	return rc.put(fileSecurityGroups, map[string]any{"SecurityGroups": out})
}

type securityGroup struct {
	GroupId       string
	GroupName     string
	Description   string
	VpcId         string
	OwnerId       string
	IpPermissions []ipPermission
	// IpPermissionsEgress are only judged by checks of the group's own
	// configuration (Layer.Outbound): a group is stateful.
	IpPermissionsEgress []ipPermission
	Tags                []tag
}

type ipPermission struct {
	IpProtocol string
	FromPort   *int64
	ToPort     *int64
	IpRanges   []struct {
		CidrIp      string
		Description string
	}
	Ipv6Ranges []struct {
		CidrIpv6    string
		Description string
	}
	PrefixListIds []struct {
		PrefixListId string
		Description  string
	}
	UserIdGroupPairs []struct {
		GroupId                string
		GroupName              string
		UserId                 string
		VpcPeeringConnectionId string
		Description            string
	}
}

func (r *region) loadSecurityGroups() {
	r.groups = map[string]*securityGroup{}
	var doc struct{ SecurityGroups []*securityGroup }
	if !r.readJSON(fileSecurityGroups, &doc) {
		return
	}
	for _, g := range doc.SecurityGroups {
		if g == nil || g.GroupId == "" {
			continue
		}
		if r.groups[g.GroupId] == nil {
			r.groupOrder = append(r.groupOrder, g.GroupId)
		}
		r.groups[g.GroupId] = g
	}
}

// sgRuleRef remembers which group a security-group rule references, so
// that load-balancer variants of the layer can re-resolve it.
type sgRuleRef struct{ group string }

// buildSecurityGroupLayers builds one layer per group. Group references
// resolve to the private addresses of the group's members (see
// indexInterfaces), which never include an internet client.
func (r *region) buildSecurityGroupLayers() {
	r.sgLayers = map[string]*exposure.Layer{}
	r.sgRefs = map[string][]sgRuleRef{}
	// Rules naming the same CIDR share one source set: sets are never
	// modified once built, and an estate's million rules name a few
	// thousand distinct CIDRs, so this saves a set per rule here and a
	// conversion per rule in the analysis (which converts each distinct
	// set once).
	cidrs := map[string]*netipx.IPSet{}
	cidrSet := func(c string) (*netipx.IPSet, error) {
		if s, ok := cidrs[c]; ok {
			return s, nil
		}
		s, err := cidrSources(c)
		if err == nil {
			cidrs[c] = s
		}
		return s, err
	}
	for _, id := range r.groupOrder {
		g := r.groups[id]
		layer := &exposure.Layer{
			Scope: r.scope, ID: g.GroupId, Kind: exposure.LayerSecurityGroup, Name: g.GroupName,
			Mode: exposure.AllowUnion, Latent: true, Tags: tagMap(g.Tags),
			Internal: r.vpcInternal(g.VpcId),
		}
		var refs []sgRuleRef
		internal := []*netipx.IPSet{layer.Internal}
		for i, p := range g.IpPermissions {
			where := fmt.Sprintf("%s inbound rule %d", g.GroupId, i+1)
			proto, ports, err := sgProtocolPorts(p)
			if err != nil {
				r.errorf(where, "%v; rule skipped", err)
				continue
			}
			ruleID := fmt.Sprintf("inbound #%d", i+1)
			add := func(desc, name string, src *netipx.IPSet, ref string) {
				layer.Rules = append(layer.Rules, exposure.Rule{
					ID: ruleID, Description: desc, Action: exposure.Allow,
					Protocol: proto, Ports: ports, Sources: src, SourceNames: []string{name},
				})
				refs = append(refs, sgRuleRef{group: ref})
			}
			for j, c := range p.IpRanges {
				src, err := cidrSet(c.CidrIp)
				if err != nil {
					r.errorf(fmt.Sprintf("%s IpRanges[%d].CidrIp", where, j), "%v; source skipped", err)
					continue
				}
				add(c.Description, c.CidrIp, src, "")
			}
			for j, c := range p.Ipv6Ranges {
				src, err := cidrSet(c.CidrIpv6)
				if err != nil {
					r.errorf(fmt.Sprintf("%s Ipv6Ranges[%d].CidrIpv6", where, j), "%v; source skipped", err)
					continue
				}
				add(c.Description, c.CidrIpv6, src, "")
			}
			for j, pl := range p.PrefixListIds {
				l := r.prefixLists[pl.PrefixListId]
				if l == nil || l.entries == nil {
					r.errorf(fmt.Sprintf("%s PrefixListIds[%d]", where, j), "prefix list %s: entries not in snapshot; source skipped", pl.PrefixListId)
					continue
				}
				add(pl.Description, pl.PrefixListId, l.entries, "")
			}
			for _, ug := range p.UserIdGroupPairs {
				name := ug.GroupId
				if ug.UserId != "" && ug.UserId != r.scope.Account {
					name = ug.UserId + "/" + ug.GroupId
				}
				// A group of another account or a peered VPC has members
				// this snapshot does not see: they are private addresses
				// either way, never internet clients.
				add(ug.Description, name, r.groupMembers[ug.GroupId], ug.GroupId)
				// Members' IPv6 addresses are public, but what a group
				// reference admits is always an instance, never the
				// internet.
				if m := r.groupMembers[ug.GroupId]; m != nil {
					internal = append(internal, m)
				}
			}
		}
		if len(internal) > 1 {
			var b netipx.IPSetBuilder
			for _, s := range internal {
				if s != nil {
					b.AddSet(s)
				}
			}
			layer.Internal, _ = b.IPSet()
		}
		layer.Outbound = sgOutboundRules(g)
		r.sgLayers[id] = layer
		r.sgRefs[id] = refs
	}
}

// sgOutboundRules lists a group's egress rules by destination as written
// (CIDR, prefix list, group), for Layer.Outbound. Destination sets are
// left out: nothing evaluates them, and a rule that does not parse is still
// a rule the group has.
func sgOutboundRules(g *securityGroup) []exposure.Rule {
	var out []exposure.Rule
	for i, p := range g.IpPermissionsEgress {
		proto, ports, _ := sgProtocolPorts(p)
		var names []string
		for _, c := range p.IpRanges {
			names = append(names, c.CidrIp)
		}
		for _, c := range p.Ipv6Ranges {
			names = append(names, c.CidrIpv6)
		}
		for _, pl := range p.PrefixListIds {
			names = append(names, pl.PrefixListId)
		}
		for _, ug := range p.UserIdGroupPairs {
			names = append(names, ug.GroupId)
		}
		out = append(out, exposure.Rule{ID: fmt.Sprintf("outbound #%d", i+1), Action: exposure.Allow, Protocol: proto, Ports: ports, SourceNames: names})
	}
	return out
}

// sgProtocolPorts interprets IpProtocol, FromPort and ToPort. "-1" is every
// protocol; tcp and udp use the port range; icmp and icmpv6 carry the ICMP
// type in FromPort (-1: every type) and the code in ToPort, which is not
// modelled; any other protocol number covers every port whatever the port
// fields say.
func sgProtocolPorts(p ipPermission) (exposure.Protocol, []exposure.PortRange, error) {
	proto, err := exposure.ParseProtocol(p.IpProtocol)
	if err != nil {
		return 0, nil, fmt.Errorf("IpProtocol: %w", err)
	}
	switch {
	case proto == exposure.ProtocolTCP || proto == exposure.ProtocolUDP:
		if p.FromPort == nil || p.ToPort == nil || (*p.FromPort == -1 && *p.ToPort == -1) {
			return proto, nil, nil
		}
		pr, err := exposure.NewPortRange(*p.FromPort, *p.ToPort)
		if err != nil {
			return 0, nil, fmt.Errorf("FromPort/ToPort: %w", err)
		}
		if pr.IsAll() {
			return proto, nil, nil
		}
		return proto, []exposure.PortRange{pr}, nil
	case proto.IsICMP():
		if p.FromPort == nil || *p.FromPort == -1 {
			return proto, nil, nil
		}
		if *p.FromPort < 0 || *p.FromPort > 255 {
			return 0, nil, fmt.Errorf("FromPort: ICMP type %d out of range 0-255", *p.FromPort)
		}
		return proto, []exposure.PortRange{exposure.Port(uint16(*p.FromPort))}, nil
	}
	return proto, nil, nil
}

// groupLayer returns the layer of a security group, recording an error when
// the snapshot lacks it.
func (r *region) groupLayer(id, usedBy string) *exposure.Layer {
	r.attached[id] = true
	if l := r.sgLayers[id]; l != nil {
		return l
	}
	if r.have[fileSecurityGroups] {
		r.errorf(usedBy, "security group %s not in %s: its rules are unknown", id, fileSecurityGroups)
		return exposure.UnknownLayer(r.scope, id, exposure.LayerSecurityGroup, "not in "+path.Join(r.dir, fileSecurityGroups))
	}
	return r.unknownLayer(id, exposure.LayerSecurityGroup, fileSecurityGroups)
}

// securityGroupHop returns the hop of an ENI's or load balancer's groups.
// A group the snapshot lacks (or all of them, without a readable security
// groups file) is an unknown layer: never read as open, never as closed.
// ok is false when the resource names no group.
func (r *region) securityGroupHop(ids []string, usedBy string) (exposure.Hop, bool) {
	var hop exposure.Hop
	for _, id := range ids {
		hop.Layers = append(hop.Layers, r.groupLayer(id, usedBy))
	}
	return hop, len(ids) > 0
}

// lbReferenceVariant returns a variant of a security group in which rules
// referencing one of the given load-balancer groups admit every source.
// AWS documents that a target's rule referencing the security group of a
// Network Load Balancer admits the load balancer's traffic even when the
// client IP is preserved, so behind such an NLB those rules admit whichever
// client the NLB admitted.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html
func (r *region) lbReferenceVariant(l *exposure.Layer, lbID string, lbGroups []string) *exposure.Layer {
	refs := r.sgRefs[l.ID]
	match := func(i int) bool {
		if i >= len(refs) {
			return false
		}
		for _, g := range lbGroups {
			if refs[i].group == g {
				return true
			}
		}
		return false
	}
	found := false
	for i := range l.Rules {
		if match(i) {
			found = true
			break
		}
	}
	if !found {
		return l
	}
	key := l.ID + " " + lbID
	if v := r.sgVariants[key]; v != nil {
		return v
	}
	v := *l
	v.Latent = false // the base layer is judged on its own already
	v.Rules = append([]exposure.Rule(nil), l.Rules...)
	for i := range v.Rules {
		if match(i) {
			v.Rules[i].Sources = exposure.AnySource()
			v.Rules[i].Description = "references the load balancer's group: admits its clients"
		}
	}
	r.sgVariants[key] = &v
	return &v
}
