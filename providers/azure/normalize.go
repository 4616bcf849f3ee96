package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Normalize turns the azure/ part of a snapshot (fsys rooted there: one
// directory per subscription) into an inventory. Bad files and resources are
// reported as inventory errors naming file and resource; the rest is kept.
// All subscriptions are indexed together, since a firewall DNAT rule or a
// peering may point into another subscription.
func Normalize(fsys fs.FS) (*exposure.Inventory, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &exposure.Inventory{}, nil
		}
		return nil, fmt.Errorf("read azure snapshot: %w", err)
	}
	e := newEstate()
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		e.load(fsys, ent.Name())
	}
	e.index()
	e.build()
	return e.inv, nil
}

// estate is every subscription's resources, indexed by lower-cased ARM ID.
type estate struct {
	inv *exposure.Inventory

	nsgs        map[string]*nsg
	nsgOrder    []string
	vnets       map[string]*vnet
	subnets     map[string]*subnet
	nics        map[string]*nic
	nicOrder    []string
	ipconfigs   map[string]*ipconfig
	pips        map[string]*publicIP
	lbs         []*loadBalancer
	routes      map[string]*routeTableDoc
	firewalls   []*firewall
	appGateways []*appGateway
	ipGroups    map[string]*netipx.IPSet // IP group ID → addresses
	policies    map[string]*firewallPolicy
	tags        map[string]*netipx.IPSet // service tag (lower case) → prefixes

	// asgMembers maps an ASG ID to the private addresses of its members.
	asgMembers map[string]*netipx.IPSet
	// poolMembers maps a backend pool ID to member IP configuration IDs.
	poolMembers map[string][]string
	// natMembers maps an inbound NAT rule ID to member IP configuration IDs.
	natMembers map[string][]string

	// spelled maps a normalized ID to its spelling in the API, for errors.
	spelled map[string]string

	layers   map[string]*exposure.Layer // variant cache
	srcCache map[sourceKey]sourceValue
	byAddr   map[netip.Addr][]*ipconfig // built on first use
	badNSGs  map[string]bool            // NSG references already reported missing
	// bad says why a subscription's file ("<sub>/<file>") is not usable.
	bad map[string]string
}

// requiredFiles are the subscription files every collection writes and
// without which part of the subscription is unknown: the NSGs and the
// networks whose subnets carry them, the NICs and public IPs that make
// targets, and the load balancers, firewalls and application gateways that
// forward to backends. A subscription lacking one is partial: an error names
// the file, and nothing is inferred through what it would have held.
var requiredFiles = []string{fileNSGs, fileVNets, fileNICs, filePublicIPs, fileLoadBalancers, fileFirewalls, fileAppGateways}

func newEstate() *estate {
	return &estate{
		inv:         &exposure.Inventory{},
		nsgs:        map[string]*nsg{},
		vnets:       map[string]*vnet{},
		subnets:     map[string]*subnet{},
		nics:        map[string]*nic{},
		ipconfigs:   map[string]*ipconfig{},
		pips:        map[string]*publicIP{},
		routes:      map[string]*routeTableDoc{},
		policies:    map[string]*firewallPolicy{},
		ipGroups:    map[string]*netipx.IPSet{},
		tags:        map[string]*netipx.IPSet{},
		asgMembers:  map[string]*netipx.IPSet{},
		poolMembers: map[string][]string{},
		natMembers:  map[string][]string{},
		spelled:     map[string]string{},
		layers:      map[string]*exposure.Layer{},
		srcCache:    map[sourceKey]sourceValue{},
		badNSGs:     map[string]bool{},
		bad:         map[string]string{},
	}
}

// errorf records a normalization error for a resource of a file.
func (e *estate) errorf(scope exposure.Scope, resource, format string, args ...any) {
	scope.Provider = Provider
	e.inv.Errors = append(e.inv.Errors, exposure.Error{
		Scope:    scope,
		Resource: resource,
		Stage:    "normalize",
		Message:  fmt.Sprintf(format, args...),
	})
}

