package azure

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Azure Firewall DNAT rules.
//
// A DNAT rule translates a firewall public IP and port to a private address
// and port and implicitly allows the translated traffic; the firewall
// denies everything else inbound
// (https://learn.microsoft.com/azure/firewall/tutorial-firewall-dnat).
// Inbound DNAT traffic is also source-translated to an address of the
// AzureFirewallSubnet, so the backend's NSGs see the firewall, not the
// client (https://learn.microsoft.com/azure/firewall/snat-private-range).
// The client filter is therefore the DNAT rules' source addresses, modelled
// as the target's own path; the backend path is evaluated against the
// firewall subnet. Rules come from classic NAT rule collections or from the
// firewall policy and its parent policies, whose rules are processed first
// (https://learn.microsoft.com/azure/firewall/rule-processing).

const kindFirewall = "azure-firewall"

type firewall struct {
	doc *firewallDoc
	src source
}

type firewallPolicy struct {
	doc    *firewallPolicyDoc
	src    source
	groups []*ruleCollectionGroupDoc
}

type dnatRule struct {
	id       string // collection/rule, for evidence
	protos   []exposure.Protocol
	sources  *netipx.IPSet
	srcNames []string
	dests    []string
	ports    []exposure.PortRange
	toAddr   netip.Addr
	toFQDN   string
	toPort   uint16 // 0 keeps the port
}

// parseDNAT validates one DNAT rule.
func (e *estate) parseDNAT(id string, d *fwNatRuleDoc) (*dnatRule, error) {
	r := &dnatRule{id: id, dests: d.DestinationAddresses, toFQDN: d.TranslatedFQDN}
	protos := append(append([]string{}, d.Protocols...), d.IPProtocols...)
	seen := map[exposure.Protocol]bool{}
	for _, p := range protos {
		var ps []exposure.Protocol
		switch strings.ToLower(p) {
		case "tcp":
			ps = []exposure.Protocol{exposure.ProtocolTCP}
		case "udp":
			ps = []exposure.Protocol{exposure.ProtocolUDP}
		case "any":
			ps = []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP}
		case "icmp":
			continue // DNAT translates ports; ICMP is not forwarded
		default:
			return nil, fmt.Errorf("protocols: unknown protocol %q", p)
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				r.protos = append(r.protos, p)
			}
		}
	}
	var b netipx.IPSetBuilder
	for _, s := range d.SourceAddresses {
		s = strings.TrimSpace(s)
		r.srcNames = append(r.srcNames, s)
		if err := addFirewallAddress(&b, s); err != nil {
			return nil, fmt.Errorf("sourceAddresses: %w", err)
		}
	}
	for _, g := range d.SourceIPGroups {
		if set := e.ipGroups[normID(g)]; set != nil {
			b.AddSet(set)
			r.srcNames = append(r.srcNames, "ipgroup:"+lastSegment(g))
			continue
		}
		// An IP group the snapshot lacks: every public address.
		b.AddSet(exposure.PublicInternet())
		r.srcNames = append(r.srcNames, "ipgroup:"+lastSegment(g)+" (not in snapshot: taken as any public address)")
	}
	r.sources, _ = b.IPSet()
	for _, p := range d.DestinationPorts {
		pr, err := exposure.ParsePortRange(p)
		if err != nil {
			return nil, fmt.Errorf("destinationPorts: %w", err)
		}
		r.ports = append(r.ports, pr)
	}
	if strings.TrimSpace(d.TranslatedPort) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(d.TranslatedPort))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("translatedPort: invalid port %q", d.TranslatedPort)
		}
		r.toPort = uint16(n)
	}
	if d.TranslatedAddress != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(d.TranslatedAddress))
		if err != nil {
			return nil, fmt.Errorf("translatedAddress: invalid address %q", d.TranslatedAddress)
		}
		r.toAddr = a.Unmap()
	}
	return r, nil
}

