// Package estategen writes synthetic AWS snapshots for the end-to-end
// benchmarks: the files `portcullis snapshot` (or the AWS CLI) writes, in
// the AWS CLI's own shapes, at any number of network interfaces.
//
// The estate is shaped after real ones and fixed by a seed, so every run
// reads the same bytes:
//
//   - one VPC per 1,000 interfaces (10.v.0.0/16 and 2001:db8:v::/56), each
//     with 4 subnets: three routed to an internet gateway, one private;
//   - one default network ACL per VPC: RDP denied, everything else allowed;
//   - one security group per 5 interfaces, 50 ingress rules each (1M rules
//     at 100k interfaces), every interface in 2 groups of its VPC;
//   - rules mixing private CIDRs, group references, IPv6 ranges, narrow
//     public sources and a few rules open to 0.0.0.0/0 or ::/0;
//   - every third interface public (an association's public IPv4), every
//     sixth with an IPv6 address as well; each attached to an instance.
//
// Public addresses come only from the documentation ranges (RFC 5737,
// RFC 3849): 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
// 2001:db8::/32. The three IPv4 ranges hold 762 usable addresses, so large
// estates reuse them; no part of the audit keys anything on a public
// address being unique.
package estategen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Account and Region are where the estate lives.
const (
	Account = "111122223333"
	Region  = "eu-west-1"
)

// Shape constants of the estate (see the package comment).
const (
	InterfacesPerVPC   = 1000
	SubnetsPerVPC      = 4
	InterfacesPerGroup = 5
	RulesPerGroup      = 50
)

// Stats describes a written estate.
type Stats struct {
	Interfaces int
	VPCs       int
	Groups     int
	Rules      int
	// OpenRules are the rules open to 0.0.0.0/0 or ::/0.
	OpenRules int
	Public    int
	Files     int
	Bytes     int64
}

// Write writes an estate of n interfaces under dir (dir/aws/<account>/…)
// and returns what it wrote. The same n always writes the same bytes.
func Write(dir string, n int) (Stats, error) {
	if n < 1 {
		return Stats{}, fmt.Errorf("estate of %d interfaces: want at least 1", n)
	}
	g := &gen{n: n, rng: rand.New(rand.NewPCG(1, uint64(n)))} //nolint:gosec // G404: seeded on purpose, so the same n writes the same estate (reproducible benchmarks); nothing secret is drawn
	g.vpcs = (n + InterfacesPerVPC - 1) / InterfacesPerVPC
	g.groups = (n + InterfacesPerGroup - 1) / InterfacesPerGroup
	g.stats = Stats{Interfaces: n, VPCs: g.vpcs, Groups: g.groups}
	acct := filepath.Join(dir, exposure.ProviderAWS, Account)
	reg := filepath.Join(acct, Region)
	if err := os.MkdirAll(reg, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create estate directory: %w", err)
	}
	if err := g.writeDoc(filepath.Join(acct, "sts-get-caller-identity.json"), map[string]string{
		"UserId": "AIDAEXAMPLEBENCH", "Account": Account, "Arn": "arn:aws:iam::" + Account + ":user/bench",
	}); err != nil {
		return Stats{}, err
	}
	files := []struct {
		name, key string
		count     int
		item      func(i int) any
	}{
		{"ec2-describe-vpcs.json", "Vpcs", g.vpcs, g.vpc},
		{"ec2-describe-subnets.json", "Subnets", g.vpcs * SubnetsPerVPC, g.subnet},
		{"ec2-describe-route-tables.json", "RouteTables", g.vpcs * 2, g.routeTable},
		{"ec2-describe-internet-gateways.json", "InternetGateways", g.vpcs, g.internetGateway},
		{"ec2-describe-egress-only-internet-gateways.json", "EgressOnlyInternetGateways", 0, nil},
		{"ec2-describe-nat-gateways.json", "NatGateways", 0, nil},
		{"ec2-describe-network-acls.json", "NetworkAcls", g.vpcs, g.networkACL},
		{"ec2-describe-security-groups.json", "SecurityGroups", g.groups, g.securityGroup},
		{"ec2-describe-managed-prefix-lists.json", "PrefixLists", 0, nil},
		{"ec2-describe-network-interfaces.json", "NetworkInterfaces", n, g.networkInterface},
		{"ec2-describe-instances.json", "Reservations", n, g.reservation},
		{"ec2-describe-addresses.json", "Addresses", 0, nil},
		{"elbv2-describe-load-balancers.json", "LoadBalancers", 0, nil},
		{"elbv2-describe-tags.json", "TagDescriptions", 0, nil},
		{"elbv2-describe-listeners.json", "Listeners", 0, nil},
		{"elbv2-describe-target-groups.json", "TargetGroups", 0, nil},
		{"elb-describe-load-balancers.json", "LoadBalancerDescriptions", 0, nil},
		{"elb-describe-tags.json", "TagDescriptions", 0, nil},
	}
	for _, f := range files {
		if err := g.writeList(filepath.Join(reg, f.name), f.key, f.count, f.item); err != nil {
			return Stats{}, err
		}
	}
	return g.stats, nil
}

