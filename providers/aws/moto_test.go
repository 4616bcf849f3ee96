package aws

import (
	"context"
	"io/fs"
	"net"
	"os"
	"testing"

	"github.com/portcullis-sec/portcullis/internal/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// motoURL is the loopback moto_server every integration test talks to.
var motoURL string

// motoAccount is the account moto reports for any credentials.
const motoAccount = mototest.Account

func TestMain(m *testing.M) {
	os.Exit(mototest.Main(m, false, &motoURL))
}

// estate seeds resources in one region of moto through the real SDK.
type estate struct {
	t      *testing.T
	ctx    context.Context
	region string
	ec2    *ec2.Client
	elbv2  *elbv2.Client
	elb    *elb.Client
}

func newEstate(t *testing.T, region string) *estate {
	t.Helper()
	cfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(motoURL),
	}
	return &estate{
		t: t, ctx: context.Background(), region: region,
		ec2:   ec2.NewFromConfig(cfg),
		elbv2: elbv2.NewFromConfig(cfg),
		elb:   elb.NewFromConfig(cfg),
	}
}

func (e *estate) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func tagSpec(rt ec2types.ResourceType, name string) []ec2types.TagSpecification {
	if name == "" {
		return nil
	}
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}
}

func (e *estate) vpc(cidr string) string {
	e.t.Helper()
	out, err := e.ec2.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	e.must(err)
	return aws.ToString(out.Vpc.VpcId)
}

func (e *estate) subnet(vpc, cidr, ipv6 string) string {
	e.t.Helper()
	in := &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(e.region + "a")}
	if ipv6 != "" {
		in.Ipv6CidrBlock = aws.String(ipv6)
	}
	out, err := e.ec2.CreateSubnet(e.ctx, in)
	e.must(err)
	return aws.ToString(out.Subnet.SubnetId)
}

func (e *estate) subnetAZ(vpc, cidr, az string) string {
	e.t.Helper()
	out, err := e.ec2.CreateSubnet(e.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(e.region + az)})
	e.must(err)
	return aws.ToString(out.Subnet.SubnetId)
}

func (e *estate) igw(vpc string) string {
	e.t.Helper()
	out, err := e.ec2.CreateInternetGateway(e.ctx, &ec2.CreateInternetGatewayInput{})
	e.must(err)
	id := out.InternetGateway.InternetGatewayId
	e.must(mototest.AttachInternetGateway(e.ctx, e.ec2, aws.ToString(id), vpc))
	return aws.ToString(id)
}

// mainRouteTable returns the VPC's main route table.
func (e *estate) mainRouteTable(vpc string) string {
	e.t.Helper()
	out, err := e.ec2.DescribeRouteTables(e.ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}},
	}})
	e.must(err)
	if len(out.RouteTables) != 1 {
		e.t.Fatalf("vpc %s: %d main route tables", vpc, len(out.RouteTables))
	}
	return aws.ToString(out.RouteTables[0].RouteTableId)
}

func (e *estate) routeTable(vpc string, subnets ...string) string {
	e.t.Helper()
	out, err := e.ec2.CreateRouteTable(e.ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpc)})
	e.must(err)
	id := out.RouteTable.RouteTableId
	for _, s := range subnets {
		_, err := e.ec2.AssociateRouteTable(e.ctx, &ec2.AssociateRouteTableInput{RouteTableId: id, SubnetId: aws.String(s)})
		e.must(err)
	}
	return aws.ToString(id)
}

func (e *estate) route(in *ec2.CreateRouteInput) {
	e.t.Helper()
	_, err := e.ec2.CreateRoute(e.ctx, in)
	e.must(err)
}

func (e *estate) securityGroup(vpc, name string, perms ...ec2types.IpPermission) string {
	e.t.Helper()
	out, err := e.ec2.CreateSecurityGroup(e.ctx, &ec2.CreateSecurityGroupInput{
		VpcId: aws.String(vpc), GroupName: aws.String(name), Description: aws.String(name),
	})
	e.must(err)
	if len(perms) > 0 {
		_, err = e.ec2.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: out.GroupId, IpPermissions: perms})
		e.must(err)
	}
	return aws.ToString(out.GroupId)
}

func tcpFrom(from, to int32, cidrs ...string) ec2types.IpPermission {
	p := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
	for _, c := range cidrs {
		if net.ParseIP(c) == nil && c[len(c)-3:] != "" && contains6(c) {
			p.Ipv6Ranges = append(p.Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: aws.String(c)})
		} else {
			p.IpRanges = append(p.IpRanges, ec2types.IpRange{CidrIp: aws.String(c)})
		}
	}
	return p
}

func contains6(s string) bool {
	for _, c := range s {
		if c == ':' {
			return true
		}
	}
	return false
}

// instance launches one instance in subnet with the groups; it returns the
// instance and its primary ENI.
func (e *estate) instance(subnet, name string, publicIP bool, groups ...string) (string, string) {
	e.t.Helper()
	in := &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType:      ec2types.InstanceTypeT3Micro,
		TagSpecifications: tagSpec(ec2types.ResourceTypeInstance, name),
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), SubnetId: aws.String(subnet), Groups: groups,
			AssociatePublicIpAddress: aws.Bool(publicIP),
		}},
	}
	out, err := e.ec2.RunInstances(e.ctx, in)
	e.must(err)
	inst := out.Instances[0]
	return aws.ToString(inst.InstanceId), aws.ToString(inst.NetworkInterfaces[0].NetworkInterfaceId)
}

func (e *estate) eip(eni string) string {
	e.t.Helper()
	a, err := e.ec2.AllocateAddress(e.ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	e.must(err)
	_, err = e.ec2.AssociateAddress(e.ctx, &ec2.AssociateAddressInput{AllocationId: a.AllocationId, NetworkInterfaceId: aws.String(eni)})
	e.must(err)
	return aws.ToString(a.PublicIp)
}

// collect runs the real collector on the estate's region and normalizes
// the snapshot.
func (e *estate) collect() (*exposure.Inventory, *providers.Snapshot) {
	e.t.Helper()
	return collectRegions(e.t, nil, e.region)
}

func collectRegions(t *testing.T, onCall func(string), regions ...string) (*exposure.Inventory, *providers.Snapshot) {
	t.Helper()
	inv, snap := collectWith(t, Config{Regions: regions, Endpoint: motoURL, onCall: onCall})
	for _, e := range snap.Errors() {
		t.Errorf("collect error: %v", e)
	}
	return inv, snap
}

// collectWith runs the real collector with cfg and normalizes the
// snapshot; its collection errors are the caller's to check.
func collectWith(t *testing.T, cfg Config) (*exposure.Inventory, *providers.Snapshot) {
	t.Helper()
	c, err := NewCollector(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	snap := providers.NewSnapshot()
	if err := c.Collect(context.Background(), snap, providers.NoProgress{}); err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(snap.FS(), providerName)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Normalize(sub)
	if err != nil {
		t.Fatal(err)
	}
	return inv, snap
}
