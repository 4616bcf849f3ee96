package aws

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

// publicVPC creates a VPC whose main route table sends 0.0.0.0/0 to an
// attached internet gateway, and one subnet in it.
func (e *estate) publicVPC(cidr, subnetCIDR string) (vpc, subnet, igw string) {
	e.t.Helper()
	vpc = e.vpc(cidr)
	subnet = e.subnet(vpc, subnetCIDR, "")
	igw = e.igw(vpc)
	e.route(&ec2.CreateRouteInput{RouteTableId: aws.String(e.mainRouteTable(vpc)), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igw)})
	return vpc, subnet, igw
}

// publicIPv4 returns the auto-assigned public IPv4 of an ENI.
func (e *estate) publicIPv4(eni string) string {
	e.t.Helper()
	out, err := e.ec2.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	e.must(err)
	if a := out.NetworkInterfaces[0].Association; a != nil && a.PublicIp != nil {
		return *a.PublicIp
	}
	e.t.Fatalf("%s has no public IPv4", eni)
	return ""
}

func (e *estate) privateIPv4(eni string) string {
	e.t.Helper()
	out, err := e.ec2.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	e.must(err)
	return aws.ToString(out.NetworkInterfaces[0].PrivateIpAddress)
}

// customACL creates a NACL, associates it with subnet and adds entries.
func (e *estate) customACL(vpc, subnet string, entries ...ec2.CreateNetworkAclEntryInput) string {
	e.t.Helper()
	out, err := e.ec2.CreateNetworkAcl(e.ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(vpc)})
	e.must(err)
	id := out.NetworkAcl.NetworkAclId
	cur, err := e.ec2.DescribeNetworkAcls(e.ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	e.must(err)
	var assoc *string
	for _, a := range cur.NetworkAcls {
		for _, as := range a.Associations {
			if aws.ToString(as.SubnetId) == subnet {
				assoc = as.NetworkAclAssociationId
			}
		}
	}
	if assoc == nil {
		e.t.Fatalf("subnet %s has no NACL association", subnet)
	}
	_, err = e.ec2.ReplaceNetworkAclAssociation(e.ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: assoc, NetworkAclId: id})
	e.must(err)
	for _, en := range entries {
		en.NetworkAclId = id
		_, err := e.ec2.CreateNetworkAclEntry(e.ctx, &en)
		e.must(err)
	}
	return aws.ToString(id)
}

func aclEntryInput(n int32, egress bool, action ec2types.RuleAction, proto, cidr string, from, to int32) ec2.CreateNetworkAclEntryInput {
	in := ec2.CreateNetworkAclEntryInput{RuleNumber: aws.Int32(n), Egress: aws.Bool(egress), RuleAction: action, Protocol: aws.String(proto)}
	if strings.Contains(cidr, ":") {
		in.Ipv6CidrBlock = aws.String(cidr)
	} else {
		in.CidrBlock = aws.String(cidr)
	}
	if proto == "6" || proto == "17" {
		in.PortRange = &ec2types.PortRange{From: aws.Int32(from), To: aws.Int32(to)}
	}
	return in
}

func TestPublicInstance(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "us-east-2")
	vpc, sn, _ := e.publicVPC("10.10.0.0/16", "10.10.1.0/24")
	sg := e.securityGroup(vpc, "ssh", tcpFrom(22, 22, "0.0.0.0/0"), tcpFrom(443, 443, "198.51.100.0/24"))
	inst, eni := e.instance(sn, "bastion", true, sg)
	pub := e.publicIPv4(eni)
	inv, _ := e.collect()

	tg := findTarget(t, inv, eni)
	if tg.Owner != inst || tg.Name != "bastion" || tg.Kind != exposure.KindInterface || tg.Tags["Name"] != "bastion" {
		t.Errorf("target identity: owner %q name %q kind %q tags %v", tg.Owner, tg.Name, tg.Kind, tg.Tags)
	}
	if len(tg.Endpoints) != 1 || tg.Endpoints[0].IP != netip.MustParseAddr(pub) {
		t.Errorf("endpoints %+v, want %s", tg.Endpoints, pub)
	}
	if got, want := pathShape(tg.Path), e.mainRouteTable(vpc)+" | "+aclIDOf(t, tg)+" | "+aclIDOf(t, tg)+"(out) | "+sg; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	eff, lat := exposuresOf(inv, eni, sg)
	assertLines(t, "effective", eff, []string{
		pub + " " + eni + " tcp/22 from internet4",
		pub + " " + eni + " tcp/443 from 198.51.100.0/24",
	})
	assertLines(t, "latent", lat, nil)
	if l := findLayer(t, inv, sg); !l.Attached || !l.Latent {
		t.Errorf("group %s: attached %v latent %v", sg, l.Attached, l.Latent)
	}
}