type gen struct {
	n, vpcs, groups int
	rng             *rand.Rand
	stats           Stats
}

// writeList writes {"key": [item(0), …, item(count-1)]}, one item at a
// time, indented by two spaces as `portcullis snapshot` writes its files
// (the AWS CLI indents by four; the decoders do not care, the file size
// does).
func (g *gen) writeList(path, key string, count int, item func(int) any) error {
	f, err := os.Create(path) //nolint:gosec // G304: path is the directory the caller names (a flag or t.TempDir) joined with a fixed file name
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	cw := &countingWriter{w: w}
	cw.put(fmt.Appendf(nil, "{\n  %q: [", key))
	for i := 0; i < count && cw.err == nil; i++ {
		b, err := json.MarshalIndent(item(i), "    ", "  ")
		if err != nil {
			_ = f.Close() // the encoding error is the one to report
			return fmt.Errorf("encode %s[%d]: %w", key, i, err)
		}
		if i > 0 {
			cw.put([]byte(","))
		}
		cw.put([]byte("\n    "))
		cw.put(b)
	}
	if count > 0 {
		cw.put([]byte("\n  "))
	}
	cw.put([]byte("]\n}\n"))
	err = cw.err
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	g.stats.Files++
	g.stats.Bytes += cw.n
	return nil
}

func (g *gen) writeDoc(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	g.stats.Files++
	g.stats.Bytes += int64(len(b) + 1)
	return nil
}

