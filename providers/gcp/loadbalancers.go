package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"go4.org/netipx"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis-sec/portcullis/exposure"
)

// lbIndex holds one project's load-balancing resources by key.
type lbIndex struct {
	pools     map[string]*targetPool
	tinsts    map[string]*targetInstance
	services  map[string]*backendService
	groups    map[string]*instanceGroup
	members   map[string]*instanceGroupMembers
	negs      map[string]*networkEndpointGroup
	negEPs    map[string]*negEndpoints
	proxies   map[string]*targetProxy
	urlMaps   map[string]*urlMap
	proxyNets map[string]*netipx.IPSet // network|region → proxy-only subnets
}

func (e *estate) lbIndex() *lbIndex {
	x := &lbIndex{pools: map[string]*targetPool{}, tinsts: map[string]*targetInstance{}, services: map[string]*backendService{},
		groups: map[string]*instanceGroup{}, members: map[string]*instanceGroupMembers{},
		negs: map[string]*networkEndpointGroup{}, negEPs: map[string]*negEndpoints{}, proxies: map[string]*targetProxy{},
		urlMaps: map[string]*urlMap{}, proxyNets: map[string]*netipx.IPSet{}}
	builders := map[string]*netipx.IPSetBuilder{}
	for _, p := range e.projects {
		for _, v := range p.targetPools {
			x.pools[resourceKey(v.SelfLink)] = v
		}
		for _, v := range p.targetInstances {
			x.tinsts[resourceKey(v.SelfLink)] = v
		}
		for _, v := range p.backendServices {
			x.services[resourceKey(v.SelfLink)] = v
		}
		for _, v := range p.instanceGroups {
			x.groups[resourceKey(v.SelfLink)] = v
		}
		for _, v := range p.groupMembers {
			x.members[resourceKey(v.InstanceGroup)] = v
		}
		for _, v := range p.negs {
			x.negs[resourceKey(v.SelfLink)] = v
		}
		for _, v := range p.negEndpoints {
			x.negEPs[resourceKey(v.NetworkEndpointGroup)] = v
		}
		for _, l := range [][]*targetProxy{p.httpProxies, p.httpsProxies, p.sslProxies, p.tcpProxies} {
			for _, v := range l {
				x.proxies[resourceKey(v.SelfLink)] = v
			}
		}
		for _, v := range p.urlMaps {
			x.urlMaps[resourceKey(v.SelfLink)] = v
		}
		// Regional external proxy load balancers reach their backends
		// from the region's proxy-only subnet, not from Google's front-end
		// ranges (https://cloud.google.com/load-balancing/docs/proxy-only-subnets).
		for i, s := range p.subnetworks {
			if s.Purpose != "REGIONAL_MANAGED_PROXY" || strings.EqualFold(s.Role, "BACKUP") {
				continue
			}
			pr, err := exposure.ParsePrefix(s.IPCidrRange)
			if err != nil {
				e.n.errorf(p.id, lastSegment(s.Region), p.id+"/"+FileSubnetworks+"["+itoa(i)+"] "+s.Name+" ipCidrRange", "%v", err)
				continue
			}
			k := resourceKey(s.Network) + "|" + lastSegment(s.Region)
			if builders[k] == nil {
				builders[k] = &netipx.IPSetBuilder{}
			}
			builders[k].AddPrefix(pr)
		}
	}
	for k, b := range builders {
		x.proxyNets[k], _ = b.IPSet()
	}
	return x
}

// backendRef is one instance behind a forwarding rule and the port it is
// reached on (0 keeps the frontend port).
type backendRef struct {
	inst    *instInfo
	network string // the interface's network, when the backend says
	port    uint16
}