// aclIDOf returns the NACL ID on a target's path (the second hop).
func aclIDOf(t *testing.T, tg *exposure.Target) string {
	t.Helper()
	if len(tg.Path) < 2 || len(tg.Path[1].Layers) != 1 {
		t.Fatalf("path %s has no NACL hop", pathShape(tg.Path))
	}
	return tg.Path[1].Layers[0].ID
}

func TestPublicIPInPrivateSubnet(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "us-west-1")
	vpc := e.vpc("10.20.0.0/16")
	e.igw(vpc) // attached, but no route sends traffic to it
	sn := e.subnet(vpc, "10.20.1.0/24", "")
	rtb := e.routeTable(vpc, sn)
	sg := e.securityGroup(vpc, "db", tcpFrom(5432, 5432, "0.0.0.0/0"))
	_, eni := e.instance(sn, "db", true, sg)
	eip := e.eip(eni)
	inv, _ := e.collect()

	tg := findTarget(t, inv, eni)
	found := false
	for _, ep := range tg.Endpoints {
		found = found || ep.IP.String() == eip
	}
	if !found {
		t.Errorf("endpoints %+v lack the Elastic IP %s", tg.Endpoints, eip)
	}
	if len(tg.Path) == 0 || tg.Path[0].Layers[0].ID != rtb || len(tg.Path[0].Layers[0].Rules) != 0 {
		t.Errorf("path %s: want the explicit table %s first, with no internet route", pathShape(tg.Path), rtb)
	}
	eff, lat := exposuresOf(inv, eni, sg)
	assertLines(t, "effective", eff, nil)
	assertLines(t, "latent", lat, []string{sg + " tcp/5432 from internet4"})
}

func TestNACLDenyBeforeAllow(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "us-west-2")
	vpc, sn, _ := e.publicVPC("10.30.0.0/16", "10.30.1.0/24")
	acl := e.customACL(vpc, sn,
		aclEntryInput(90, false, ec2types.RuleActionDeny, "6", "203.0.113.0/24", 22, 22),
		aclEntryInput(100, false, ec2types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0),
		// Lower number wins: the allow at 50 beats the deny at 60.
		aclEntryInput(50, false, ec2types.RuleActionAllow, "6", "198.51.100.0/24", 3306, 3306),
		aclEntryInput(60, false, ec2types.RuleActionDeny, "6", "0.0.0.0/0", 3306, 3306),
		aclEntryInput(100, true, ec2types.RuleActionAllow, "6", "0.0.0.0/0", 1024, 65535),
	)
	sg := e.securityGroup(vpc, "ssh", tcpFrom(22, 22, "0.0.0.0/0"), tcpFrom(3306, 3306, "0.0.0.0/0"))
	_, eni := e.instance(sn, "host", true, sg)
	pub := e.publicIPv4(eni)
	inv, _ := e.collect()

	tg := findTarget(t, inv, eni)
	if got := aclIDOf(t, tg); got != acl {
		t.Errorf("NACL on path %s, want %s", got, acl)
	}
	eff, _ := exposuresOf(inv, eni)
	assertLines(t, "effective", eff, []string{
		pub + " " + eni + " tcp/22 from internet4-203.0.113.0/24",
		pub + " " + eni + " tcp/3306 from 198.51.100.0/24",
	})
}

func TestSecurityGroupReference(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "eu-west-1")
	vpc, sn, _ := e.publicVPC("10.40.0.0/16", "10.40.1.0/24")
	web := e.securityGroup(vpc, "web", tcpFrom(443, 443, "0.0.0.0/0"))
	app := e.securityGroup(vpc, "app")
	_, err := e.ec2.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(app), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432),
		UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(web)}},
	}}})
	e.must(err)
	_, webENI := e.instance(sn, "web", true, web)
	_, appENI := e.instance(sn, "app", true, app)
	inv, _ := e.collect()

	l := findLayer(t, inv, app)
	if len(l.Rules) != 1 || l.Rules[0].SourceNames[0] != web {
		t.Fatalf("app rules %+v", l.Rules)
	}
	if got, want := exposure.Addrs(l.Rules[0].Sources), []string{e.privateIPv4(webENI) + "/32"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("reference resolves to %v, want %v", got, want)
	}
	eff, lat := exposuresOf(inv, appENI, app)
	assertLines(t, "effective", eff, nil)
	assertLines(t, "latent", lat, nil)
}

