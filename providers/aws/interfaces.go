package aws

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Network interfaces, instances and Elastic IPs: an ENI with a public
// address is a target; the instance behind it names and owns it.

const (
	fileNetworkInterfaces = "ec2-describe-network-interfaces.json"
	fileInstances         = "ec2-describe-instances.json"
	fileAddresses         = "ec2-describe-addresses.json"
)

func (rc *regionCollector) collectNetworkInterfaces(ctx context.Context) error {
	p := ec2.NewDescribeNetworkInterfacesPaginator(rc.ec2, &ec2.DescribeNetworkInterfacesInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeNetworkInterfacesOutput) []ec2types.NetworkInterface { return o.NetworkInterfaces })
	if err != nil {
		return err
	}
	return rc.put(fileNetworkInterfaces, map[string]any{"NetworkInterfaces": out})
}

func (rc *regionCollector) collectInstances(ctx context.Context) error {
	p := ec2.NewDescribeInstancesPaginator(rc.ec2, &ec2.DescribeInstancesInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeInstancesOutput) []ec2types.Reservation { return o.Reservations })
	if err != nil {
		return err
	}
	return rc.put(fileInstances, map[string]any{"Reservations": out})
}

func (rc *regionCollector) collectAddresses(ctx context.Context) error {
	// DescribeAddresses is not paginated: it returns every address.
	page, err := rc.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return err
	}
	out := page.Addresses
	if out == nil {
		out = []ec2types.Address{}
	}
	return rc.put(fileAddresses, map[string]any{"Addresses": out})
}

type ipAssociation struct {
	PublicIp        string
	CarrierIp       string
	CustomerOwnedIp string
}

type networkInterface struct {
	NetworkInterfaceId string
	SubnetId           string
	VpcId              string
	Description        string
	InterfaceType      string
	Status             string
	RequesterId        string
	RequesterManaged   bool
	Attachment         *struct {
		InstanceId      string
		InstanceOwnerId string
		DeviceIndex     *int64
	}
	Association        *ipAssociation
	Groups             []struct{ GroupId, GroupName string }
	PrivateIpAddress   string
	PrivateIpAddresses []struct {
		PrivateIpAddress string
		Primary          bool
		Association      *ipAssociation
	}
	Ipv6Addresses []struct{ Ipv6Address string }
	TagSet        []tag
}

func (e *networkInterface) groupIDs() []string {
	ids := make([]string, 0, len(e.Groups))
	for _, g := range e.Groups {
		ids = append(ids, g.GroupId)
	}
	return ids
}

// privateAddrs returns the ENI's private IPv4 and its IPv6 addresses: what
// the peers of the ENI see as its source address.
func (e *networkInterface) privateAddrs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(e.PrivateIpAddress)
	for _, p := range e.PrivateIpAddresses {
		add(p.PrivateIpAddress)
	}
	for _, a := range e.Ipv6Addresses {
		add(a.Ipv6Address)
	}
	return out
}

type instance struct {
	InstanceId string
	State      struct{ Name string }
	Tags       []tag
	// NetworkInterfaces lists the instance's ENIs; the one at device
	// index 0 is the primary, the one load balancers send traffic to.
	NetworkInterfaces []struct {
		NetworkInterfaceId string
		Attachment         struct{ DeviceIndex int64 }
	}
}

type address struct {
	PublicIp           string
	NetworkInterfaceId string
	PrivateIpAddress   string
}

func (r *region) loadInterfaces() {
	var edoc struct{ NetworkInterfaces []*networkInterface }
	if r.readJSON(fileNetworkInterfaces, &edoc) {
		for _, e := range edoc.NetworkInterfaces {
			if e != nil && e.NetworkInterfaceId != "" {
				r.interfaces = append(r.interfaces, e)
			}
		}
	}
	r.instances = map[string]*instance{}
	var idoc struct {
		Reservations []struct{ Instances []*instance }
	}
	if r.readJSON(fileInstances, &idoc) {
		for _, res := range idoc.Reservations {
			for _, in := range res.Instances {
				if in != nil && in.InstanceId != "" {
					r.instances[in.InstanceId] = in
				}
			}
		}
	}
	var adoc struct{ Addresses []address }
	if r.readJSON(fileAddresses, &adoc) {
		r.addresses = adoc.Addresses
	}
}