// countingWriter counts the bytes written and keeps the first write
// error, which writeList checks once at the end.
type countingWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (c *countingWriter) put(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

// IDs: AWS prints 17 hex digits after the prefix.
func vpcID(v int) string           { return fmt.Sprintf("vpc-%017x", 0x1000000+v) }
func subnetID(v, s int) string     { return fmt.Sprintf("subnet-%017x", 0x2000000+v*SubnetsPerVPC+s) }
func groupID(gr int) string        { return fmt.Sprintf("sg-%017x", 0x3000000+gr) }
func eniID(i int) string           { return fmt.Sprintf("eni-%017x", 0x4000000+i) }
func instanceID(i int) string      { return fmt.Sprintf("i-%017x", 0x5000000+i) }
func igwID(v int) string           { return fmt.Sprintf("igw-%017x", 0x6000000+v) }
func routeTableID(v, k int) string { return fmt.Sprintf("rtb-%017x", 0x7000000+v*2+k) }
func aclID(v int) string           { return fmt.Sprintf("acl-%017x", 0x8000000+v) }
func vpcIPv6(v int) string         { return fmt.Sprintf("2001:db8:%x::/56", v) }
func subnetIPv6(v, s int) string   { return fmt.Sprintf("2001:db8:%x:%x::/64", v, s) }
func subnetCIDR(v, s int) string   { return fmt.Sprintf("10.%d.%d.0/18", v%250, s*64) }
func v4net(v int) string           { return fmt.Sprintf("10.%d.0.0/16", v%250) }
func az(s int) string              { return Region + string(rune('a'+s%3)) }
func nameTag(name string) []awsTag { return []awsTag{{Key: "Name", Value: name}} }
func groupOfVPC(v, k int) int      { return v*(InterfacesPerVPC/InterfacesPerGroup) + k }
func vpcOfGroup(gr int) int        { return gr / (InterfacesPerVPC / InterfacesPerGroup) }
func subnetOfInterface(i int) int  { return (i % InterfacesPerVPC) % SubnetsPerVPC }
func vpcOfInterface(i int) int     { return i / InterfacesPerVPC }
func indexInSubnet(i int) int      { return (i % InterfacesPerVPC) / SubnetsPerVPC }
func privateIP(i int) string {
	v, s, m := vpcOfInterface(i), subnetOfInterface(i), indexInSubnet(i)
	return fmt.Sprintf("10.%d.%d.%d", v%250, s*64+m/250, 4+m%250)
}

// publicIP is the k-th public address: the documentation ranges, cycled.
func publicIP(k int) string {
	nets := [3]string{"192.0.2", "198.51.100", "203.0.113"}
	k %= 3 * 254
	return fmt.Sprintf("%s.%d", nets[k/254], 1+k%254)
}

type awsTag struct {
	Key   string
	Value string
}

func (g *gen) vpc(v int) any {
	return map[string]any{
		"CidrBlock":       v4net(v),
		"DhcpOptionsId":   "dopt-0123456789abcdef0",
		"State":           "available",
		"VpcId":           vpcID(v),
		"OwnerId":         Account,
		"InstanceTenancy": "default",
		"Ipv6CidrBlockAssociationSet": []any{map[string]any{
			"AssociationId":      fmt.Sprintf("vpc-cidr-assoc-%017x", v),
			"Ipv6CidrBlock":      vpcIPv6(v),
			"Ipv6CidrBlockState": map[string]string{"State": "associated"},
			"NetworkBorderGroup": Region,
			"Ipv6Pool":           "Amazon",
		}},
		"CidrBlockAssociationSet": []any{map[string]any{
			"AssociationId":  fmt.Sprintf("vpc-cidr-assoc-%017x", 0x100000+v),
			"CidrBlock":      v4net(v),
			"CidrBlockState": map[string]string{"State": "associated"},
		}},
		"IsDefault": false,
		"Tags":      nameTag(fmt.Sprintf("bench-vpc-%d", v)),
	}
}

func (g *gen) subnet(i int) any {
	v, s := i/SubnetsPerVPC, i%SubnetsPerVPC
	return map[string]any{
		"AvailabilityZone":            az(s),
		"AvailabilityZoneId":          fmt.Sprintf("euw1-az%d", 1+s%3),
		"AvailableIpAddressCount":     16000,
		"CidrBlock":                   subnetCIDR(v, s),
		"DefaultForAz":                false,
		"MapPublicIpOnLaunch":         s != SubnetsPerVPC-1,
		"State":                       "available",
		"SubnetId":                    subnetID(v, s),
		"VpcId":                       vpcID(v),
		"OwnerId":                     Account,
		"AssignIpv6AddressOnCreation": false,
		"Ipv6CidrBlockAssociationSet": []any{map[string]any{
			"AssociationId":      fmt.Sprintf("subnet-cidr-assoc-%017x", i),
			"Ipv6CidrBlock":      subnetIPv6(v, s),
			"Ipv6CidrBlockState": map[string]string{"State": "associated"},
		}},
		"SubnetArn": fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", Region, Account, subnetID(v, s)),
		"Tags":      nameTag(fmt.Sprintf("bench-subnet-%d-%d", v, s)),
	}
}

// routeTable: per VPC a main table (local routes only, so the last subnet,
// which has no association of its own, is private) and a public one
// associated with the other subnets.
func (g *gen) routeTable(i int) any {
	v, k := i/2, i%2
	routes := []any{
		map[string]any{"DestinationCidrBlock": v4net(v), "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
		map[string]any{"DestinationIpv6CidrBlock": vpcIPv6(v), "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
	}
	var assocs []any
	if k == 0 {
		assocs = append(assocs, map[string]any{
			"Main": true, "RouteTableAssociationId": fmt.Sprintf("rtbassoc-%017x", v*8),
			"RouteTableId": routeTableID(v, k), "AssociationState": map[string]string{"State": "associated"},
		})
	} else {
		routes = append(routes,
			map[string]any{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igwID(v), "Origin": "CreateRoute", "State": "active"},
			map[string]any{"DestinationIpv6CidrBlock": "::/0", "GatewayId": igwID(v), "Origin": "CreateRoute", "State": "active"})
		for s := 0; s < SubnetsPerVPC-1; s++ {
			assocs = append(assocs, map[string]any{
				"Main": false, "RouteTableAssociationId": fmt.Sprintf("rtbassoc-%017x", v*8+1+s),
				"RouteTableId": routeTableID(v, k), "SubnetId": subnetID(v, s),
				"AssociationState": map[string]string{"State": "associated"},
			})
		}
	}
	return map[string]any{
		"Associations":    assocs,
		"PropagatingVgws": []any{},
		"RouteTableId":    routeTableID(v, k),
		"Routes":          routes,
		"Tags":            nameTag(fmt.Sprintf("bench-rtb-%d-%d", v, k)),
		"VpcId":           vpcID(v),
		"OwnerId":         Account,
	}
}

func (g *gen) internetGateway(v int) any {
	return map[string]any{
		"Attachments":       []any{map[string]string{"State": "available", "VpcId": vpcID(v)}},
		"InternetGatewayId": igwID(v),
		"OwnerId":           Account,
		"Tags":              nameTag(fmt.Sprintf("bench-igw-%d", v)),
	}
}

func (g *gen) networkACL(v int) any {
	entry := func(n int, egress bool, proto, action, cidr string, v6 bool, from, to int) map[string]any {
		e := map[string]any{"Egress": egress, "Protocol": proto, "RuleAction": action, "RuleNumber": n}
		if v6 {
			e["Ipv6CidrBlock"] = cidr
		} else {
			e["CidrBlock"] = cidr
		}
		if from >= 0 {
			e["PortRange"] = map[string]int{"From": from, "To": to}
		}
		return e
	}
	var entries []any
	for _, egress := range []bool{true, false} {
		if !egress {
			entries = append(entries, entry(90, false, "6", "deny", "0.0.0.0/0", false, 3389, 3389))
		}
		entries = append(entries,
			entry(100, egress, "-1", "allow", "0.0.0.0/0", false, -1, 0),
			entry(101, egress, "-1", "allow", "::/0", true, -1, 0),
			entry(32767, egress, "-1", "deny", "0.0.0.0/0", false, -1, 0),
			entry(32768, egress, "-1", "deny", "::/0", true, -1, 0))
	}
	var assocs []any
	for s := 0; s < SubnetsPerVPC; s++ {
		assocs = append(assocs, map[string]string{
			"NetworkAclAssociationId": fmt.Sprintf("aclassoc-%017x", v*SubnetsPerVPC+s),
			"NetworkAclId":            aclID(v), "SubnetId": subnetID(v, s),
		})
	}
	return map[string]any{
		"Associations": assocs, "Entries": entries, "IsDefault": true,
		"NetworkAclId": aclID(v), "Tags": []any{}, "VpcId": vpcID(v), "OwnerId": Account,
	}
}

// ports are the services rules open; a few rules open other ports or
// ranges.
var ports = [...]int{22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9200, 27017}

type ipRange struct {
	CidrIp      string `json:"CidrIp"`
	Description string `json:"Description,omitempty"`
}

type ipv6Range struct {
	CidrIpv6    string `json:"CidrIpv6"`
	Description string `json:"Description,omitempty"`
}

type groupPair struct {
	Description string `json:"Description,omitempty"`
	GroupId     string
	UserId      string
}

type ipPermission struct {
	FromPort         *int `json:"FromPort,omitempty"`
	IpProtocol       string
	IpRanges         []ipRange
	Ipv6Ranges       []ipv6Range
	PrefixListIds    []any
	ToPort           *int `json:"ToPort,omitempty"`
	UserIdGroupPairs []groupPair
}

func (g *gen) rule(gr int) ipPermission {
	r := g.rng
	p := ipPermission{IpProtocol: "tcp", IpRanges: []ipRange{}, Ipv6Ranges: []ipv6Range{}, PrefixListIds: []any{}, UserIdGroupPairs: []groupPair{}}
	from := ports[r.IntN(len(ports))]
	if r.IntN(20) == 0 {
		from = 1024 + r.IntN(60000)
	}
	to := from
	if r.IntN(10) == 0 {
		to = min(from+r.IntN(100), 65535)
	}
	if r.IntN(25) == 0 {
		p.IpProtocol = "udp"
	}
	p.FromPort, p.ToPort = &from, &to
	v := vpcOfGroup(gr)
	switch k := r.IntN(100); {
	case k < 40: // a private range of the estate
		p.IpRanges = append(p.IpRanges, ipRange{CidrIp: fmt.Sprintf("10.%d.%d.0/24", r.IntN(250), r.IntN(256))})
	case k < 60: // another group of the VPC
		peer := groupOfVPC(v, r.IntN(InterfacesPerVPC/InterfacesPerGroup))
		if peer >= g.groups {
			peer = gr
		}
		p.UserIdGroupPairs = append(p.UserIdGroupPairs, groupPair{GroupId: groupID(peer), UserId: Account, Description: "peer service"})
	case k < 70: // the VPC's own IPv6 or a partner's IPv6 range
		if r.IntN(2) == 0 {
			p.Ipv6Ranges = append(p.Ipv6Ranges, ipv6Range{CidrIpv6: vpcIPv6(v)})
		} else {
			p.Ipv6Ranges = append(p.Ipv6Ranges, ipv6Range{CidrIpv6: fmt.Sprintf("2001:db8:ff%02x:%x::/64", r.IntN(64), r.IntN(16)), Description: "partner v6"})
		}
	case k < 88: // a narrow public source: an office, a partner
		switch r.IntN(3) {
		case 0:
			p.IpRanges = append(p.IpRanges, ipRange{CidrIp: fmt.Sprintf("203.0.113.%d/32", r.IntN(256)), Description: "office"})
		case 1:
			p.IpRanges = append(p.IpRanges, ipRange{CidrIp: fmt.Sprintf("198.51.100.%d/28", 16*r.IntN(16)), Description: "partner"})
		default:
			p.IpRanges = append(p.IpRanges, ipRange{CidrIp: "192.0.2.0/24", Description: "vpn"})
		}
	case k < 95: // the rest of the private space
		p.IpRanges = append(p.IpRanges, ipRange{CidrIp: fmt.Sprintf("172.%d.0.0/16", 16+r.IntN(16))})
	case k < 98: // open to the world
		p.IpRanges = append(p.IpRanges, ipRange{CidrIp: "0.0.0.0/0"})
		g.stats.OpenRules++
	default:
		p.Ipv6Ranges = append(p.Ipv6Ranges, ipv6Range{CidrIpv6: "::/0"})
		g.stats.OpenRules++
	}
	g.stats.Rules++
	return p
}

func (g *gen) securityGroup(gr int) any {
	perms := make([]ipPermission, RulesPerGroup)
	for i := range perms {
		perms[i] = g.rule(gr)
	}
	return map[string]any{
		"Description":   fmt.Sprintf("bench service %d", gr),
		"GroupName":     fmt.Sprintf("bench-sg-%d", gr),
		"IpPermissions": perms,
		"OwnerId":       Account,
		"GroupId":       groupID(gr),
		"IpPermissionsEgress": []any{map[string]any{
			"IpProtocol": "-1", "IpRanges": []ipRange{{CidrIp: "0.0.0.0/0"}}, "Ipv6Ranges": []any{},
			"PrefixListIds": []any{}, "UserIdGroupPairs": []any{},
		}},
		"Tags":  []awsTag{{Key: "service", Value: fmt.Sprintf("svc-%d", gr)}},
		"VpcId": vpcID(vpcOfGroup(gr)),
	}
}

// groupsOf are an interface's two groups, both in its VPC: the group of
// its block of five and one further along.
func (g *gen) groupsOf(i int) [2]int {
	v, k := vpcOfInterface(i), i%InterfacesPerVPC
	per := InterfacesPerVPC / InterfacesPerGroup
	a, b := groupOfVPC(v, k/InterfacesPerGroup), groupOfVPC(v, (k/InterfacesPerGroup+37)%per)
	if b >= g.groups {
		b = a
	}
	return [2]int{a, b}
}

func (g *gen) networkInterface(i int) any {
	v, s := vpcOfInterface(i), subnetOfInterface(i)
	var assoc map[string]any
	pub := i%3 == 0
	if pub {
		ip := publicIP(i / 3)
		assoc = map[string]any{"IpOwnerId": "amazon", "PublicDnsName": "", "PublicIp": ip}
		g.stats.Public++
	}
	priv := map[string]any{"Primary": true, "PrivateDnsName": fmt.Sprintf("ip-%s.%s.compute.internal", privateIP(i), Region), "PrivateIpAddress": privateIP(i)}
	if assoc != nil {
		priv["Association"] = assoc
	}
	grs := g.groupsOf(i)
	groups := []map[string]string{{"GroupName": fmt.Sprintf("bench-sg-%d", grs[0]), "GroupId": groupID(grs[0])}}
	if grs[1] != grs[0] {
		groups = append(groups, map[string]string{"GroupName": fmt.Sprintf("bench-sg-%d", grs[1]), "GroupId": groupID(grs[1])})
	}
	v6 := []any{}
	if i%6 == 0 {
		v6 = append(v6, map[string]string{"Ipv6Address": fmt.Sprintf("2001:db8:%x:%x::%x", v, s, 16+indexInSubnet(i))})
	}
	e := map[string]any{
		"Attachment": map[string]any{
			"AttachTime": "2026-01-02T03:04:05+00:00", "AttachmentId": fmt.Sprintf("eni-attach-%017x", i),
			"DeleteOnTermination": true, "DeviceIndex": 0, "NetworkCardIndex": 0,
			"InstanceId": instanceID(i), "InstanceOwnerId": Account, "Status": "attached",
		},
		"AvailabilityZone":   az(s),
		"Description":        "",
		"Groups":             groups,
		"InterfaceType":      "interface",
		"Ipv6Addresses":      v6,
		"MacAddress":         fmt.Sprintf("02:%02x:%02x:%02x:%02x:01", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)), //nolint:gosec // G115: truncating to each byte of i is the point
		"NetworkInterfaceId": eniID(i),
		"OwnerId":            Account,
		"PrivateDnsName":     fmt.Sprintf("ip-%s.%s.compute.internal", privateIP(i), Region),
		"PrivateIpAddress":   privateIP(i),
		"PrivateIpAddresses": []any{priv},
		"RequesterManaged":   false,
		"SourceDestCheck":    true,
		"Status":             "in-use",
		"SubnetId":           subnetID(v, s),
		"TagSet":             []any{},
		"VpcId":              vpcID(v),
	}
	if assoc != nil {
		e["Association"] = assoc
	}
	return e
}

func (g *gen) reservation(i int) any {
	v, s := vpcOfInterface(i), subnetOfInterface(i)
	grs := g.groupsOf(i)
	inst := map[string]any{
		"AmiLaunchIndex":   0,
		"ImageId":          "ami-0123456789abcdef0",
		"InstanceId":       instanceID(i),
		"InstanceType":     "t4g.small",
		"LaunchTime":       "2026-01-02T03:04:05+00:00",
		"Monitoring":       map[string]string{"State": "disabled"},
		"Placement":        map[string]any{"AvailabilityZone": az(s), "GroupName": "", "Tenancy": "default"},
		"PrivateDnsName":   fmt.Sprintf("ip-%s.%s.compute.internal", privateIP(i), Region),
		"PrivateIpAddress": privateIP(i),
		"State":            map[string]any{"Code": 16, "Name": "running"},
		"SubnetId":         subnetID(v, s),
		"VpcId":            vpcID(v),
		"Architecture":     "arm64",
		"NetworkInterfaces": []any{map[string]any{
			"Attachment":         map[string]any{"AttachmentId": fmt.Sprintf("eni-attach-%017x", i), "DeviceIndex": 0, "Status": "attached"},
			"NetworkInterfaceId": eniID(i),
			"PrivateIpAddress":   privateIP(i),
			"SubnetId":           subnetID(v, s),
			"VpcId":              vpcID(v),
		}},
		"SecurityGroups": []map[string]string{{"GroupName": fmt.Sprintf("bench-sg-%d", grs[0]), "GroupId": groupID(grs[0])}},
		"Tags":           []awsTag{{Key: "Name", Value: fmt.Sprintf("bench-%d", i)}, {Key: "service", Value: fmt.Sprintf("svc-%d", grs[0])}},
	}
	if i%3 == 0 {
		inst["PublicIpAddress"] = publicIP(i / 3)
	}
	return map[string]any{
		"Groups": []any{}, "Instances": []any{inst}, "OwnerId": Account,
		"ReservationId": fmt.Sprintf("r-%017x", i),
	}
}
