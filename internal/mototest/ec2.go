package mototest

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// AttachInternetGateway attaches igw to vpc and tolerates the SDK's own
// retry of the call. AttachInternetGateway is not idempotent: when moto
// has attached the gateway but the SDK saw the connection fail (a loaded
// machine; moto closing a kept-alive connection), the standard retryer
// sends it again and moto answers Resource.AlreadyAssociated. That answer
// is success when the gateway is attached to this VPC, which is checked.
func AttachInternetGateway(ctx context.Context, c *ec2.Client, igw, vpc string) error {
	_, err := c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igw), VpcId: aws.String(vpc)})
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) || api.ErrorCode() != "Resource.AlreadyAssociated" {
		return err
	}
	out, derr := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{igw}})
	if derr != nil || len(out.InternetGateways) != 1 {
		return err
	}
	for _, a := range out.InternetGateways[0].Attachments {
		if aws.ToString(a.VpcId) == vpc {
			return nil
		}
	}
	return err
}

// PublicSubnet builds the usual public network of a test: a VPC of
// vpcCIDR, a subnet of subnetCIDR in the region's zone "a", an internet
// gateway attached to the VPC and a default route to it in the VPC's main
// route table. It returns the VPC's and the subnet's IDs.
func PublicSubnet(tb testing.TB, c *ec2.Client, region, vpcCIDR, subnetCIDR string) (vpc, subnet string) {
	tb.Helper()
	ctx := context.Background()
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("moto fixture: %s: %v", what, err)
		}
	}
	v, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(vpcCIDR)})
	must("create vpc", err)
	vpc = aws.ToString(v.Vpc.VpcId)
	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(subnetCIDR), AvailabilityZone: aws.String(region + "a")})
	must("create subnet", err)
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	must("create internet gateway", err)
	must("attach internet gateway", AttachInternetGateway(ctx, c, aws.ToString(igw.InternetGateway.InternetGatewayId), vpc))
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	must("describe route tables", err)
	if len(rts.RouteTables) != 1 {
		tb.Fatalf("moto fixture: vpc %s has %d main route tables", vpc, len(rts.RouteTables))
	}
	_, err = c.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rts.RouteTables[0].RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: igw.InternetGateway.InternetGatewayId})
	must("create default route", err)
	return vpc, aws.ToString(sn.Subnet.SubnetId)
}

// SSHInstance builds a PublicSubnet in a /16 VPC (its subnet the VPC's
// x.y.1.0/24), a security group called name admitting SSH from anywhere,
// and one instance in it with a public address (in moto's real internet
// space: tests never probe it), tagged Name=tag when tag is not empty. It
// returns the group's and the instance's IDs.
func SSHInstance(tb testing.TB, c *ec2.Client, region, vpcCIDR, name, tag string) (group, instance string) {
	tb.Helper()
	ctx := context.Background()
	p, err := netip.ParsePrefix(vpcCIDR)
	if err != nil || !p.Addr().Is4() || p.Bits() != 16 {
		tb.Fatalf("moto fixture: %q is not an IPv4 /16", vpcCIDR)
	}
	a := p.Addr().As4()
	a[2] = 1
	vpc, subnet := PublicSubnet(tb, c, region, vpcCIDR, netip.PrefixFrom(netip.AddrFrom4(a), 24).String())
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("moto fixture: %s: %v", what, err)
		}
	}
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: aws.String(vpc), GroupName: aws.String(name), Description: aws.String(name)})
	must("create security group", err)
	group = aws.ToString(g.GroupId)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	must("authorize ssh", err)
	in := &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro,
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), SubnetId: aws.String(subnet), Groups: []string{group}, AssociatePublicIpAddress: aws.Bool(true)}},
	}
	if tag != "" {
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(tag)}}}}
	}
	out, err := c.RunInstances(ctx, in)
	must("run instance", err)
	return group, aws.ToString(out.Instances[0].InstanceId)
}
