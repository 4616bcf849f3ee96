package iacplan

import (
	"fmt"
	"strings"
)

// VPCs, subnets, internet gateways, route tables, routes and their
// associations, written as ec2-describe-{vpcs,subnets,internet-gateways,
// route-tables}.json.

const (
	fileVPCs    = "ec2-describe-vpcs.json"
	fileSubnets = "ec2-describe-subnets.json"
	fileIGWs    = "ec2-describe-internet-gateways.json"
	fileRTs     = "ec2-describe-route-tables.json"
	fileACLs    = "ec2-describe-network-acls.json"
	fileENIs    = "ec2-describe-network-interfaces.json"
	fileInsts   = "ec2-describe-instances.json"
	fileAddrs   = "ec2-describe-addresses.json"
)

func applyVPC(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		return a.drop(before, fileVPCs, "VpcId"), nil, nil
	}
	id := a.newID(rc)
	r, err := a.place(rc, id)
	if err != nil {
		return "", nil, err
	}
	cidr, known := after.Str("cidr_block")
	if !known {
		return "", nil, fmt.Errorf("cidr_block known after apply (IPAM): the VPC's address space is unknown")
	}
	v := r.find(fileVPCs, "VpcId", id)
	if v == nil {
		v = map[string]any{"VpcId": id, "State": "available"}
		r.add(fileVPCs, v)
		// What AWS creates with every VPC: the main route table (local
		// route only) and the default network ACL, which allows all
		// traffic in and out.
		// https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html
		r.add(fileRTs, map[string]any{
			"RouteTableId": "rtb-main-" + id, "VpcId": id,
			"Associations": []any{map[string]any{"Main": true, "RouteTableId": "rtb-main-" + id}},
			"Routes":       []any{map[string]any{"DestinationCidrBlock": cidr, "GatewayId": "local", "State": "active"}},
		})
		r.add(fileACLs, map[string]any{
			"NetworkAclId": "acl-default-" + id, "VpcId": id, "IsDefault": true, "Associations": []any{},
			"Entries": []any{
				aclEntry(100, "-1", "allow", false, "0.0.0.0/0", "", nil, nil),
				aclEntry(32767, "-1", "deny", false, "0.0.0.0/0", "", nil, nil),
				aclEntry(100, "-1", "allow", true, "0.0.0.0/0", "", nil, nil),
				aclEntry(32767, "-1", "deny", true, "0.0.0.0/0", "", nil, nil),
			},
		})
	}
	v["CidrBlock"] = cidr
	v["CidrBlockAssociationSet"] = []any{map[string]any{"CidrBlock": cidr}}
	var notes []string
	if gen, _, _ := after.Bool("assign_generated_ipv6_cidr_block"); gen && after.Unknown("ipv6_cidr_block") {
		// An Amazon-provided /56 is unknown until apply; the overlay
		// cannot tell which of the VPC's own addresses to leave out.
		notes = append(notes, "ipv6_cidr_block known after apply: IPv6 is not modelled for this VPC")
	} else if c6, _ := after.Str("ipv6_cidr_block"); c6 != "" {
		v["Ipv6CidrBlockAssociationSet"] = []any{map[string]any{"Ipv6CidrBlock": c6}}
	}
	v["Tags"] = tagList(*after)
	r.touch(fileVPCs)
	return id, notes, nil
}