// isLoadBalancerInterface reports whether the ENI belongs to a load
// balancer. ALB and classic ELB ENIs have InterfaceType "interface" and are
// recognized by their requester and their "ELB <name>" description.
func (e *networkInterface) isLoadBalancerInterface() bool {
	switch e.InterfaceType {
	case "load_balancer", "network_load_balancer", "gateway_load_balancer":
		return true
	}
	return e.RequesterId == "amazon-elb" || strings.HasPrefix(e.Description, "ELB ")
}

// notATarget lists the interface types that never accept unsolicited
// internet traffic themselves (see docs/providers/aws.md).
var notATarget = map[string]string{
	"natGateway":                     "a NAT gateway never accepts unsolicited inbound connections",
	"nat_gateway":                    "a NAT gateway never accepts unsolicited inbound connections",
	"efa-only":                       "carries no IP traffic",
	"gateway_load_balancer_endpoint": "reached through routes, not an internet frontend",
	"vpc_endpoint":                   "private by design",
	"transit_gateway":                "private by design",
}

// indexInterfaces indexes ENIs by ID and private address, and resolves
// security-group membership to addresses.
func (r *region) indexInterfaces() {
	r.eniByID = map[string]*networkInterface{}
	r.eniByIP = map[string]*networkInterface{}
	r.lbPrivateIPs = map[string][]string{}
	r.attached = map[string]bool{}
	r.sgVariants = map[string]*exposure.Layer{}
	members := map[string]*netipx.IPSetBuilder{}
	addMember := func(group, cidr string) {
		p, err := exposure.ParsePrefix(cidr)
		if err != nil {
			return // reported where the address itself is used
		}
		if members[group] == nil {
			members[group] = &netipx.IPSetBuilder{}
		}
		members[group].AddPrefix(p)
	}
	for _, e := range r.interfaces {
		r.eniByID[e.NetworkInterfaceId] = e
		addrs := e.privateAddrs()
		for _, a := range addrs {
			r.eniByIP[a] = e
		}
		for _, g := range e.Groups {
			for _, a := range addrs {
				addMember(g.GroupId, a)
			}
			if e.Status == "in-use" || e.Status == "" {
				r.attached[g.GroupId] = true
			}
		}
		if lb, ok := strings.CutPrefix(e.Description, "ELB "); ok && e.isLoadBalancerInterface() {
			r.lbPrivateIPs[lb] = append(r.lbPrivateIPs[lb], addrs...)
		}
	}
	// A load balancer whose ENIs are not in the snapshot is a member of its
	// groups through some address of its subnets.
	for _, lb := range r.allLoadBalancers() {
		if len(r.lbPrivateIPs[lb.key]) > 0 {
			continue
		}
		for _, g := range lb.groups {
			for _, s := range lb.subnets {
				if sn := r.subnets[s]; sn != nil {
					for _, c := range sn.cidrs() {
						addMember(g, c)
					}
				}
			}
		}
	}
	r.groupMembers = map[string]*netipx.IPSet{}
	for g, b := range members {
		r.groupMembers[g], _ = b.IPSet()
	}
}

// interfaceTargets returns a target per ENI with a public address.
func (r *region) interfaceTargets() []*exposure.Target {
	natENIs := map[string]bool{}
	for _, n := range r.natGateways {
		for _, a := range n.NatGatewayAddresses {
			natENIs[a.NetworkInterfaceId] = true
		}
	}
	eips := map[string][]string{}
	for _, a := range r.addresses {
		if a.NetworkInterfaceId != "" && a.PublicIp != "" {
			eips[a.NetworkInterfaceId] = append(eips[a.NetworkInterfaceId], a.PublicIp)
		}
	}
	var targets []*exposure.Target
	for _, e := range r.interfaces {
		if _, skip := notATarget[e.InterfaceType]; skip || natENIs[e.NetworkInterfaceId] || e.isLoadBalancerInterface() {
			continue
		}
		if e.Status != "" && e.Status != "in-use" {
			continue // not attached: nothing answers
		}
		var inst *instance
		if e.Attachment != nil && e.Attachment.InstanceId != "" {
			inst = r.instances[e.Attachment.InstanceId]
		}
		// A stopped instance answers nothing (and loses its auto-assigned
		// public IPv4); its groups remain latent layers.
		if inst != nil && inst.State.Name != "" && inst.State.Name != "running" && inst.State.Name != "pending" {
			continue
		}
		endpoints := r.interfaceEndpoints(e, eips[e.NetworkInterfaceId])
		if len(endpoints) == 0 {
			continue
		}
		t := &exposure.Target{
			Scope: r.scope, ID: e.NetworkInterfaceId, Kind: exposure.KindInterface,
			Endpoints: endpoints,
		}
		tags := map[string]string{}
		if inst != nil {
			t.Owner = inst.InstanceId
			for k, v := range tagMap(inst.Tags) {
				tags[k] = v
			}
			t.Name = tagValue(inst.Tags, "Name")
		} else if e.Attachment != nil && e.Attachment.InstanceId != "" {
			t.Owner = e.Attachment.InstanceId
		}
		if t.Owner == "" {
			t.Owner = e.RequesterId
		}
		if t.Owner == "" && e.Attachment != nil {
			t.Owner = e.Attachment.InstanceOwnerId
		}
		for k, v := range tagMap(e.TagSet) {
			tags[k] = v
		}
		if len(tags) > 0 {
			t.Tags = tags
		}
		if t.Name == "" {
			t.Name = tagValue(e.TagSet, "Name")
		}
		if t.Name == "" {
			t.Name = e.Description
		}
		t.Path = r.interfacePath(e)
		targets = append(targets, t)
	}
	return targets
}

