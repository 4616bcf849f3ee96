package audit

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/internal/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/probe/lab"
	awsprov "github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/rules"
)

// motoURL is the loopback moto_server of this package's end-to-end tests.
var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

// TestAuditMotoEndToEnd runs every stage for real: the AWS SDK collects a
// moto estate, the snapshot is normalized and analyzed, the exposed ports
// are probed and the findings carry what the probes saw. The only public
// address of the estate is an Elastic IP, which moto takes from
// 127.0.0.0/8; the test checks that before anything is probed, and the
// probes go to loopback stand-ins.
func TestAuditMotoEndToEnd(t *testing.T) {
	ctx := context.Background()
	c := ec2.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.77.0.0/16")})
	must(err)
	vpcID := vpc.Vpc.VpcId
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	must(err)
	must(mototest.AttachInternetGateway(ctx, c, aws.ToString(igw.InternetGateway.InternetGatewayId), aws.ToString(vpcID)))
	sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.77.1.0/24")})
	must(err)
	rt, err := c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpcID})
	must(err)
	_, err = c.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTable.RouteTableId,
		DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: igw.InternetGateway.InternetGatewayId})
	must(err)
	_, err = c.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId, SubnetId: sub.Subnet.SubnetId})
	must(err)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("e2e-open"), Description: aws.String("e2e"), VpcId: vpcID})
	must(err)
	var perms []ec2types.IpPermission
	for _, p := range []int32{22, 6379} {
		perms = append(perms, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(p), ToPort: aws.Int32(p),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perms})
	must(err)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), SubnetId: sub.Subnet.SubnetId,
			Groups: []string{aws.ToString(sg.GroupId)}, AssociatePublicIpAddress: aws.Bool(false)}}})
	must(err)
	eni := run.Instances[0].NetworkInterfaces[0].NetworkInterfaceId
	alloc, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	must(err)
	_, err = c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, NetworkInterfaceId: eni})
	must(err)
	eip := netip.MustParseAddr(aws.ToString(alloc.PublicIp))
	if !eip.IsLoopback() {
		t.Fatalf("moto gave Elastic IP %s outside 127.0.0.0/8: refusing to probe", eip)
	}

	var planned []probe.Target
	var l *lab.Lab
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	res, err := Run(ctx, Options{
		Providers: []string{"aws"},
		AWS:       awsprov.Config{Regions: []string{"us-east-1"}, Endpoint: motoURL},
		Rules:     rules.Options{Now: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		Probe: ProbeOptions{
			Enabled: true,
			Config:  probe.Config{Timeout: time.Second, Rate: 500, PerAddressRate: 100, AllowLoopback: true},
			Setup: func(ctx context.Context, targets []probe.Target) (map[netip.AddrPort]netip.AddrPort, error) {
				// Network safety: nothing but the loopback Elastic IP may be
				// probed (other tests share this moto server and their
				// instances have auto-assigned 54.214.x addresses).
				var svcs []lab.Service
				for _, tg := range targets {
					if tg.Addr != eip {
						continue
					}
					planned = append(planned, tg)
					kind := lab.SSH
					if tg.Port == 6379 {
						kind = lab.Redis
					}
					svcs = append(svcs, lab.Service{Kind: kind, Public: netip.AddrPortFrom(tg.Addr, tg.Port)})
				}
				for _, tg := range targets {
					if !tg.Addr.IsLoopback() {
						return nil, fmt.Errorf("planned probe of %s: not a loopback Elastic IP", tg.Addr)
					}
				}
				var err error
				l, err = lab.Start(ctx, svcs)
				if err != nil {
					return nil, err
				}
				return l.Redirect(), nil
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Report.Errors {
		if e.Stage == "probe" {
			t.Fatalf("probe stage failed: %v", e)
		}
	}
	if len(planned) != 2 {
		t.Fatalf("planned probes on the Elastic IP: %+v, want ports 22 and 6379", planned)
	}
	seen := map[uint16]exposure.Observation{}
	for _, o := range res.Report.Observations {
		if o.Endpoint == eip.String() {
			seen[o.Port] = o
		}
	}
	if o := seen[22]; o.State != exposure.ProbeOpen || o.Service != "ssh" {
		t.Errorf("probe of %s:22 = %+v, want open ssh", eip, o)
	}
	if o := seen[6379]; o.State != exposure.ProbeOpen || o.Service != "redis" {
		t.Errorf("probe of %s:6379 = %+v, want open redis", eip, o)
	}
	var ssh *rules.Finding
	for i, f := range res.Report.Findings {
		if f.RuleID == "PORT-SSH" && f.Exposure.Endpoint.IP == eip {
			ssh = &res.Report.Findings[i]
		}
	}
	if ssh == nil {
		t.Fatalf("no PORT-SSH finding on %s", eip)
	}
	if ssh.Severity != rules.Critical || ssh.Probe == nil {
		t.Errorf("SSH finding confirmed by a probe: severity %s, probe %+v; want critical with the probe", ssh.Severity, ssh.Probe)
	}
}