// loadBalancerTargets makes a target of every external forwarding rule.
// Internal schemes (INTERNAL, INTERNAL_MANAGED, INTERNAL_SELF_MANAGED)
// are not reachable from the internet and are skipped.
func (e *estate) loadBalancerTargets(p *project) {
	x := e.lb
	if x == nil {
		x = e.lbIndex()
		e.lb = x
	}
	for i, fr := range p.forwardingRules {
		res := p.id + "/" + FileForwardingRules + "[" + itoa(i) + "] " + fr.Name
		region := lastSegment(fr.Region)
		scheme := strings.ToUpper(fr.LoadBalancingScheme)
		if scheme == "" {
			scheme = "EXTERNAL" // the API's default
		}
		if scheme != "EXTERNAL" && scheme != "EXTERNAL_MANAGED" {
			continue
		}
		ip, err := parseAddr(fr.IPAddress)
		if err != nil {
			e.n.errorf(p.id, region, res+" IPAddress", "%v", err)
			continue
		}
		proto, err := frProtocol(fr.IPProtocol)
		if err != nil {
			e.n.errorf(p.id, region, res+" IPProtocol", "%v", err)
			continue
		}
		ranges, err := frPorts(fr, proto)
		if err != nil {
			e.n.errorf(p.id, region, res, "%v", err)
			continue
		}
		key := resourceKey(fr.SelfLink)
		if key == "" {
			key = "projects/" + p.id + "/forwardingRules/" + fr.Name
		}
		t := &exposure.Target{
			Scope: exposure.Scope{Provider: Provider, Account: p.id, Region: region},
			ID:    key, Kind: exposure.KindForwarding, Name: fr.Name, Tags: fr.Labels, Owner: key,
			Endpoints: []exposure.Endpoint{{IP: ip, IPv6: ip.Is6() && !ip.Is4In6()}},
		}
		tkind := segmentKind(fr.Target)
		var fwd exposure.Forward
		fwd.ID, fwd.Name, fwd.Kind, fwd.Protocol = key, fr.Name, "forwarding-rule", proto
		var backends []backendRef
		switch {
		case tkind == "targetHttpProxies" || tkind == "targetHttpsProxies" || tkind == "targetSslProxies" || tkind == "targetTcpProxies":
			// A proxy load balancer accepts the connection itself and opens
			// its own to the backends, from Google's front-end ranges (global
			// and classic) or the region's proxy-only subnet (regional).
			fwd.Terminates = true
			fwd.ProxySources = e.proxySources(x, fr, scheme, region)
			backends = e.proxyBackends(x, p, res, region, fr.Target)
		case tkind == "targetPools":
			pool := x.pools[resourceKey(fr.Target)]
			if pool == nil {
				e.n.errorf(p.id, region, res+" target", "target pool %s is not in %s", fr.Target, FileTargetPools)
				break
			}
			for _, u := range pool.Instances {
				if ii := e.insts[resourceKey(u)]; ii != nil && ii.live {
					backends = append(backends, backendRef{inst: ii})
				}
			}
		case tkind == "targetInstances":
			ti := x.tinsts[resourceKey(fr.Target)]
			if ti == nil {
				e.n.errorf(p.id, region, res+" target", "target instance %s is not in %s", fr.Target, FileTargetInstances)
				break
			}
			if ii := e.insts[resourceKey(ti.Instance)]; ii != nil && ii.live {
				backends = append(backends, backendRef{inst: ii, network: resourceKey(ti.Network)})
			}
		case fr.BackendService != "":
			// External passthrough Network Load Balancer with a backend
			// service: the packet keeps the client address and the
			// destination port.
			bs := x.services[resourceKey(fr.BackendService)]
			if bs == nil {
				e.n.errorf(p.id, region, res+" backendService", "backend service %s is not in %s", fr.BackendService, FileBackendServices)
				break
			}
			backends = e.serviceBackends(x, p, res, bs, false)
		case tkind == "targetVpnGateways":
			// Classic VPN: Google's gateway terminates IKE/ESP itself; it
			// is not a customer-controlled exposure (docs/providers/gcp.md).
			continue
		default:
			// Private Service Connect and other targets are not internet
			// ingress to customer workloads.
			continue
		}
		for _, pr := range ranges {
			f := fwd
			f.Frontend = pr
			if len(ranges) > 1 {
				// Forwards sharing an ID are one listener; each port of a
				// ports list is its own.
				f.ID = key + "#" + pr.String()
			}
			if len(backends) == 0 {
				if !f.Terminates {
					// No backend: a passthrough forward delivers nothing, and
					// an empty hop says so.
					f.BackendPath = exposure.Path{{}}
				}
				t.Forwards = append(t.Forwards, f)
				continue
			}
			for _, b := range backends {
				g := f
				g.Backend, g.BackendName, g.BackendPort = b.inst.key, b.inst.inst.Name, b.port
				n := backendNIC(b)
				if n == nil {
					g.BackendPath = exposure.Path{{}}
				} else {
					g.BackendPath = exposure.Path{e.firewallHop(n)}
				}
				t.Forwards = append(t.Forwards, g)
			}
		}
		e.n.inv.Targets = append(e.n.inv.Targets, t)
	}
}