func applySubnet(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		return a.drop(before, fileSubnets, "SubnetId"), nil, nil
	}
	id := a.newID(rc)
	r, vpcID, err := a.inVPC(rc, *after, id)
	if err != nil {
		return "", nil, err
	}
	cidr, known := after.Str("cidr_block")
	if !known {
		return "", nil, fmt.Errorf("cidr_block known after apply: the subnet's address space is unknown")
	}
	s := r.upsert(fileSubnets, "SubnetId", id)
	s["VpcId"], s["CidrBlock"] = vpcID, cidr
	var notes []string
	mp, _, mk := after.Bool("map_public_ip_on_launch")
	if !mk {
		mp = true
		notes = append(notes, a.widest(id, "map_public_ip_on_launch read as true"))
	}
	s["MapPublicIpOnLaunch"] = mp
	if az, _ := after.Str("availability_zone"); az != "" {
		s["AvailabilityZone"] = az
	}
	if c6, known := after.Str("ipv6_cidr_block"); known && c6 != "" {
		s["Ipv6CidrBlockAssociationSet"] = []any{map[string]any{"Ipv6CidrBlock": c6}}
	}
	s["Tags"] = tagList(*after)
	r.touch(fileSubnets)
	return id, notes, nil
}

func applyInternetGateway(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		return a.drop(before, fileIGWs, "InternetGatewayId"), nil, nil
	}
	id := a.newID(rc)
	r, vpcID, err := a.inVPC(rc, *after, id)
	if err != nil {
		return "", nil, err
	}
	g := r.upsert(fileIGWs, "InternetGatewayId", id)
	att := []any{}
	if vpcID != "" {
		// "available" is how the API reports an attached gateway.
		att = append(att, map[string]any{"State": "available", "VpcId": vpcID})
	}
	g["Attachments"] = att
	g["Tags"] = tagList(*after)
	r.touch(fileIGWs)
	return id, nil, nil
}

// routeTargets maps Terraform route attributes to the API's route fields.
var routeTargets = [][2]string{
	{"gateway_id", "GatewayId"},
	{"egress_only_gateway_id", "EgressOnlyInternetGatewayId"},
	{"nat_gateway_id", "NatGatewayId"},
	{"transit_gateway_id", "TransitGatewayId"},
	{"vpc_peering_connection_id", "VpcPeeringConnectionId"},
	{"network_interface_id", "NetworkInterfaceId"},
	{"vpc_endpoint_id", "GatewayId"},
	{"local_gateway_id", "LocalGatewayId"},
	{"carrier_gateway_id", "CarrierGatewayId"},
	{"core_network_arn", "CoreNetworkArn"},
}

// readRoute reads a route block or an aws_route. dest names the
// destination attributes (they differ: cidr_block / destination_cidr_block).
func (a *applier) readRoute(rc *ResourceChange, r *region, vpcID string, v Value, refPrefix string, dest [3]string, owner string) (map[string]any, []string) {
	route := map[string]any{"State": "active"}
	var notes []string
	for i, f := range []string{"DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"} {
		s, known := v.Str(dest[i])
		if !known {
			s = [3]string{"0.0.0.0/0", "::/0", ""}[i]
			notes = append(notes, a.widest(owner, dest[i]+" read as "+s))
		}
		if s != "" {
			route[f] = s
		}
	}
	for _, t := range routeTargets {
		id, ok := a.refID(rc, v, t[0], refPrefix+t[0])
		if !ok {
			if t[0] != "gateway_id" {
				id = "unknown-" + t[0]
				notes = append(notes, t[0]+" known after apply and not a planned resource")
			} else {
				// An unknown gateway may be an internet gateway: read it
				// as one attached to the VPC.
				id = "igw-unknown-" + safeID(rc.Address)
				if r.find(fileIGWs, "InternetGatewayId", id) == nil {
					r.add(fileIGWs, map[string]any{"InternetGatewayId": id, "Attachments": []any{map[string]any{"State": "available", "VpcId": vpcID}}})
				}
				notes = append(notes, a.widest(owner, "gateway_id read as an internet gateway"))
				a.ov.Unknown[id] = "known after apply: widest reading (gateway_id read as an internet gateway)"
			}
		}
		if id != "" {
			route[t[1]] = id
		}
	}
	return route, notes
}

func routeDest(m map[string]any) string {
	for _, f := range []string{"DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"} {
		if s, _ := m[f].(string); s != "" {
			return s
		}
	}
	return ""
}