// spell remembers how the API spelled a reference.
func (e *estate) spell(r *ref) {
	if r != nil && r.ID != "" {
		e.spelled[r.id()] = r.ID
	}
}

// spelling returns the API's spelling of a normalized ID.
func (e *estate) spelling(id string) string {
	if s, ok := e.spelled[id]; ok {
		return s
	}
	return id
}

// source is where a resource was read from, for errors.
type source struct {
	file string // azure/<sub>/<file>
	sub  string
}

func (s source) scope(region string) exposure.Scope {
	return exposure.Scope{Provider: Provider, Account: s.sub, Region: region}
}

// readList decodes a {"value":[…]} file and calls each for every item,
// reporting items that do not decode with their index and ID.
func readList[T any](e *estate, fsys fs.FS, sub, name string, each func(src source, v *T)) {
	src := source{file: path.Join(Provider, sub, name), sub: sub}
	b, err := fs.ReadFile(fsys, path.Join(sub, name))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.errorf(src.scope(""), src.file, "read: %v", err)
			e.bad[sub+"/"+name] = src.file + ": read: " + err.Error()
		} else if slices.Contains(requiredFiles, name) {
			e.errorf(src.scope(""), src.file, "required file not in snapshot: what it holds is unknown and nothing is inferred through it")
			e.bad[sub+"/"+name] = src.file + ": not in snapshot"
		}
		return
	}
	var doc listDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		e.errorf(src.scope(""), src.file, "decode list document: %v", jsonError(b, err))
		e.bad[sub+"/"+name] = src.file + ": decode: " + jsonError(b, err).Error()
		return
	}
	if doc.Value == nil {
		// ARM always answers a list with {"value": [...]}; null or an
		// object without value is not a list that says "none".
		e.errorf(src.scope(""), src.file, `decode list document: no "value" array (as ARM list calls return)`)
		e.bad[sub+"/"+name] = src.file + `: no "value" array`
		return
	}
	for i, raw := range doc.Value {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &id)
			res := fmt.Sprintf("%s value[%d]", src.file, i)
			if id.ID != "" {
				res += " " + id.ID
			}
			e.errorf(src.scope(""), res, "decode resource: %v", err)
			if name == fileNSGs && e.bad[sub+"/"+name] == "" {
				// An NSG that cannot be read is unknown, as is every NSG
				// reference the snapshot then lacks.
				e.bad[sub+"/"+name] = res + ": decode: " + err.Error()
			}
			continue
		}
		each(src, v)
	}
}

// jsonError adds the line of a syntax error.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + strings.Count(string(b[:min(int(se.Offset), len(b))]), "\n")
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