// backendNIC picks the interface load-balanced traffic arrives on: the one
// in the backend's network, otherwise nic0, as target pools use.
func backendNIC(b backendRef) *nic {
	for _, n := range b.inst.nics {
		if b.network != "" && n.network == b.network {
			return n
		}
	}
	if len(b.inst.nics) > 0 {
		return b.inst.nics[0]
	}
	return nil
}

func (e *estate) proxySources(x *lbIndex, fr *forwardingRule, scheme, region string) *netipx.IPSet {
	if scheme == "EXTERNAL_MANAGED" && region != "" {
		if s := x.proxyNets[resourceKey(fr.Network)+"|"+region]; s != nil {
			return s
		}
		return &netipx.IPSet{}
	}
	s, _ := exposure.ParseSources(proxyRangeNames...)
	return s
}

// proxyBackends follows a target proxy to its backend services (through
// the URL map for HTTP(S) proxies) and on to their instances.
func (e *estate) proxyBackends(x *lbIndex, p *project, res, region, target string) []backendRef {
	px := x.proxies[resourceKey(target)]
	if px == nil {
		e.n.errorf(p.id, region, res+" target", "target proxy %s is not in the snapshot", target)
		return nil
	}
	var services []string
	if px.URLMap != "" {
		um := x.urlMaps[resourceKey(px.URLMap)]
		if um == nil {
			e.n.errorf(p.id, region, res+" target", "URL map %s of %s is not in %s", px.URLMap, px.Name, FileURLMaps)
			return nil
		}
		services = um.services()
	} else if px.Service != "" {
		services = []string{px.Service}
	}
	var out []backendRef
	seen := map[string]bool{}
	for _, s := range services {
		k := resourceKey(s)
		if seen[k] {
			continue
		}
		seen[k] = true
		bs := x.services[k]
		if bs == nil {
			if segmentKind(s) == "backendBuckets" {
				continue // a Cloud Storage bucket: no instance behind it
			}
			e.n.errorf(p.id, region, res, "backend service %s is not in %s", s, FileBackendServices)
			continue
		}
		out = append(out, e.serviceBackends(x, p, res, bs, true)...)
	}
	return out
}

// serviceBackends lists the live instances of a backend service's instance
// groups. Proxies reach them on the group's named port for the service's
// portName; passthrough balancers keep the port. Network endpoint groups
// are not followed (docs/providers/gcp.md).
func (e *estate) serviceBackends(x *lbIndex, p *project, res string, bs *backendService, proxy bool) []backendRef {
	var out []backendRef
	for _, b := range bs.Backends {
		if segmentKind(b.Group) == "networkEndpointGroups" {
			out = append(out, e.negBackends(x, p, res, bs, b.Group, proxy)...)
			continue
		}
		if segmentKind(b.Group) != "instanceGroups" {
			continue
		}
		gk := resourceKey(b.Group)
		grp, mem := x.groups[gk], x.members[gk]
		if mem == nil {
			e.n.errorf(p.id, lastSegment(bs.Region), res, "members of instance group %s are not in %s: the paths to its instances are not analysed", b.Group, FileInstanceGroupMembers)
			continue
		}
		var port uint16
		if proxy {
			port = namedPortOf(bs, grp)
		}
		network := ""
		if grp != nil {
			network = resourceKey(grp.Network)
		}
		for _, m := range mem.Instances {
			ii := e.insts[resourceKey(m.Instance)]
			if ii == nil || !ii.live {
				continue
			}
			out = append(out, backendRef{inst: ii, network: network, port: port})
		}
	}
	return out
}