func TestPrefixListSource(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "eu-west-2")
	vpc, sn, _ := e.publicVPC("10.50.0.0/16", "10.50.1.0/24")
	pl, err := e.ec2.CreateManagedPrefixList(e.ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("office"), AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(5),
		Entries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("198.51.100.0/24")}, {Cidr: aws.String("203.0.113.0/25")}},
	})
	e.must(err)
	plID := aws.ToString(pl.PrefixList.PrefixListId)
	sg := e.securityGroup(vpc, "admin", ec2types.IpPermission{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8443), ToPort: aws.Int32(8443),
		PrefixListIds: []ec2types.PrefixListId{{PrefixListId: aws.String(plID)}},
	})
	_, eni := e.instance(sn, "admin", true, sg)
	pub := e.publicIPv4(eni)
	inv, _ := e.collect()
	eff, _ := exposuresOf(inv, eni)
	assertLines(t, "effective", eff, []string{pub + " " + eni + " tcp/8443 from 198.51.100.0/24,203.0.113.0/25"})
	if l := findLayer(t, inv, sg); l.Rules[0].SourceNames[0] != plID {
		t.Errorf("evidence source %v, want %s", l.Rules[0].SourceNames, plID)
	}
}

func TestAllTrafficAndICMP(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "eu-west-3")
	vpc, sn, _ := e.publicVPC("10.60.0.0/16", "10.60.1.0/24")
	sg := e.securityGroup(vpc, "wide",
		ec2types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("192.0.2.0/24")}}},
		ec2types.IpPermission{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(8), ToPort: aws.Int32(-1), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
		ec2types.IpPermission{IpProtocol: aws.String("50"), FromPort: aws.Int32(5), ToPort: aws.Int32(6), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("198.51.100.7/32")}}},
	)
	_, eni := e.instance(sn, "wide", true, sg)
	pub := e.publicIPv4(eni)
	inv, _ := e.collect()
	eff, _ := exposuresOf(inv, eni)
	assertLines(t, "effective", eff, []string{
		pub + " " + eni + " tcp/0-65535 from 192.0.2.0/24",
		pub + " " + eni + " udp/0-65535 from 192.0.2.0/24",
		pub + " " + eni + " icmp/0-7 from 192.0.2.0/24",
		pub + " " + eni + " icmp/8 from internet4",
		pub + " " + eni + " icmp/9-65535 from 192.0.2.0/24",
		// protocol 50 (ESP) has no ports: the rule's port fields are ignored
		pub + " " + eni + " esp/0-65535 from 192.0.2.0/24,198.51.100.7/32",
		pub + " " + eni + " all/0-65535 from 192.0.2.0/24",
	})
}

func TestUnattachedGroupAndStoppedInstance(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "eu-central-1")
	vpc, sn, _ := e.publicVPC("10.70.0.0/16", "10.70.1.0/24")
	loose := e.securityGroup(vpc, "loose", tcpFrom(3389, 3389, "0.0.0.0/0"))
	stoppedSG := e.securityGroup(vpc, "stopped", tcpFrom(22, 22, "0.0.0.0/0"))
	inst, eni := e.instance(sn, "stopped", true, stoppedSG)
	_, err := e.ec2.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{inst}})
	e.must(err)
	inv, _ := e.collect()

	if hasTarget(inv, eni) {
		t.Errorf("the ENI of stopped instance %s is a target", inst)
	}
	if l := findLayer(t, inv, loose); l.Attached {
		t.Errorf("group %s is unattached but Attached is true", loose)
	}
	if l := findLayer(t, inv, stoppedSG); !l.Attached {
		t.Errorf("group %s is on a stopped instance's ENI but Attached is false", stoppedSG)
	}
	_, lat := exposuresOf(inv, loose, stoppedSG)
	want := []string{loose + " tcp/3389 from internet4", stoppedSG + " tcp/22 from internet4"}
	slices.Sort(want)
	assertLines(t, "latent", lat, want)
}

