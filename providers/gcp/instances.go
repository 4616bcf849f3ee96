package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis-sec/portcullis/exposure"
)

// instanceLists are the subnetworks and instances of a project (networks
// are listed first, by collectProject).
func (r *projectRun) instanceLists() []list {
	c, p := r.c, r.project
	return []list{
		{file: FileSubnetworks, method: "compute.subnetworks.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.subnetworks.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: p}),
				func(v compute.SubnetworksScopedListPair) []*computepb.Subnetwork { return v.Value.GetSubnetworks() })
		}},
		{file: FileInstances, method: "compute.instances.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: p}),
				func(v compute.InstancesScopedListPair) []*computepb.Instance { return v.Value.GetInstances() })
		}},
	}
}

// liveStatus lists the instance states in which an instance has its
// network interfaces up (or is about to): a TERMINATED (stopped) or
// SUSPENDED instance receives nothing, and ephemeral external addresses
// are released when it stops
// (https://cloud.google.com/compute/docs/instances/instance-life-cycle).
var liveStatus = map[string]bool{"": true, "RUNNING": true, "PROVISIONING": true, "STAGING": true, "REPAIRING": true}

func (e *estate) indexInstances(p *project) {
	for i, in := range p.instances {
		res := p.id + "/" + FileInstances
		zone := lastSegment(in.Zone)
		ii := &instInfo{project: p.id, zone: zone, region: regionOfZone(zone), inst: in,
			key: resourceKey(in.SelfLink), tags: map[string]bool{}, live: liveStatus[strings.ToUpper(in.Status)]}
		if ii.key == "" {
			ii.key = "projects/" + p.id + "/zones/" + zone + "/instances/" + in.Name
		}
		for _, t := range in.Tags.Items {
			ii.tags[t] = true
		}
		if len(in.ServiceAccounts) > 0 {
			ii.sa = in.ServiceAccounts[0].Email
		}
		for j := range in.NetworkInterfaces {
			ni := &in.NetworkInterfaces[j]
			n := &nic{inst: ii, index: j, name: ni.Name, network: resourceKey(ni.Network), subnetwork: resourceKey(ni.Subnetwork)}
			if n.name == "" {
				n.name = "nic" + itoa(j)
			}
			where := func(field string) string {
				return res + "[" + itoa(i) + "] " + in.Name + " networkInterfaces[" + itoa(j) + "]." + field
			}
			if a, err := parseAddr(ni.NetworkIP); err == nil {
				n.internal = append(n.internal, a)
			} else if ni.NetworkIP != "" {
				e.n.errorf(p.id, ii.region, where("networkIP"), "%v", err)
			}
			if a, err := parseAddr(ni.Ipv6Address); err == nil {
				n.internal = append(n.internal, a)
			} else if ni.Ipv6Address != "" {
				e.n.errorf(p.id, ii.region, where("ipv6Address"), "%v", err)
			}
			for k, al := range ni.AliasIPRanges {
				pr, err := exposure.ParsePrefix(al.IPCidrRange)
				if err != nil {
					e.n.errorf(p.id, ii.region, where("aliasIpRanges["+itoa(k)+"]"), "%v", err)
					continue
				}
				n.aliases = append(n.aliases, pr)
			}
			for k, ac := range ni.AccessConfigs {
				if ac.NatIP == "" {
					continue
				}
				a, err := parseAddr(ac.NatIP)
				if err != nil {
					e.n.errorf(p.id, ii.region, where("accessConfigs["+itoa(k)+"].natIP"), "%v", err)
					continue
				}
				n.ext4 = append(n.ext4, a)
			}
			for k, ac := range ni.Ipv6AccessConfigs {
				if ac.ExternalIpv6 == "" {
					continue
				}
				a, err := parseAddr(ac.ExternalIpv6)
				if err != nil {
					e.n.errorf(p.id, ii.region, where("ipv6AccessConfigs["+itoa(k)+"].externalIpv6"), "%v", err)
					continue
				}
				n.ext6 = append(n.ext6, a)
			}
			ii.nics = append(ii.nics, n)
			if nw := e.networks[n.network]; nw != nil {
				nw.members = append(nw.members, n)
			}
		}
		e.insts[ii.key] = ii
	}
}

// parseAddr parses an address that may carry a prefix length (IPv6
// forwarding rules and access configs give "2001:db8::/96").
func parseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, errors.New("empty address")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
		}
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
	}
	return a, nil
}

// instanceTargets makes one target per network interface of a live
// instance that has an external IPv4 (access config) or IPv6 address.
func (e *estate) instanceTargets(p *project) {
	for _, in := range p.instances {
		ii := e.insts[instKey(p.id, in)]
		if ii == nil || ii.inst != in || !ii.live {
			continue
		}
		for _, n := range ii.nics {
			if len(n.ext4) == 0 && len(n.ext6) == 0 {
				continue
			}
			t := &exposure.Target{
				Scope: exposure.Scope{Provider: Provider, Account: p.id, Region: ii.region},
				ID:    ii.key + "/" + n.name, Kind: exposure.KindInterface,
				Name: in.Name, Tags: in.Labels, Owner: ii.key,
				Path: exposure.Path{e.firewallHop(n)},
			}
			if n.index > 0 {
				t.Name += " " + n.name
			}
			for _, a := range n.ext4 {
				t.Endpoints = append(t.Endpoints, exposure.Endpoint{IP: a})
			}
			for _, a := range n.ext6 {
				t.Endpoints = append(t.Endpoints, exposure.Endpoint{IP: a, IPv6: true})
			}
			e.n.inv.Targets = append(e.n.inv.Targets, t)
		}
	}
}

func instKey(proj string, in *instance) string {
	if k := resourceKey(in.SelfLink); k != "" {
		return k
	}
	return "projects/" + proj + "/zones/" + lastSegment(in.Zone) + "/instances/" + in.Name
}