// negBackends lists the live instances of a zonal VM network endpoint
// group. Proxies reach each on its endpoint port (or the group's default
// port); passthrough balancers keep the port. Serverless, internet and
// hybrid groups have no instance and are skipped.
func (e *estate) negBackends(x *lbIndex, p *project, res string, bs *backendService, group string, proxy bool) []backendRef {
	gk := resourceKey(group)
	neg := x.negs[gk]
	if neg != nil && !vmEndpointTypes[neg.NetworkEndpointType] {
		return nil
	}
	if segmentAfter(gk, "zones") == "" {
		return nil // regional and global groups are serverless, internet or PSC
	}
	eps := x.negEPs[gk]
	if eps == nil {
		e.n.errorf(p.id, lastSegment(bs.Region), res, "endpoints of network endpoint group %s are not in %s: the paths to its endpoints are not analysed", group, FileNetworkEndpoints)
		return nil
	}
	var out []backendRef
	for _, ep := range eps.Endpoints {
		name := ep.NetworkEndpoint.Instance
		if name == "" {
			continue
		}
		key := resourceKey(name)
		if !strings.Contains(name, "/") {
			key = "projects/" + segmentAfter(gk, "projects") + "/zones/" + segmentAfter(gk, "zones") + "/instances/" + name
		}
		ii := e.insts[key]
		if ii == nil || !ii.live {
			continue
		}
		b := backendRef{inst: ii}
		if neg != nil {
			b.network = resourceKey(neg.Network)
		}
		if proxy {
			switch {
			case ep.NetworkEndpoint.Port > 0 && ep.NetworkEndpoint.Port <= 65535:
				b.port = uint16(ep.NetworkEndpoint.Port)
			case neg != nil && neg.DefaultPort > 0 && neg.DefaultPort <= 65535:
				b.port = uint16(neg.DefaultPort)
			default:
				b.port = namedPortOf(bs, nil)
			}
		}
		out = append(out, b)
	}
	return out
}

// namedPortOf resolves a backend service's portName (default "http")
// against the instance group's named ports; the deprecated port field,
// then 80, are the fallbacks the API documents.
func namedPortOf(bs *backendService, grp *instanceGroup) uint16 {
	name := bs.PortName
	if name == "" {
		name = "http"
	}
	if grp != nil {
		for _, np := range grp.NamedPorts {
			if np.Name == name && np.Port > 0 && np.Port <= 65535 {
				return uint16(np.Port)
			}
		}
	}
	if bs.Port > 0 && bs.Port <= 65535 {
		return uint16(bs.Port)
	}
	return 80
}

// segmentKind returns the collection a resource URL points into
// ("targetPools" for …/regions/r/targetPools/p).
func segmentKind(u string) string {
	parts := strings.Split(resourceKey(u), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return ""
}

// frProtocol maps a forwarding rule's IPProtocol; L3_DEFAULT forwards
// every protocol (https://cloud.google.com/load-balancing/docs/forwarding-rule-concepts#protocol-specifications).
func frProtocol(s string) (exposure.Protocol, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return exposure.ProtocolTCP, nil // the API's default
	case "L3_DEFAULT":
		return exposure.ProtocolAll, nil
	}
	return exposure.ParseProtocol(s)
}