func applyRouteTable(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		return a.drop(before, fileRTs, "RouteTableId"), nil, nil
	}
	id := a.newID(rc)
	r, vpcID, err := a.inVPC(rc, *after, id)
	if err != nil {
		return "", nil, err
	}
	t := r.find(fileRTs, "RouteTableId", id)
	if t == nil {
		t = map[string]any{"RouteTableId": id, "VpcId": vpcID, "Associations": []any{}}
		r.add(fileRTs, t)
	}
	// Terraform's route blocks leave out the local routes; keep them.
	routes := []any{}
	if old, _ := t["Routes"].([]any); old != nil {
		for _, e := range old {
			if m, _ := e.(map[string]any); m != nil && m["GatewayId"] == "local" {
				routes = append(routes, m)
			}
		}
	}
	if len(routes) == 0 {
		if v := r.find(fileVPCs, "VpcId", vpcID); v != nil {
			if c, _ := v["CidrBlock"].(string); c != "" {
				routes = append(routes, map[string]any{"DestinationCidrBlock": c, "GatewayId": "local", "State": "active"})
			}
		}
	}
	var notes []string
	blocks, unknown := after.Blocks("route")
	if unknown {
		return "", nil, fmt.Errorf("route known after apply: the table's routes are unknown")
	}
	if _, has := after.V["route"]; !has {
		// No route attribute (a CloudFormation table, whose routes are
		// resources of their own): the routes stay as they are.
		if old, _ := t["Routes"].([]any); len(old) > 0 {
			routes = old
		}
	}
	for _, b := range blocks {
		route, n := a.readRoute(rc, r, vpcID, b, "route.", [3]string{"cidr_block", "ipv6_cidr_block", "destination_prefix_list_id"}, id)
		notes = append(notes, n...)
		routes = append(routes, route)
	}
	t["Routes"] = routes
	t["Tags"] = tagList(*after)
	r.touch(fileRTs)
	return id, dedupe(notes), nil
}

var routeDestNames = [3]string{"destination_cidr_block", "destination_ipv6_cidr_block", "destination_prefix_list_id"}

func applyRoute(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	var notes []string
	var tableID string
	if before != nil {
		tableID, _ = before.Str("route_table_id")
		if r := a.regionOf(tableID); r != nil {
			if t := r.find(fileRTs, "RouteTableId", tableID); t != nil {
				dest := ""
				for _, n := range routeDestNames {
					if s, _ := before.Str(n); s != "" {
						dest = s
					}
				}
				removeRoute(t, dest)
				r.touch(fileRTs)
			}
		}
	}
	if after != nil {
		id, ok := a.refID(rc, *after, "route_table_id", "route_table_id")
		if !ok {
			return "", nil, fmt.Errorf("route_table_id known after apply and not a planned route table")
		}
		tableID = id
		r := a.regionOf(tableID)
		if r == nil {
			return tableID, nil, fmt.Errorf("route table %s is neither in the snapshot nor planned", tableID)
		}
		a.setRegion(rc, r)
		t := r.find(fileRTs, "RouteTableId", tableID)
		vpcID, _ := t["VpcId"].(string)
		route, n := a.readRoute(rc, r, vpcID, *after, "", routeDestNames, tableID)
		notes = append(notes, n...)
		removeRoute(t, routeDest(route))
		routes, _ := t["Routes"].([]any)
		t["Routes"] = append(routes, route)
		r.touch(fileRTs)
	}
	return tableID, dedupe(notes), nil
}

func removeRoute(t map[string]any, dest string) {
	routes, _ := t["Routes"].([]any)
	var keep []any
	for _, e := range routes {
		if m, _ := e.(map[string]any); m != nil && routeDest(m) == dest && m["GatewayId"] != "local" {
			continue
		}
		keep = append(keep, e)
	}
	if keep == nil {
		keep = []any{}
	}
	t["Routes"] = keep
}

