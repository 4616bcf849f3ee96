package aws

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Route tables, internet gateways, egress-only internet gateways and NAT
// gateways. Inbound internet traffic to a public address only works when the
// reply is routed back through an internet gateway attached to the VPC, so
// the route table of a subnet becomes a layer whose sources are the client
// addresses whose replies route to an internet gateway.

const (
	fileRouteTables     = "ec2-describe-route-tables.json"
	fileInternetGWs     = "ec2-describe-internet-gateways.json"
	fileEgressOnlyIGWs  = "ec2-describe-egress-only-internet-gateways.json"
	fileNATGateways     = "ec2-describe-nat-gateways.json"
	routeStateBlackhole = "blackhole"
)

func (rc *regionCollector) collectRouteTables(ctx context.Context) error {
	p := ec2.NewDescribeRouteTablesPaginator(rc.ec2, &ec2.DescribeRouteTablesInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeRouteTablesOutput) []ec2types.RouteTable { return o.RouteTables })
	if err != nil {
		return err
	}
	return rc.put(fileRouteTables, map[string]any{"RouteTables": out})
}

func (rc *regionCollector) collectInternetGateways(ctx context.Context) error {
	p := ec2.NewDescribeInternetGatewaysPaginator(rc.ec2, &ec2.DescribeInternetGatewaysInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeInternetGatewaysOutput) []ec2types.InternetGateway { return o.InternetGateways })
	if err != nil {
		return err
	}
	return rc.put(fileInternetGWs, map[string]any{"InternetGateways": out})
}

func (rc *regionCollector) collectEgressOnlyInternetGateways(ctx context.Context) error {
	p := ec2.NewDescribeEgressOnlyInternetGatewaysPaginator(rc.ec2, &ec2.DescribeEgressOnlyInternetGatewaysInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeEgressOnlyInternetGatewaysOutput) []ec2types.EgressOnlyInternetGateway {
		return o.EgressOnlyInternetGateways
	})
	if err != nil {
		return err
	}
	return rc.put(fileEgressOnlyIGWs, map[string]any{"EgressOnlyInternetGateways": out})
}

func (rc *regionCollector) collectNATGateways(ctx context.Context) error {
	p := ec2.NewDescribeNatGatewaysPaginator(rc.ec2, &ec2.DescribeNatGatewaysInput{})
	out, err := pages(ctx, p.HasMorePages, p.NextPage, func(o *ec2.DescribeNatGatewaysOutput) []ec2types.NatGateway { return o.NatGateways })
	if err != nil {
		return err
	}
	return rc.put(fileNATGateways, map[string]any{"NatGateways": out})
}

type routeTable struct {
	RouteTableId string
	VpcId        string
	Associations []struct {
		Main     bool
		SubnetId string
		// GatewayId marks an edge association (ingress routing); such a
		// table routes traffic arriving through the gateway, not replies.
		GatewayId string
	}
	Routes []route
	Tags   []tag
}

type route struct {
	DestinationCidrBlock        string
	DestinationIpv6CidrBlock    string
	DestinationPrefixListId     string
	GatewayId                   string
	EgressOnlyInternetGatewayId string
	NatGatewayId                string
	TransitGatewayId            string
	VpcPeeringConnectionId      string
	NetworkInterfaceId          string
	InstanceId                  string
	LocalGatewayId              string
	CarrierGatewayId            string
	CoreNetworkArn              string
	State                       string
}

// target names where the route sends traffic, for evidence.
func (rt *route) target() string {
	for _, t := range []string{rt.GatewayId, rt.EgressOnlyInternetGatewayId, rt.NatGatewayId, rt.TransitGatewayId,
		rt.VpcPeeringConnectionId, rt.NetworkInterfaceId, rt.InstanceId, rt.LocalGatewayId, rt.CarrierGatewayId, rt.CoreNetworkArn} {
		if t != "" {
			return t
		}
	}
	return "unknown"
}

func (rt *route) destination() string {
	switch {
	case rt.DestinationCidrBlock != "":
		return rt.DestinationCidrBlock
	case rt.DestinationIpv6CidrBlock != "":
		return rt.DestinationIpv6CidrBlock
	}
	return rt.DestinationPrefixListId
}

type internetGateway struct {
	InternetGatewayId string
	Attachments       []struct {
		State string
		VpcId string
	}
}

// attachedTo reports whether the gateway is attached to the VPC. The API
// reports an attached internet gateway with state "available".
func (g *internetGateway) attachedTo(vpcID string) bool {
	for _, a := range g.Attachments {
		if a.VpcId == vpcID && a.State != "detaching" && a.State != "detached" {
			return true
		}
	}
	return false
}

type natGateway struct {
	NatGatewayId        string
	NatGatewayAddresses []struct {
		NetworkInterfaceId string
		PublicIp           string
	}
}

func (r *region) loadRoutes() {
	var rdoc struct{ RouteTables []*routeTable }
	if r.readJSON(fileRouteTables, &rdoc) {
		for _, t := range rdoc.RouteTables {
			if t != nil && t.RouteTableId != "" {
				r.routeTables = append(r.routeTables, t)
			}
		}
	}
	var gdoc struct{ InternetGateways []*internetGateway }
	if r.readJSON(fileInternetGWs, &gdoc) {
		r.igws = map[string]*internetGateway{}
		for _, g := range gdoc.InternetGateways {
			if g != nil {
				r.igws[g.InternetGatewayId] = g
			}
		}
	}
	var edoc struct{ EgressOnlyInternetGateways []struct{} }
	r.readJSON(fileEgressOnlyIGWs, &edoc)
	var ndoc struct{ NatGateways []natGateway }
	if r.readJSON(fileNATGateways, &ndoc) {
		r.natGateways = ndoc.NatGateways
	}
}