// frPorts returns the frontend port ranges of a forwarding rule: portRange
// ("80-80", "8000-8999"), a list of up to five ports, allPorts, or — for a
// rule that names none, and for protocols without ports — every port.
func frPorts(fr *forwardingRule, proto exposure.Protocol) ([]exposure.PortRange, error) {
	if !proto.HasPorts() || fr.AllPorts {
		return []exposure.PortRange{exposure.AllPorts}, nil
	}
	var out []exposure.PortRange
	if fr.PortRange != "" {
		r, err := exposure.ParsePortRange(fr.PortRange)
		if err != nil {
			return nil, fmt.Errorf("portRange: %w", err)
		}
		out = append(out, r)
	}
	for i, s := range fr.Ports {
		r, err := exposure.ParsePortRange(s)
		if err != nil || strings.TrimSpace(s) == "" {
			if err == nil {
				err = fmt.Errorf("empty port")
			}
			return nil, fmt.Errorf("ports[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		out = append(out, exposure.AllPorts)
	}
	return out, nil
}

// loadBalancerLists are the forwarding rules and everything between them
// and the backend instances.
func (r *projectRun) loadBalancerLists() []list {
	c, p := r.c, r.project
	return []list{
		{file: FileForwardingRules, method: "compute.forwardingRules.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			regional, err := aggregated(c.fwdRules.AggregatedList(ctx, &computepb.AggregatedListForwardingRulesRequest{Project: p}),
				func(v compute.ForwardingRulesScopedListPair) []*computepb.ForwardingRule {
					return v.Value.GetForwardingRules()
				})
			if err != nil {
				return nil, err
			}
			// gcloud lists regional and global forwarding rules together;
			// the snapshot does the same.
			global, err := messages(drain(c.globalFwd.List(ctx, &computepb.ListGlobalForwardingRulesRequest{Project: p})))
			if err != nil {
				// The regional rules are still worth having.
				r.fail("compute.globalForwardingRules.list", err)
				return regional, nil
			}
			return append(regional, global...), nil
		}},
		{file: FileTargetPools, method: "compute.targetPools.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.targetPools.AggregatedList(ctx, &computepb.AggregatedListTargetPoolsRequest{Project: p}),
				func(v compute.TargetPoolsScopedListPair) []*computepb.TargetPool { return v.Value.GetTargetPools() })
		}},
		{file: FileTargetInstances, method: "compute.targetInstances.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.targetInst.AggregatedList(ctx, &computepb.AggregatedListTargetInstancesRequest{Project: p}),
				func(v compute.TargetInstancesScopedListPair) []*computepb.TargetInstance {
					return v.Value.GetTargetInstances()
				})
		}},
		{file: FileBackendServices, method: "compute.backendServices.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.backends.AggregatedList(ctx, &computepb.AggregatedListBackendServicesRequest{Project: p}),
				func(v compute.BackendServicesScopedListPair) []*computepb.BackendService {
					return v.Value.GetBackendServices()
				})
		}},
		{file: FileInstanceGroups, method: "compute.instanceGroups.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.groups.AggregatedList(ctx, &computepb.AggregatedListInstanceGroupsRequest{Project: p}),
				func(v compute.InstanceGroupsScopedListPair) []*computepb.InstanceGroup {
					return v.Value.GetInstanceGroups()
				})
		}, after: r.groupMembers},
		{file: FileNetworkEndpointGroups, method: "compute.networkEndpointGroups.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.negs.AggregatedList(ctx, &computepb.AggregatedListNetworkEndpointGroupsRequest{Project: p}),
				func(v compute.NetworkEndpointGroupsScopedListPair) []*computepb.NetworkEndpointGroup {
					return v.Value.GetNetworkEndpointGroups()
				})
		}, after: r.negMembers},
		{file: FileTargetHTTPProxies, method: "compute.targetHttpProxies.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.httpProxies.AggregatedList(ctx, &computepb.AggregatedListTargetHttpProxiesRequest{Project: p}),
				func(v compute.TargetHttpProxiesScopedListPair) []*computepb.TargetHttpProxy {
					return v.Value.GetTargetHttpProxies()
				})
		}},
		{file: FileTargetHTTPSProxies, method: "compute.targetHttpsProxies.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.httpsProxies.AggregatedList(ctx, &computepb.AggregatedListTargetHttpsProxiesRequest{Project: p}),
				func(v compute.TargetHttpsProxiesScopedListPair) []*computepb.TargetHttpsProxy {
					return v.Value.GetTargetHttpsProxies()
				})
		}},
		{file: FileTargetSSLProxies, method: "compute.targetSslProxies.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return messages(drain(c.sslProxies.List(ctx, &computepb.ListTargetSslProxiesRequest{Project: p})))
		}},
		{file: FileTargetTCPProxies, method: "compute.targetTcpProxies.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.tcpProxies.AggregatedList(ctx, &computepb.AggregatedListTargetTcpProxiesRequest{Project: p}),
				func(v compute.TargetTcpProxiesScopedListPair) []*computepb.TargetTcpProxy {
					return v.Value.GetTargetTcpProxies()
				})
		}},
		{file: FileURLMaps, method: "compute.urlMaps.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.urlMaps.AggregatedList(ctx, &computepb.AggregatedListUrlMapsRequest{Project: p}),
				func(v compute.UrlMapsScopedListPair) []*computepb.UrlMap { return v.Value.GetUrlMaps() })
		}},
	}
}