// dnatRules returns a firewall's DNAT rules in processing order, and the
// ID, kind and name of the construct that holds them.
func (e *estate) dnatRules(fw *firewall) (rules []*dnatRule, id, kind, name string) {
	d := fw.doc
	scope := fw.src.scope(d.Location)
	id, kind, name = d.ID, exposure.LayerFirewall, d.Name+" DNAT rules"
	cols := d.Properties.NatRuleCollections
	sort.SliceStable(cols, func(i, j int) bool { return deref(cols[i].Properties.Priority) < deref(cols[j].Properties.Priority) })
	for _, c := range cols {
		if c.Properties.Action != nil && !strings.EqualFold(c.Properties.Action.Type, "Dnat") {
			continue
		}
		for i := range c.Properties.Rules {
			rd := &c.Properties.Rules[i]
			r, err := e.parseDNAT(c.Name+"/"+rd.Name, rd)
			if err != nil {
				e.errorf(scope, fmt.Sprintf("%s %s natRuleCollections/%s/rules/%s", fw.src.file, d.ID, c.Name, rd.Name), "%v", err)
				continue
			}
			rules = append(rules, r)
		}
	}
	pid := d.Properties.FirewallPolicy.id()
	if pid == "" {
		return rules, id, kind, name
	}
	// Parent policies first.
	var chain []*firewallPolicy
	seen := map[string]bool{}
	for pid != "" && !seen[pid] {
		seen[pid] = true
		p := e.policies[pid]
		if p == nil {
			e.errorf(scope, d.ID, "firewall policy %s is not in the snapshot: its DNAT rules are unknown", pid)
			break
		}
		chain = append([]*firewallPolicy{p}, chain...)
		pid = p.doc.Properties.BasePolicy.id()
	}
	if len(chain) > 0 {
		last := chain[len(chain)-1]
		id, kind, name = last.doc.ID, exposure.LayerFirewallPolicy, last.doc.Name+" DNAT rules"
	}
	for _, p := range chain {
		groups := append([]*ruleCollectionGroupDoc{}, p.groups...)
		sort.SliceStable(groups, func(i, j int) bool {
			return deref(groups[i].Properties.Priority) < deref(groups[j].Properties.Priority)
		})
		for _, g := range groups {
			cols := g.Properties.RuleCollections
			sort.SliceStable(cols, func(i, j int) bool { return deref(cols[i].Priority) < deref(cols[j].Priority) })
			for _, c := range cols {
				if !strings.EqualFold(c.RuleCollectionType, "FirewallPolicyNatRuleCollection") {
					continue
				}
				for i := range c.Rules {
					rd := &c.Rules[i]
					r, err := e.parseDNAT(g.Name+"/"+c.Name+"/"+rd.Name, rd)
					if err != nil {
						e.errorf(p.src.scope(""), fmt.Sprintf("%s %s ruleCollections/%s/rules/%s", p.src.file, g.ID, c.Name, rd.Name), "%v", err)
						continue
					}
					rules = append(rules, r)
				}
			}
		}
	}
	return rules, id, kind, name
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (e *estate) dnatLayer(scope exposure.Scope, id, kind, name string, rules []*dnatRule) *exposure.Layer {
	l := &exposure.Layer{Scope: scope, ID: id, Kind: kind, Name: name, Mode: exposure.AllowUnion, Latent: true, Attached: true}
	for _, r := range rules {
		for _, p := range r.protos {
			l.Rules = append(l.Rules, exposure.Rule{ID: r.id, Action: exposure.Allow, Protocol: p, Ports: r.ports, Sources: r.sources, SourceNames: r.srcNames})
		}
	}
	return l
}

func (e *estate) buildFirewalls() {
	wholeAdded := map[string]bool{}
	for _, fw := range e.firewalls {
		d := fw.doc
		scope := fw.src.scope(d.Location)
		rules, lid, lkind, lname := e.dnatRules(fw)
		if !wholeAdded[lid] {
			wholeAdded[lid] = true
			e.inv.Layers = append(e.inv.Layers, e.dnatLayer(scope, lid, lkind, lname, rules))
		}
		// The backends see an address of the AzureFirewallSubnet.
		var proxy netipx.IPSetBuilder
		var fwVNet *vnet
		for _, ic := range d.Properties.IPConfigurations {
			if s := e.subnets[ic.Properties.Subnet.id()]; s != nil {
				fwVNet = s.vnet
				for _, p := range s.prefixes {
					proxy.AddPrefix(p)
				}
			} else if a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress); err == nil {
				proxy.Add(a)
			}
		}
		proxySet, _ := proxy.IPSet()
		if len(proxySet.Prefixes()) == 0 {
			proxySet = exposure.AnySource() // unknown: any address, the widest answer
		}
		type frontend struct {
			id, name string
			ep       exposure.Endpoint
		}
		var fes []frontend
		for _, ic := range d.Properties.IPConfigurations {
			pip := e.pips[ic.Properties.PublicIPAddress.id()]
			if ic.Properties.PublicIPAddress == nil {
				continue
			}
			if pip == nil {
				e.errorf(scope, fw.src.file+" "+ic.ID, "properties.publicIPAddress: public IP %s is not in the snapshot", ic.Properties.PublicIPAddress.ID)
				continue
			}
			if pip.ok {
				fes = append(fes, frontend{id: pip.doc.ID, name: pip.doc.Name, ep: pip.endpoint})
			}
		}
		if h := d.Properties.HubIPAddresses; h != nil && h.PublicIPs != nil {
			for _, a := range h.PublicIPs.Addresses {
				ip, err := netip.ParseAddr(a.Address)
				if err != nil {
					e.errorf(scope, fw.src.file+" "+d.ID, "properties.hubIPAddresses.publicIPs: invalid address %q", a.Address)
					continue
				}
				fes = append(fes, frontend{id: d.ID + "/hubIPAddresses/" + ip.String(), name: ip.String(), ep: exposure.Endpoint{IP: ip, IPv6: ip.Is6()}})
			}
		}
		for _, fe := range fes {
			var mine []*dnatRule
			for _, r := range rules {
				if dnatMatches(r, fe.ep) {
					mine = append(mine, r)
				}
			}
			t := &exposure.Target{
				Scope: scope, ID: fe.id, Kind: kindFirewall, Name: d.Name + " (" + fe.name + ")",
				Tags: d.Tags, Owner: d.ID, Endpoints: []exposure.Endpoint{fe.ep},
			}
			if len(mine) == 0 {
				t.Path = exposure.Path{{}} // the firewall denies inbound traffic no DNAT rule matches
			} else {
				t.Path = exposure.Path{{Layers: []*exposure.Layer{e.dnatLayer(scope, lid, lkind, lname, mine)}}}
			}
			for _, r := range mine {
				bid, bname, bpath := e.dnatBackend(fw, r, fwVNet)
				for _, p := range r.protos {
					ports := r.ports
					if len(ports) == 0 {
						ports = []exposure.PortRange{exposure.AllPorts}
					}
					for _, pr := range ports {
						t.Forwards = append(t.Forwards, exposure.Forward{
							// One forward per protocol and port range: the
							// analysis groups forwards by ID.
							ID: lid + "/" + r.id + "#" + p.String() + ":" + pr.String(), Name: r.id, Kind: forwardDNAT, Protocol: p,
							Frontend: pr, BackendPort: r.toPort,
							Backend: bid, BackendName: bname, BackendPath: bpath,
							ProxySources: proxySet,
						})
					}
				}
			}
			e.inv.Targets = append(e.inv.Targets, t)
		}
	}
}