// dissociate removes a subnet's (or gateway's) explicit association from
// every table of the region.
func dissociate(r *region, field, id string) {
	for _, t := range r.items(fileRTs) {
		assocs, _ := t["Associations"].([]any)
		var keep []any
		for _, e := range assocs {
			if m, _ := e.(map[string]any); m != nil && m[field] == id {
				continue
			}
			keep = append(keep, e)
		}
		if len(keep) != len(assocs) {
			if keep == nil {
				keep = []any{}
			}
			t["Associations"] = keep
			r.touch(fileRTs)
		}
	}
}

func applyRouteTableAssociation(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	var notes []string
	if before != nil {
		subnet, _ := before.Str("subnet_id")
		gw, _ := before.Str("gateway_id")
		table, _ := before.Str("route_table_id")
		if r := a.regionOf(table); r != nil {
			if subnet != "" {
				// Back to the VPC's main table, as AWS does.
				dissociate(r, "SubnetId", subnet)
			}
			if gw != "" {
				dissociate(r, "GatewayId", gw)
			}
		}
	}
	if after == nil {
		t, _ := before.Str("route_table_id")
		return t, notes, nil
	}
	table, ok := a.refID(rc, *after, "route_table_id", "route_table_id")
	if !ok {
		return "", nil, fmt.Errorf("route_table_id known after apply and not a planned route table")
	}
	subnet, ok := a.refID(rc, *after, "subnet_id", "subnet_id")
	if !ok {
		return "", nil, fmt.Errorf("subnet_id known after apply and not a planned subnet")
	}
	gw, ok := a.refID(rc, *after, "gateway_id", "gateway_id")
	if !ok {
		return "", nil, fmt.Errorf("gateway_id known after apply and not a planned gateway")
	}
	r := a.regionOf(table)
	if r == nil {
		return table, nil, fmt.Errorf("route table %s is neither in the snapshot nor planned", table)
	}
	a.setRegion(rc, r)
	t := r.find(fileRTs, "RouteTableId", table)
	assoc := map[string]any{"Main": false, "RouteTableId": table, "AssociationState": map[string]any{"State": "associated"}}
	if subnet != "" {
		dissociate(r, "SubnetId", subnet)
		assoc["SubnetId"] = subnet
	}
	if gw != "" {
		dissociate(r, "GatewayId", gw)
		assoc["GatewayId"] = gw
		notes = append(notes, "edge association (ingress routing) is not modelled by the analysis: the subnet's own table decides")
	}
	assocs, _ := t["Associations"].([]any)
	t["Associations"] = append(assocs, assoc)
	r.touch(fileRTs)
	return table + " ← " + strings.TrimSpace(subnet+" "+gw), notes, nil
}

func applyInternetGatewayAttachment(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if before != nil {
		id, _ := before.Str("internet_gateway_id")
		if r := a.regionOf(id); r != nil {
			if g := r.find(fileIGWs, "InternetGatewayId", id); g != nil {
				g["Attachments"] = []any{}
				r.touch(fileIGWs)
			}
		}
		if after == nil {
			return id, nil, nil
		}
	}
	id, ok := a.refID(rc, *after, "internet_gateway_id", "internet_gateway_id")
	if !ok {
		return "", nil, fmt.Errorf("internet_gateway_id known after apply and not a planned gateway")
	}
	vpcID, ok := a.refID(rc, *after, "vpc_id", "vpc_id")
	if !ok {
		return "", nil, fmt.Errorf("vpc_id known after apply and not a planned VPC")
	}
	r := a.regionOf(id)
	if r == nil {
		return id, nil, fmt.Errorf("internet gateway %s is neither in the snapshot nor planned", id)
	}
	g := r.find(fileIGWs, "InternetGatewayId", id)
	if g == nil {
		return id, nil, fmt.Errorf("%s is not an internet gateway of the snapshot or the plan", id)
	}
	a.setRegion(rc, r)
	g["Attachments"] = []any{map[string]any{"State": "available", "VpcId": vpcID}}
	r.touch(fileIGWs)
	return id, nil, nil
}