func (e *estate) load(fsys fs.FS, sub string) {
	readList(e, fsys, sub, fileNSGs, func(src source, d *nsgDoc) { e.addNSG(src, d) })
	readList(e, fsys, sub, fileVNets, func(src source, d *vnetDoc) { e.addVNet(src, d) })
	readList(e, fsys, sub, fileNICs, func(src source, d *nicDoc) { e.addNIC(src, d) })
	readList(e, fsys, sub, filePublicIPs, func(src source, d *publicIPDoc) { e.addPublicIP(src, d) })
	e.loadScaleSets(fsys, sub)
	readList(e, fsys, sub, fileLoadBalancers, func(src source, d *lbDoc) {
		e.lbs = append(e.lbs, &loadBalancer{doc: d, src: src})
	})
	readList(e, fsys, sub, fileRouteTables, func(src source, d *routeTableDoc) { e.routes[normID(d.ID)] = d })
	readList(e, fsys, sub, fileAppGateways, func(src source, d *appGatewayDoc) {
		e.appGateways = append(e.appGateways, &appGateway{doc: d, src: src})
	})
	readList(e, fsys, sub, fileIPGroups, func(src source, d *ipGroupDoc) { e.addIPGroup(src, d) })
	readList(e, fsys, sub, fileFirewalls, func(src source, d *firewallDoc) {
		e.firewalls = append(e.firewalls, &firewall{doc: d, src: src})
	})
	readList(e, fsys, sub, fileFirewallPolicies, func(src source, d *firewallPolicyDoc) {
		p := &firewallPolicy{doc: d, src: src}
		e.policies[normID(d.ID)] = p
		if rg, name, ok := resourceGroupAndName(d.ID); ok {
			file := path.Join(dirRuleCollectionGroups, rcgFileName(rg, name))
			if _, err := fs.Stat(fsys, path.Join(sub, file)); errors.Is(err, fs.ErrNotExist) {
				// Collected per policy: this policy's failure loses its
				// rules only, and says so.
				e.errorf(src.scope(""), path.Join(Provider, sub, file), "rule collection groups of firewall policy %s not in snapshot: its DNAT and network rules are unknown and not analysed", d.ID)
			}
			readList(e, fsys, sub, file, func(src source, g *ruleCollectionGroupDoc) {
				p.groups = append(p.groups, g)
			})
		}
	})
	// NAT gateways and ASGs are read for validation only: a NAT gateway is
	// outbound-only (https://learn.microsoft.com/azure/nat-gateway/nat-overview:
	// "inbound connections from the internet aren't supported"), and an ASG
	// is fully described by its members' NICs.
	readList(e, fsys, sub, fileNATGateways, func(source, *natGatewayDoc) {})
	readList(e, fsys, sub, fileASGs, func(source, *asgDoc) {})
	e.loadServiceTags(fsys, sub)
}

func (e *estate) loadServiceTags(fsys fs.FS, sub string) {
	file := path.Join(Provider, sub, fileServiceTags)
	b, err := fs.ReadFile(fsys, path.Join(sub, fileServiceTags))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.errorf(exposure.Scope{Account: sub}, file, "read: %v", err)
		}
		return
	}
	var doc serviceTagsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		e.errorf(exposure.Scope{Account: sub}, file, "decode service tags: %v", jsonError(b, err))
		return
	}
	for _, v := range doc.Values {
		var sb netipx.IPSetBuilder
		for _, p := range v.Properties.AddressPrefixes {
			pfx, err := exposure.ParsePrefix(p)
			if err != nil {
				e.errorf(exposure.Scope{Account: sub}, file+" "+v.Name, "address prefix: %v", err)
				continue
			}
			sb.AddPrefix(pfx)
		}
		if old := e.tags[strings.ToLower(v.Name)]; old != nil {
			sb.AddSet(old)
		}
		set, _ := sb.IPSet()
		e.tags[strings.ToLower(v.Name)] = set
	}
}

// vnet is a virtual network.
type vnet struct {
	doc   *vnetDoc
	src   source
	space []netip.Prefix // address space + peered spaces
}

type subnet struct {
	id       string
	name     string
	vnet     *vnet
	prefixes []netip.Prefix
	nsgID    string
	routeID  string
	// tag is the VirtualNetwork service tag seen from this subnet,
	// computed by index (it needs the route tables).
	tag *netipx.IPSet
}

func (e *estate) addVNet(src source, d *vnetDoc) {
	v := &vnet{doc: d, src: src}
	scope := src.scope(d.Location)
	add := func(field string, cidrs []string) {
		for _, c := range cidrs {
			p, err := exposure.ParsePrefix(c)
			if err != nil {
				e.errorf(scope, src.file+" "+d.ID, "%s: %v", field, err)
				continue
			}
			v.space = append(v.space, p)
		}
	}
	add("properties.addressSpace.addressPrefixes", d.Properties.AddressSpace.AddressPrefixes)
	// Peered address spaces are part of the VirtualNetwork tag
	// (https://learn.microsoft.com/azure/virtual-network/service-tags-overview#available-service-tags).
	for _, p := range d.Properties.VirtualNetworkPeerings {
		if p.Properties.RemoteAddressSpace != nil {
			add("virtualNetworkPeerings["+p.Name+"].remoteAddressSpace", p.Properties.RemoteAddressSpace.AddressPrefixes)
		}
	}
	e.vnets[normID(d.ID)] = v
	for _, sd := range d.Properties.Subnets {
		s := &subnet{id: sd.ID, name: sd.Name, vnet: v, nsgID: sd.Properties.NetworkSecurityGroup.id(), routeID: sd.Properties.RouteTable.id()}
		e.spell(sd.Properties.NetworkSecurityGroup)
		cidrs := sd.Properties.AddressPrefixes
		if sd.Properties.AddressPrefix != "" {
			cidrs = append([]string{sd.Properties.AddressPrefix}, cidrs...)
		}
		for _, c := range cidrs {
			p, err := exposure.ParsePrefix(c)
			if err != nil {
				e.errorf(scope, src.file+" "+sd.ID, "properties.addressPrefix: %v", err)
				continue
			}
			s.prefixes = append(s.prefixes, p)
		}
		e.subnets[normID(sd.ID)] = s
	}
}