// routeTableOf returns the subnet's route table: its explicit association,
// else the VPC's main table. Nil when the snapshot has none.
func (r *region) routeTableOf(subnetID string) *routeTable {
	var main *routeTable
	vpcID := ""
	if s := r.subnets[subnetID]; s != nil {
		vpcID = s.VpcId
	}
	for _, t := range r.routeTables {
		for _, a := range t.Associations {
			if a.SubnetId == subnetID && subnetID != "" {
				return t
			}
			if a.Main && t.VpcId == vpcID {
				main = t
			}
		}
	}
	return main
}

// routeEntry is one destination prefix of a route (a prefix-list route
// gives one per entry).
type routeEntry struct {
	prefix     netip.Prefix
	index      int // the route it comes from
	prefixList bool
}

// buildRouteLayers builds one layer per route table. Each route to an
// attached internet gateway becomes a rule whose sources are the part of
// its destination that longest-prefix match gives to it: more specific
// routes to anything else take their range away, and at equal length a
// CIDR route beats a prefix-list route.
// https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
func (r *region) buildRouteLayers() {
	r.routeLayers = map[string]*exposure.Layer{}
	for _, t := range r.routeTables {
		var entries []routeEntry
		for i := range t.Routes {
			rt := &t.Routes[i]
			field := fmt.Sprintf("%s routes[%d]", t.RouteTableId, i)
			switch {
			case rt.DestinationCidrBlock != "" || rt.DestinationIpv6CidrBlock != "":
				p, err := parseCIDR(rt.destination())
				if err != nil {
					r.errorf(field, "route destination: %v", err)
					continue
				}
				entries = append(entries, routeEntry{prefix: p, index: i})
			case rt.DestinationPrefixListId != "":
				pl := r.prefixLists[rt.DestinationPrefixListId]
				if pl == nil || pl.entries == nil {
					r.errorf(field, "route destination prefix list %s: entries not in snapshot", rt.DestinationPrefixListId)
					continue
				}
				for _, p := range pl.entries.Prefixes() {
					entries = append(entries, routeEntry{prefix: p, index: i, prefixList: true})
				}
			}
		}
		layer := &exposure.Layer{
			Scope: r.scope, ID: t.RouteTableId, Kind: exposure.LayerRoute,
			Name: tagValue(t.Tags, "Name"), Mode: exposure.AllowUnion, Tags: tagMap(t.Tags),
		}
		perRoute := map[int]*netipx.IPSetBuilder{}
		for _, e := range entries {
			rt := &t.Routes[e.index]
			if !r.routesToInternet(rt, t.VpcId) {
				continue
			}
			var b netipx.IPSetBuilder
			b.AddPrefix(e.prefix)
			for _, o := range entries {
				if !o.prefix.Overlaps(e.prefix) || o.prefix.Addr().Is4() != e.prefix.Addr().Is4() {
					continue
				}
				if o.prefix.Bits() > e.prefix.Bits() || (o.prefix == e.prefix && e.prefixList && !o.prefixList) {
					b.RemovePrefix(o.prefix)
				}
			}
			if perRoute[e.index] == nil {
				perRoute[e.index] = &netipx.IPSetBuilder{}
			}
			s, _ := b.IPSet()
			perRoute[e.index].AddSet(s)
		}
		for i := range t.Routes {
			b := perRoute[i]
			if b == nil {
				continue
			}
			s, _ := b.IPSet()
			rt := &t.Routes[i]
			layer.Rules = append(layer.Rules, exposure.Rule{
				ID:          rt.destination(),
				Description: "route to " + rt.target(),
				Action:      exposure.Allow,
				Protocol:    exposure.ProtocolAll,
				Sources:     s,
				SourceNames: []string{rt.destination()},
			})
		}
		r.routeLayers[t.RouteTableId] = layer
	}
}

// routesToInternet reports whether the route sends traffic to an internet
// gateway attached to the VPC. Egress-only internet gateways (eigw-) admit
// nothing inbound; a blackhole route (its gateway deleted or detached)
// drops traffic.
func (r *region) routesToInternet(rt *route, vpcID string) bool {
	if rt.State == routeStateBlackhole || !strings.HasPrefix(rt.GatewayId, "igw-") {
		return false
	}
	if r.igws == nil || vpcID == "" {
		return true // gateways not collected: trust the route's state
	}
	g := r.igws[rt.GatewayId]
	return g != nil && g.attachedTo(vpcID)
}

// explicitRouteTable reports whether a route table names the subnet.
func (r *region) explicitRouteTable(subnetID string) bool {
	for _, t := range r.routeTables {
		for _, a := range t.Associations {
			if subnetID != "" && a.SubnetId == subnetID {
				return true
			}
		}
	}
	return false
}

// routeLayerOf returns the route-table layer of a subnet; an unknown layer
// when the route tables (or the subnet's VPC, for its main table) were not
// collected.
func (r *region) routeLayerOf(subnetID string) *exposure.Layer {
	if !r.have[fileRouteTables] {
		return r.unknownLayer("route table of "+subnetID, exposure.LayerRoute, fileRouteTables)
	}
	if !r.have[fileSubnets] && !r.explicitRouteTable(subnetID) {
		// The main table is the VPC's, and the subnets file says which VPC.
		return r.unknownLayer("route table of "+subnetID, exposure.LayerRoute, fileSubnets)
	}
	t := r.routeTableOf(subnetID)
	if t == nil {
		r.errorf(subnetID, "no route table for subnet (no explicit association and no main table): routes unknown")
		return exposure.UnknownLayer(r.scope, "route table of "+subnetID, exposure.LayerRoute, "no route table for the subnet in "+path.Join(r.dir, fileRouteTables))
	}
	return r.routeLayers[t.RouteTableId]
}