// groupMembers lists the instances of every instance group into
// instance-group-members.json and returns the groups unchanged.
func (r *projectRun) groupMembers(ctx context.Context, items []proto.Message) []proto.Message {
	members := []groupMembersDoc{}
	for _, m := range items {
		grp, ok := m.(*computepb.InstanceGroup)
		if !ok {
			continue
		}
		body := &computepb.InstanceGroupsListInstancesRequest{InstanceState: proto.String("ALL")}
		var got []*computepb.InstanceWithNamedPorts
		var err error
		if zone := lastSegment(grp.GetZone()); zone != "" {
			got, err = drain(r.c.groups.ListInstances(ctx, &computepb.ListInstancesInstanceGroupsRequest{
				Project: r.project, Zone: zone, InstanceGroup: grp.GetName(), InstanceGroupsListInstancesRequestResource: body}))
		} else {
			got, err = drain(r.c.regionGroups.ListInstances(ctx, &computepb.ListInstancesRegionInstanceGroupsRequest{
				Project: r.project, Region: lastSegment(grp.GetRegion()), InstanceGroup: grp.GetName(),
				RegionInstanceGroupsListInstancesRequestResource: &computepb.RegionInstanceGroupsListInstancesRequest{InstanceState: proto.String("ALL")}}))
		}
		if err != nil {
			r.fail("compute.instanceGroups.listInstances "+grp.GetName(), err)
			continue
		}
		doc := groupMembersDoc{InstanceGroup: grp.GetSelfLink()}
		for _, w := range got {
			b, err := protojson.Marshal(w)
			if err != nil {
				continue
			}
			doc.Instances = append(doc.Instances, b)
		}
		members = append(members, doc)
	}
	if err := r.snap.PutJSON(r.path(FileInstanceGroupMembers), members); err != nil {
		r.fail("snapshot "+FileInstanceGroupMembers, err)
	}
	return items
}

// groupMembersDoc is one entry of instance-group-members.json: a group's
// selfLink and what `gcloud compute instance-groups list-instances GROUP
// --format=json` prints for it.
type groupMembersDoc struct {
	InstanceGroup string            `json:"instanceGroup"`
	Instances     []json.RawMessage `json:"instances"`
}

// negMembers lists the endpoints of every zonal network endpoint group
// whose endpoints are VMs (GCE_VM_IP for passthrough load balancers,
// GCE_VM_IP_PORT for proxies) into network-endpoint-group-members.json;
// serverless, internet and hybrid groups have no instance behind them.
func (r *projectRun) negMembers(ctx context.Context, items []proto.Message) []proto.Message {
	docs := []negMembersDoc{}
	for _, m := range items {
		neg, ok := m.(*computepb.NetworkEndpointGroup)
		if !ok || neg.GetZone() == "" || !vmEndpointTypes[neg.GetNetworkEndpointType()] {
			continue
		}
		got, err := drain(r.c.negs.ListNetworkEndpoints(ctx, &computepb.ListNetworkEndpointsNetworkEndpointGroupsRequest{
			Project: r.project, Zone: lastSegment(neg.GetZone()), NetworkEndpointGroup: neg.GetName(),
			NetworkEndpointGroupsListEndpointsRequestResource: &computepb.NetworkEndpointGroupsListEndpointsRequest{HealthStatus: proto.String("SKIP")}}))
		if err != nil {
			r.fail("compute.networkEndpointGroups.listNetworkEndpoints "+neg.GetName(), err)
			continue
		}
		doc := negMembersDoc{NetworkEndpointGroup: neg.GetSelfLink(), Endpoints: []json.RawMessage{}}
		for _, ep := range got {
			if b, err := protojson.Marshal(ep); err == nil {
				doc.Endpoints = append(doc.Endpoints, b)
			}
		}
		docs = append(docs, doc)
	}
	if err := r.snap.PutJSON(r.path(FileNetworkEndpoints), docs); err != nil {
		r.fail("snapshot "+FileNetworkEndpoints, err)
	}
	return items
}

// vmEndpointTypes are the network endpoint group types whose endpoints are
// VM network interfaces.
var vmEndpointTypes = map[string]bool{"GCE_VM_IP": true, "GCE_VM_IP_PORT": true}

// negMembersDoc is one entry of network-endpoint-group-members.json: a
// group's selfLink and what `gcloud compute network-endpoint-groups
// list-network-endpoints NEG --zone Z --format=json` prints for it.
type negMembersDoc struct {
	NetworkEndpointGroup string            `json:"networkEndpointGroup"`
	Endpoints            []json.RawMessage `json:"endpoints"`
}