func dnatMatches(r *dnatRule, ep exposure.Endpoint) bool {
	for _, d := range r.dests {
		d = strings.TrimSpace(d)
		if d == "*" {
			return true
		}
		if p, err := exposure.ParsePrefix(d); err == nil && ep.IP.IsValid() && p.Contains(ep.IP) {
			return true
		}
	}
	return false
}

// dnatBackend finds what a DNAT rule translates to and the path in front
// of it; traffic from the firewall is private, so no NSG means no filter.
func (e *estate) dnatBackend(fw *firewall, r *dnatRule, v *vnet) (id, name string, p exposure.Path) {
	unknown := func(what string) (string, string, exposure.Path) {
		return what, what, exposure.Path{{Layers: []*exposure.Layer{e.openLayer(layerUnknownTarget, "azure:unknown-backend", "backend not in snapshot: NSGs unknown, assumed open")}}}
	}
	if !r.toAddr.IsValid() {
		return unknown(r.toFQDN)
	}
	if ic := e.ipconfigByAddress(r.toAddr, v); ic != nil {
		name := ic.nic.doc.Name
		if ic.nic.vm != "" {
			name = vmName(ic.nic.vm)
		}
		t := e.ipconfigTarget(ic)
		t.dst = r.toAddr
		return ic.nic.doc.ID, name, e.path(t, noNSGOpen)
	}
	if s := e.subnetByAddress(r.toAddr, v); s != nil {
		if e.bad[subscriptionOf(s.id)+"/"+fileNICs] != "" {
			// The NICs could not be read: the address may sit on a NIC
			// whose NSG filters it too.
			return unknown(r.toAddr.String())
		}
		return r.toAddr.String(), r.toAddr.String(), e.path(hopTarget{dst: r.toAddr, subnet: s}, noNSGOpen)
	}
	return unknown(r.toAddr.String())
}

// addFirewallAddress adds an Azure Firewall address ("*", a CIDR, an
// address or a range "a-b") to b.
func addFirewallAddress(b *netipx.IPSetBuilder, s string) error {
	switch {
	case s == "*":
		b.AddSet(exposure.AnySource())
	case strings.Contains(s, "-"):
		rg, err := netipx.ParseIPRange(s)
		if err != nil {
			return fmt.Errorf("invalid range %q", s)
		}
		b.AddRange(rg)
	default:
		p, err := exposure.ParsePrefix(s)
		if err != nil {
			return err
		}
		b.AddPrefix(p)
	}
	return nil
}

// IP groups (https://learn.microsoft.com/azure/firewall/ip-groups): named
// address lists that firewall rules reference.
const fileIPGroups = "ip-groups.json"

type ipGroupDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		IPAddresses []string `json:"ipAddresses"`
	} `json:"properties"`
}

func (e *estate) addIPGroup(src source, d *ipGroupDoc) {
	var b netipx.IPSetBuilder
	for _, a := range d.Properties.IPAddresses {
		if err := addFirewallAddress(&b, strings.TrimSpace(a)); err != nil {
			e.errorf(src.scope(d.Location), src.file+" "+d.ID, "properties.ipAddresses: %v", err)
		}
	}
	e.ipGroups[normID(d.ID)], _ = b.IPSet()
}