func TestMainVersusExplicitRouteTable(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ap-northeast-2")
	vpc, public, igw := e.publicVPC("10.80.0.0/16", "10.80.1.0/24")
	private := e.subnet(vpc, "10.80.2.0/24", "")
	rtb := e.routeTable(vpc, private)
	// A more specific route elsewhere takes its range away from the
	// internet gateway (longest prefix match): replies to 198.51.100.0/24
	// leave through another interface.
	_, applianceENI := e.instance(public, "appliance", false)
	e.route(&ec2.CreateRouteInput{RouteTableId: aws.String(e.mainRouteTable(vpc)), DestinationCidrBlock: aws.String("198.51.100.0/24"), NetworkInterfaceId: aws.String(applianceENI)})
	e.route(&ec2.CreateRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String("203.0.113.0/24"), GatewayId: aws.String(igw)})
	sg := e.securityGroup(vpc, "http", tcpFrom(80, 80, "0.0.0.0/0"))
	_, pubENI := e.instance(public, "public", true, sg)
	_, privENI := e.instance(private, "private", true, sg)
	pubIP, privIP := e.publicIPv4(pubENI), e.publicIPv4(privENI)
	inv, _ := e.collect()

	if got := findTarget(t, inv, pubENI).Path[0].Layers[0].ID; got != e.mainRouteTable(vpc) {
		t.Errorf("public subnet route table %s, want the main table", got)
	}
	if got := findTarget(t, inv, privENI).Path[0].Layers[0].ID; got != rtb {
		t.Errorf("private subnet route table %s, want %s", got, rtb)
	}
	eff, _ := exposuresOf(inv, pubENI, privENI)
	want := []string{
		pubIP + " " + pubENI + " tcp/80 from internet4-198.51.100.0/24",
		privIP + " " + privENI + " tcp/80 from 203.0.113.0/24",
	}
	if pubENI > privENI {
		want[0], want[1] = want[1], want[0]
	}
	assertLines(t, "effective", eff, want)
}

func TestIPv6OnlyInterface(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ap-northeast-1")
	out, err := e.ec2.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.90.0.0/16"), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	e.must(err)
	vpc := aws.ToString(out.Vpc.VpcId)
	v, err := e.ec2.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	e.must(err)
	block := netip.MustParsePrefix(aws.ToString(v.Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock))
	sub1 := netip.PrefixFrom(block.Addr(), 64)
	next := block.Addr().As16()
	next[7]++
	sub2 := netip.PrefixFrom(netip.AddrFrom16(next), 64)
	igw := e.igw(vpc)
	open := e.subnet(vpc, "10.90.1.0/24", sub1.String())
	closed := e.subnet(vpc, "10.90.2.0/24", sub2.String())
	e.route(&ec2.CreateRouteInput{RouteTableId: aws.String(e.routeTable(vpc, open)), DestinationIpv6CidrBlock: aws.String("::/0"), GatewayId: aws.String(igw)})
	eigw, err := e.ec2.CreateEgressOnlyInternetGateway(e.ctx, &ec2.CreateEgressOnlyInternetGatewayInput{VpcId: aws.String(vpc)})
	e.must(err)
	e.route(&ec2.CreateRouteInput{RouteTableId: aws.String(e.routeTable(vpc, closed)), DestinationIpv6CidrBlock: aws.String("::/0"),
		EgressOnlyInternetGatewayId: eigw.EgressOnlyInternetGateway.EgressOnlyInternetGatewayId})
	// moto's default NACL of a dual-stack VPC lacks AWS's ::/0 rules.
	for _, sn := range []string{open, closed} {
		e.customACL(vpc, sn,
			aclEntryInput(100, false, ec2types.RuleActionAllow, "-1", "::/0", 0, 0),
			aclEntryInput(100, true, ec2types.RuleActionAllow, "-1", "::/0", 0, 0))
	}
	sg := e.securityGroup(vpc, "web6", tcpFrom(443, 443, "::/0"))
	var enis, addrs []string
	for i, sn := range []string{open, closed} {
		pfx := []netip.Prefix{sub1, sub2}[i]
		_, eni := e.instance(sn, "v6", false, sg)
		a := pfx.Addr().As16()
		a[15] = 0x10
		addr := netip.AddrFrom16(a).String()
		_, err := e.ec2.AssignIpv6Addresses(e.ctx, &ec2.AssignIpv6AddressesInput{NetworkInterfaceId: aws.String(eni), Ipv6Addresses: []string{addr}})
		e.must(err)
		enis, addrs = append(enis, eni), append(addrs, addr)
	}
	inv, _ := e.collect()
	for i, eni := range enis {
		tg := findTarget(t, inv, eni)
		if len(tg.Endpoints) != 1 || tg.Endpoints[0].IP.String() != addrs[i] || !tg.Endpoints[0].Is6() {
			t.Errorf("%s endpoints %+v, want only %s", eni, tg.Endpoints, addrs[i])
		}
	}
	eff, _ := exposuresOf(inv, enis...)
	// The VPC's own block routes locally: its addresses are no internet
	// clients.
	assertLines(t, "effective", eff, []string{addrs[0] + " " + enis[0] + " tcp/443 from internet6-" + block.String()})
}