// interfaceEndpoints returns the public addresses of an ENI: the public
// IPv4 of each private IPv4 (auto-assigned or Elastic IP) and its IPv6
// addresses. Carrier and customer-owned IPs are not internet addresses.
func (r *region) interfaceEndpoints(e *networkInterface, eips []string) []exposure.Endpoint {
	var out []exposure.Endpoint
	seen := map[netip.Addr]bool{}
	add := func(s, field string, v6 bool) {
		if s == "" {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is6() != v6 {
			r.errorf(fmt.Sprintf("%s %s", e.NetworkInterfaceId, field), "invalid address %q; skipped", s)
			return
		}
		// Unique-local and link-local IPv6 addresses never come from the
		// internet; VPC IPv6 blocks are otherwise global unicast.
		if v6 && (a.IsPrivate() || a.IsLinkLocalUnicast()) {
			return
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, exposure.Endpoint{IP: a, IPv6: v6})
		}
	}
	if e.Association != nil {
		add(e.Association.PublicIp, "Association.PublicIp", false)
	}
	for i, p := range e.PrivateIpAddresses {
		if p.Association != nil {
			add(p.Association.PublicIp, fmt.Sprintf("PrivateIpAddresses[%d].Association.PublicIp", i), false)
		}
	}
	for _, ip := range eips {
		add(ip, fileAddresses+" PublicIp", false)
	}
	for i, a := range e.Ipv6Addresses {
		add(a.Ipv6Address, fmt.Sprintf("Ipv6Addresses[%d]", i), true)
	}
	return out
}

// interfacePath is route table, NACL in, NACL out, security groups.
func (r *region) interfacePath(e *networkInterface) exposure.Path {
	var p exposure.Path
	p = append(p, r.subnetHops(e.SubnetId)...)
	if len(e.Groups) > 0 {
		if hop, ok := r.securityGroupHop(e.groupIDs(), e.NetworkInterfaceId); ok {
			p = append(p, hop)
		}
	}
	return p
}

// subnetHops returns the route-table, NACL-inbound and NACL-outbound hops
// of a subnet; a hop whose data is not in the snapshot holds an unknown
// layer (see exposure.Layer.Unknown), never left out.
func (r *region) subnetHops(subnetID string) exposure.Path {
	var p exposure.Path
	if l := r.routeLayerOf(subnetID); l != nil {
		p = append(p, exposure.Hop{Layers: []*exposure.Layer{l}})
	}
	if in, out := r.aclLayersOf(subnetID); in != nil {
		p = append(p, exposure.Hop{Layers: []*exposure.Layer{in}}, exposure.Hop{Layers: []*exposure.Layer{out}})
	}
	return p
}

// primaryInterface returns the instance's ENI at device index 0.
func (r *region) primaryInterface(instanceID string) *networkInterface {
	if in := r.instances[instanceID]; in != nil {
		for _, n := range in.NetworkInterfaces {
			if n.Attachment.DeviceIndex == 0 {
				if e := r.eniByID[n.NetworkInterfaceId]; e != nil {
					return e
				}
			}
		}
	}
	for _, e := range r.interfaces {
		if e.Attachment != nil && e.Attachment.InstanceId == instanceID &&
			(e.Attachment.DeviceIndex == nil || *e.Attachment.DeviceIndex == 0) {
			return e
		}
	}
	return nil
}