// nic is a network interface.
type nic struct {
	doc   *nicDoc
	src   source
	nsgID string
	vm    string // owning VM ID
}

// ipconfig is one IP configuration of a NIC.
type ipconfig struct {
	id     string // as the API spelled it
	name   string
	nic    *nic
	addr   netip.Addr // private address
	subnet string     // subnet ID (normalized)
	pip    string     // public IP ID (normalized)
	asgs   map[string]bool
	doc    *ipConfigDoc
}

func (e *estate) addNIC(src source, d *nicDoc) {
	n := &nic{doc: d, src: src, nsgID: d.Properties.NetworkSecurityGroup.id()}
	e.spell(d.Properties.NetworkSecurityGroup)
	if d.Properties.VirtualMachine != nil {
		n.vm = d.Properties.VirtualMachine.ID
	}
	id := normID(d.ID)
	if _, dup := e.nics[id]; !dup {
		e.nicOrder = append(e.nicOrder, id)
	}
	e.nics[id] = n
	for i := range d.Properties.IPConfigurations {
		cd := &d.Properties.IPConfigurations[i]
		ic := &ipconfig{id: cd.ID, name: cd.Name, nic: n, doc: cd, subnet: cd.Properties.Subnet.id(), pip: cd.Properties.PublicIPAddress.id(), asgs: map[string]bool{}}
		if cd.Properties.PrivateIPAddress != "" {
			a, err := netip.ParseAddr(cd.Properties.PrivateIPAddress)
			if err != nil {
				e.errorf(src.scope(d.Location), src.file+" "+cd.ID, "properties.privateIPAddress: invalid address %q", cd.Properties.PrivateIPAddress)
			} else {
				ic.addr = a.Unmap()
			}
		}
		for _, a := range cd.Properties.ApplicationSecurityGroups {
			ic.asgs[a.id()] = true
		}
		e.ipconfigs[normID(cd.ID)] = ic
		for _, p := range cd.Properties.LoadBalancerBackendAddressPools {
			e.poolMembers[p.id()] = appendUnique(e.poolMembers[p.id()], normID(cd.ID))
		}
		for _, r := range cd.Properties.LoadBalancerInboundNatRules {
			e.natMembers[r.id()] = appendUnique(e.natMembers[r.id()], normID(cd.ID))
		}
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// publicIP is a public IP address resource.
type publicIP struct {
	doc      *publicIPDoc
	src      source
	endpoint exposure.Endpoint
	ok       bool // an address (or DNS name) is allocated
	basic    bool // Basic SKU: open by default
}

func (e *estate) addPublicIP(src source, d *publicIPDoc) {
	p := &publicIP{doc: d, src: src}
	// A resource without a SKU predates SKUs and is Basic.
	p.basic = d.SKU == nil || !strings.EqualFold(d.SKU.Name, "Standard")
	v6 := strings.EqualFold(d.Properties.PublicIPAddressVersion, "IPv6")
	if d.Properties.IPAddress != "" {
		a, err := netip.ParseAddr(d.Properties.IPAddress)
		if err != nil {
			e.errorf(src.scope(d.Location), src.file+" "+d.ID, "properties.ipAddress: invalid address %q", d.Properties.IPAddress)
		} else {
			p.endpoint = exposure.Endpoint{IP: a.Unmap(), IPv6: a.Is6() && !a.Is4In6()}
			p.ok = true
		}
	}
	if !p.ok && d.Properties.DNSSettings != nil && d.Properties.DNSSettings.FQDN != "" {
		// A dynamic address is released while its VM is deallocated; the
		// DNS name stays and comes back with the next address.
		p.endpoint = exposure.Endpoint{Host: d.Properties.DNSSettings.FQDN, IPv6: v6}
		p.ok = true
	}
	e.pips[normID(d.ID)] = p
}

// index computes what depends on several files: ASG members, pool members
// listed by the load balancers, the VirtualNetwork tag of every VNet.
func (e *estate) index() {
	asg := map[string]*netipx.IPSetBuilder{}
	for _, id := range sortedKeys(e.ipconfigs) {
		ic := e.ipconfigs[id]
		if !ic.addr.IsValid() {
			continue
		}
		for a := range ic.asgs {
			if asg[a] == nil {
				asg[a] = &netipx.IPSetBuilder{}
			}
			asg[a].Add(ic.addr)
		}
	}
	for id, b := range asg {
		e.asgMembers[id], _ = b.IPSet()
	}
	for _, lb := range e.lbs {
		for _, p := range lb.doc.Properties.BackendAddressPools {
			for _, r := range p.Properties.BackendIPConfigurations {
				e.spell(&r)
				e.poolMembers[normID(p.ID)] = appendUnique(e.poolMembers[normID(p.ID)], r.id())
			}
		}
		for _, r := range lb.doc.Properties.InboundNatRules {
			if r.Properties.BackendIPConfiguration != nil {
				e.spell(r.Properties.BackendIPConfiguration)
				e.natMembers[normID(r.ID)] = appendUnique(e.natMembers[normID(r.ID)], r.Properties.BackendIPConfiguration.id())
			}
		}
	}
	// The VirtualNetwork tag is the VNet's address space, peered spaces,
	// connected on-premises spaces and "address prefixes used on
	// user-defined routes" (https://learn.microsoft.com/azure/virtual-network/service-tags-overview#available-service-tags),
	// as the effective rules of a NIC show it: a 0.0.0.0/0 route to a
	// firewall appliance on a subnet makes AllowVnetInBound admit the whole
	// IPv4 internet there. The routes counted are those of the subnet's own
	// route table.
	for _, sid := range sortedKeys(e.subnets) {
		s := e.subnets[sid]
		var b netipx.IPSetBuilder
		for _, p := range s.vnet.space {
			b.AddPrefix(p)
		}
		if rt := e.routes[s.routeID]; rt != nil {
			for _, r := range rt.Properties.Routes {
				p, err := exposure.ParsePrefix(r.Properties.AddressPrefix)
				if err == nil {
					b.AddPrefix(p)
				} else if set := e.tags[strings.ToLower(r.Properties.AddressPrefix)]; set != nil {
					// Routes may name a service tag ("AzureCloud").
					b.AddSet(set)
				}
			}
		}
		s.tag, _ = b.IPSet()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// build produces targets and layers.
func (e *estate) build() {
	e.buildNSGLayers()
	e.buildInterfaces()
	e.buildLoadBalancers()
	e.buildFirewalls()
	e.buildAppGateways()
	e.markUnknownBackends()
}

// markUnknownBackends marks every forward to a backend the snapshot does
// not describe: its path could exist, so it is kept (filtering nothing)
// and its exposures say they rest on missing data.
func (e *estate) markUnknownBackends() {
	for _, t := range e.inv.Targets {
		for i := range t.Forwards {
			f := &t.Forwards[i]
			for _, h := range f.BackendPath {
				for _, l := range h.Layers {
					if l != nil && l.Kind == layerUnknownTarget && f.Unknown == "" {
						f.Unknown = "backend " + f.Backend + " " + l.Name
					}
				}
			}
		}
	}
}
