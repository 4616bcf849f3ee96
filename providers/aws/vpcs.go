package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// VPCs and subnets: the subnet decides an interface's route table and
// network ACL; subnet CIDRs stand in for a load balancer's private
// addresses when its interfaces are not in the snapshot.

const (
	fileVPCs    = "ec2-describe-vpcs.json"
	fileSubnets = "ec2-describe-subnets.json"
)

func (rc *regionCollector) collectVPCs(ctx context.Context) error {
	p := ec2.NewDescribeVpcsPaginator(rc.ec2, &ec2.DescribeVpcsInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeVpcsOutput) []ec2types.Vpc { return o.Vpcs })
	if err != nil {
		return err
	}
	return rc.put(fileVPCs, map[string]any{"Vpcs": out})
}

func (rc *regionCollector) collectSubnets(ctx context.Context) error {
	p := ec2.NewDescribeSubnetsPaginator(rc.ec2, &ec2.DescribeSubnetsInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeSubnetsOutput) []ec2types.Subnet { return o.Subnets })
	if err != nil {
		return err
	}
	return rc.put(fileSubnets, map[string]any{"Subnets": out})
}

type vpc struct {
	VpcId                   string
	CidrBlock               string
	IsDefault               bool
	CidrBlockAssociationSet []struct {
		CidrBlock string
	}
	Ipv6CidrBlockAssociationSet []struct {
		Ipv6CidrBlock string
	}
}

// internal is the VPC's own address space. Its IPv6 blocks are public,
// but traffic from them is the VPC talking to itself (the local route
// keeps the replies inside), never the internet: a ::/0 rule is not a
// latent internet exposure for them.
func (v *vpc) internal() *netipx.IPSet {
	var b netipx.IPSetBuilder
	add := func(c string) {
		if p, err := exposure.ParsePrefix(c); err == nil && c != "" {
			b.AddPrefix(p)
		}
	}
	add(v.CidrBlock)
	for _, a := range v.CidrBlockAssociationSet {
		add(a.CidrBlock)
	}
	for _, a := range v.Ipv6CidrBlockAssociationSet {
		add(a.Ipv6CidrBlock)
	}
	s, _ := b.IPSet()
	return s
}

// vpcInternal returns the internal address space of a VPC (nil when the
// VPC is not in the snapshot).
func (r *region) vpcInternal(id string) *netipx.IPSet {
	for i := range r.vpcs {
		if r.vpcs[i].VpcId == id {
			return r.vpcs[i].internal()
		}
	}
	return nil
}

type subnet struct {
	SubnetId                    string
	VpcId                       string
	CidrBlock                   string
	AvailabilityZone            string
	Ipv6CidrBlockAssociationSet []struct {
		Ipv6CidrBlock string
	}
	Tags []tag
}

// cidrs returns the subnet's IPv4 and IPv6 CIDRs.
func (s *subnet) cidrs() []string {
	var out []string
	if s.CidrBlock != "" {
		out = append(out, s.CidrBlock)
	}
	for _, a := range s.Ipv6CidrBlockAssociationSet {
		if a.Ipv6CidrBlock != "" {
			out = append(out, a.Ipv6CidrBlock)
		}
	}
	return out
}

func (r *region) loadNetwork() {
	var vdoc struct{ Vpcs []vpc }
	if r.readJSON(fileVPCs, &vdoc) {
		r.vpcs = vdoc.Vpcs
	}
	r.subnets = map[string]*subnet{}
	var sdoc struct{ Subnets []*subnet }
	if r.readJSON(fileSubnets, &sdoc) {
		for _, s := range sdoc.Subnets {
			if s != nil && s.SubnetId != "" {
				r.subnets[s.SubnetId] = s
			}
		}
	}
}
