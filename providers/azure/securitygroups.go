package azure

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Network security groups.
//
// An NSG is an ordered layer: inbound rules in priority order, first match
// decides, the default rules at 65000, 65001 and 65500 close it
// (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules).
// Rules are evaluated after Azure has translated the public address to the
// NIC's private address ("Azure processes network security group rules
// after it translates public IP addresses to private IP addresses for
// inbound traffic", same page), so destination prefixes and destination ASGs
// select the IP configurations a rule applies to: each path gets the rules
// that apply to its private address, and identical selections share one
// *exposure.Layer.

type nsg struct {
	doc      *nsgDoc
	src      source
	rules    []*nsgRule // inbound only, by priority
	attached bool
	subnets  map[*subnet]bool // subnets it filters, directly or on a NIC (for the whole-NSG layer)
}

// address is one entry of a rule's source or destination: a prefix, a
// service tag, an ASG or any.
type address struct {
	any    bool
	prefix netip.Prefix
	tag    string // lower case
	asg    string // normalized ASG ID
	name   string // as written, for evidence
}

type nsgRule struct {
	name     string
	desc     string
	allow    bool
	priority int
	protos   []exposure.Protocol
	ports    []exposure.PortRange // destination ports; nil = all
	// srcPortsAll is false when the rule names source ports. A client
	// picks its own source port, so such an allow still admits anyone
	// willing to use it, and such a deny stops nobody: deny rules limited
	// to source ports are dropped, allow rules are kept whole.
	srcPortsAll bool
	src         []address
	dst         []address
}

// defaultInbound are the inbound default rules every NSG has
// (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
// They are added when a snapshot lacks them.
var defaultInbound = []struct {
	name     string
	priority int
	allow    bool
	src, dst string
}{
	{"AllowVnetInBound", 65000, true, "VirtualNetwork", "VirtualNetwork"},
	{"AllowAzureLoadBalancerInBound", 65001, true, "AzureLoadBalancer", "*"},
	{"DenyAllInBound", 65500, false, "*", "*"},
}

func (e *estate) addNSG(src source, d *nsgDoc) {
	n := &nsg{doc: d, src: src, subnets: map[*subnet]bool{}}
	scope := src.scope(d.Location)
	seen := map[string]bool{}
	parse := func(field string, list []ruleDoc) {
		for _, rd := range list {
			if !strings.EqualFold(rd.Properties.Direction, "Inbound") {
				continue
			}
			seen[strings.ToLower(rd.Name)] = true
			r, err := parseNSGRule(&rd)
			if err != nil {
				e.errorf(scope, fmt.Sprintf("%s %s %s/%s", src.file, d.ID, field, rd.Name), "%v", err)
				continue
			}
			n.rules = append(n.rules, r)
		}
	}
	parse("securityRules", d.Properties.SecurityRules)
	parse("defaultSecurityRules", d.Properties.DefaultSecurityRules)
	for _, dr := range defaultInbound {
		if seen[strings.ToLower(dr.name)] {
			continue
		}
		n.rules = append(n.rules, &nsgRule{
			name: dr.name, allow: dr.allow, priority: dr.priority,
			protos: []exposure.Protocol{exposure.ProtocolAll}, srcPortsAll: true,
			src: []address{parseAddress(dr.src)}, dst: []address{parseAddress(dr.dst)},
		})
	}
	// Priorities are unique per direction in Azure; a stable sort keeps
	// snapshot order for malformed duplicates.
	sort.SliceStable(n.rules, func(i, j int) bool { return n.rules[i].priority < n.rules[j].priority })
	id := normID(d.ID)
	if _, dup := e.nsgs[id]; !dup {
		e.nsgOrder = append(e.nsgOrder, id)
	}
	e.nsgs[id] = n
}

func parseNSGRule(rd *ruleDoc) (*nsgRule, error) {
	p := &rd.Properties
	r := &nsgRule{name: rd.Name, desc: p.Description}
	switch strings.ToLower(p.Access) {
	case "allow":
		r.allow = true
	case "deny":
	default:
		return nil, fmt.Errorf("properties.access: unknown access %q", p.Access)
	}
	if p.Priority == nil {
		return nil, fmt.Errorf("properties.priority: missing")
	}
	r.priority = int(*p.Priority)
	switch strings.ToLower(p.Protocol) {
	case "tcp":
		r.protos = []exposure.Protocol{exposure.ProtocolTCP}
	case "udp":
		r.protos = []exposure.Protocol{exposure.ProtocolUDP}
	case "icmp":
		// One "Icmp" rule covers ICMP and ICMPv6: NSGs have no separate
		// ICMPv6 protocol and dual-stack rules apply to both families.
		r.protos = []exposure.Protocol{exposure.ProtocolICMP, exposure.ProtocolICMPv6}
	case "esp":
		r.protos = []exposure.Protocol{50}
	case "ah":
		r.protos = []exposure.Protocol{51}
	case "*", "any":
		r.protos = []exposure.Protocol{exposure.ProtocolAll}
	default:
		return nil, fmt.Errorf("properties.protocol: unknown protocol %q", p.Protocol)
	}
	ports, err := portList(p.DestinationPortRange, p.DestinationPortRanges)
	if err != nil {
		return nil, fmt.Errorf("properties.destinationPortRange(s): %w", err)
	}
	r.ports = ports
	if ports != nil && r.protos[0] == exposure.ProtocolAll {
		// Ports exist only for TCP and UDP: "*" with ports is those ports
		// of TCP and UDP.
		r.protos = []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP}
	}
	if !r.protos[0].HasPorts() {
		r.ports = nil
	}
	sports, err := portList(p.SourcePortRange, p.SourcePortRanges)
	if err != nil {
		return nil, fmt.Errorf("properties.sourcePortRange(s): %w", err)
	}
	r.srcPortsAll = sports == nil
	if r.src, err = addresses(p.SourceAddressPrefix, p.SourceAddressPrefixes, p.SourceApplicationSecurityGroups); err != nil {
		return nil, fmt.Errorf("properties.sourceAddressPrefix(es): %w", err)
	}
	if r.dst, err = addresses(p.DestinationAddressPrefix, p.DestinationAddressPrefixes, p.DestinationApplicationSecurityGroups); err != nil {
		return nil, fmt.Errorf("properties.destinationAddressPrefix(es): %w", err)
	}
	if len(r.src) == 0 {
		return nil, fmt.Errorf("properties.sourceAddressPrefix: missing")
	}
	if len(r.dst) == 0 {
		return nil, fmt.Errorf("properties.destinationAddressPrefix: missing")
	}
	return r, nil
}

// portList parses an NSG port field and its list form; nil means all ports.
func portList(single string, list []string) ([]exposure.PortRange, error) {
	all := append([]string{}, list...)
	if strings.TrimSpace(single) != "" {
		all = append(all, single)
	}
	var out []exposure.PortRange
	for _, s := range all {
		pr, err := exposure.ParsePortRange(s)
		if err != nil {
			return nil, err
		}
		// 0-65535 and 1-65535 both mean every port (port 0 is not a port).
		if pr.From <= 1 && pr.To == 65535 {
			return nil, nil
		}
		out = append(out, pr)
	}
	return out, nil
}

func addresses(single string, list []string, asgs []ref) ([]address, error) {
	all := append([]string{}, list...)
	if strings.TrimSpace(single) != "" {
		all = append(all, single)
	}
	var out []address
	for _, s := range all {
		a := parseAddress(s)
		if !a.any && a.tag == "" && !a.prefix.IsValid() {
			_, err := exposure.ParsePrefix(s)
			return nil, err
		}
		out = append(out, a)
	}
	for _, g := range asgs {
		out = append(out, address{asg: g.id(), name: g.ID})
	}
	return out, nil
}

// parseAddress classifies one NSG address: "*", a CIDR or address, or a
// service tag. Anything that starts like an address must parse as one.
func parseAddress(s string) address {
	t := strings.TrimSpace(s)
	a := address{name: t}
	switch {
	case t == "*" || strings.EqualFold(t, "any"):
		a.any = true
	case t != "" && (t[0] >= '0' && t[0] <= '9' || strings.Contains(t, ":")):
		if p, err := exposure.ParsePrefix(t); err == nil {
			a.prefix = p
		}
	case t != "":
		a.tag = strings.ToLower(t)
	}
	return a
}

// resolveTag returns the addresses of a service tag, and whether it is
// known. VirtualNetwork depends on the subnet the rule is evaluated in.
// AzureLoadBalancer is 168.63.129.16
// (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16).
func (e *estate) resolveTag(tag string, vnetTag *netipx.IPSet) (*netipx.IPSet, bool) {
	switch tag {
	case "internet":
		// "The IP address space that's outside the virtual network and
		// reachable by the public internet", Azure's own public space
		// included.
		return exposure.PublicInternet(), true
	case "virtualnetwork":
		if vnetTag == nil {
			return &netipx.IPSet{}, true
		}
		return vnetTag, true
	case "azureloadbalancer":
		// 168.63.129.16 is Azure's virtual platform address: health probes
		// come from the host, never from the internet. Modelled as such it
		// would show as "every protocol open to 168.63.129.16" on every
		// NSG, so the tag admits no internet client.
		return &netipx.IPSet{}, true
	}
	if set, ok := e.tags[tag]; ok {
		return set, true
	}
	return nil, false
}

// sources returns what a rule's source side matches, seen from a VNet. An
// unknown service tag (no service-tags.json, or a tag it lacks) is taken
// as every public address in an allow rule and as nothing in a deny rule:
// both err on the side of reporting exposure. Source ASGs resolve to their
// members' private addresses.
func (e *estate) sources(r *nsgRule, vnetTag *netipx.IPSet) (*netipx.IPSet, []string) {
	key := sourceKey{r, vnetTag}
	if v, ok := e.srcCache[key]; ok {
		return v.set, v.names
	}
	var b netipx.IPSetBuilder
	names := make([]string, 0, len(r.src))
	for _, a := range r.src {
		name := a.name
		switch {
		case a.any:
			b.AddSet(exposure.AnySource())
		case a.prefix.IsValid():
			b.AddPrefix(a.prefix)
		case a.asg != "":
			if m := e.asgMembers[a.asg]; m != nil {
				b.AddSet(m)
			}
			name = "asg:" + lastSegment(a.name)
		case a.tag != "":
			set, ok := e.resolveTag(a.tag, vnetTag)
			if ok {
				b.AddSet(set)
			} else if r.allow {
				b.AddSet(exposure.PublicInternet())
				name += " (unresolved service tag: taken as any public address)"
			} else {
				name += " (unresolved service tag: taken as no address)"
			}
		}
		names = append(names, name)
	}
	set, _ := b.IPSet()
	e.srcCache[key] = sourceValue{set, names}
	return set, names
}

// sourceKey caches a rule's sources per VirtualNetwork tag: many variants
// of one NSG share them.
type sourceKey struct {
	rule *nsgRule
	tag  *netipx.IPSet
}

type sourceValue struct {
	set   *netipx.IPSet
	names []string
}

// destinationMatches reports whether a rule applies to traffic addressed to
// t.dst (a private address after translation) on an IP configuration that
// is a member of t.asgs.
func (e *estate) destinationMatches(r *nsgRule, t hopTarget, vnetTag *netipx.IPSet) bool {
	dst, asgs := t.dst, t.asgs
	if t.anyDst {
		if r.allow {
			return true
		}
		return slices.ContainsFunc(r.dst, func(a address) bool { return a.any })
	}
	for _, a := range r.dst {
		switch {
		case a.any:
			return true
		case a.prefix.IsValid():
			if dst.IsValid() && a.prefix.Contains(dst) {
				return true
			}
		case a.asg != "":
			if asgs[a.asg] {
				return true
			}
		case a.tag != "":
			set, ok := e.resolveTag(a.tag, vnetTag)
			if !ok {
				// Unknown tag: applies when that reports more exposure.
				if r.allow {
					return true
				}
				continue
			}
			if dst.IsValid() && set.Contains(dst) {
				return true
			}
		}
	}
	return false
}

// layerRules turns the selected rules into model rules.
func (e *estate) layerRules(rules []*nsgRule, vnetTag *netipx.IPSet) []exposure.Rule {
	var out []exposure.Rule
	for _, r := range rules {
		if !r.allow && !r.srcPortsAll {
			continue
		}
		action := exposure.Deny
		if r.allow {
			action = exposure.Allow
		}
		src, names := e.sources(r, vnetTag)
		for _, p := range r.protos {
			out = append(out, exposure.Rule{
				ID:          r.name,
				Description: r.desc,
				Action:      action,
				Priority:    r.priority,
				Protocol:    p,
				Ports:       r.ports,
				Sources:     src,
				SourceNames: names,
			})
		}
	}
	return out
}

func (e *estate) newNSGLayer(n *nsg, rules []exposure.Rule) *exposure.Layer {
	return &exposure.Layer{
		Scope:    n.src.scope(n.doc.Location),
		ID:       n.doc.ID,
		Kind:     exposure.LayerNSG,
		Name:     n.doc.Name,
		Mode:     exposure.Ordered,
		Default:  exposure.Deny,
		Latent:   true,
		Rules:    rules,
		Attached: n.attached,
		Tags:     n.doc.Tags,
	}
}

// nsgVariant returns the layer of NSG id as it applies to traffic addressed
// to t in subnet s. Identical selections share one layer.
func (e *estate) nsgVariant(id string, s *subnet, t hopTarget) *exposure.Layer {
	n := e.nsgs[id]
	if n == nil {
		return e.missingNSG(id)
	}
	var vnetTag *netipx.IPSet
	vkey := ""
	if s != nil {
		vnetTag, vkey = s.tag, normID(s.id)
	}
	var key strings.Builder
	key.WriteString("nsg|" + id + "|" + vkey + "|")
	var selected []*nsgRule
	for i, r := range n.rules {
		if e.destinationMatches(r, t, vnetTag) {
			selected = append(selected, r)
			key.WriteString(strconv.Itoa(i) + ",")
		}
	}
	if l := e.layers[key.String()]; l != nil {
		return l
	}
	l := e.newNSGLayer(n, e.layerRules(selected, vnetTag))
	e.layers[key.String()] = l
	return l
}

// missingNSG stands for an NSG a subnet or NIC references but the snapshot
// lacks (collection failed, its file is missing or undecodable, or it lives
// in a subscription not audited): its rules are unknown, so it is an
// unknown layer, neither open nor closed (see exposure.Layer.Unknown).
func (e *estate) missingNSG(id string) *exposure.Layer {
	key := "missing|" + id
	if l := e.layers[key]; l != nil {
		return l
	}
	sub := subscriptionOf(id)
	why := "not in the snapshot"
	if b := e.bad[sub+"/"+fileNSGs]; b != "" {
		why = b
	}
	if !e.badNSGs[id] {
		e.badNSGs[id] = true
		e.errorf(exposure.Scope{Account: sub}, e.spelling(id), "network security group is referenced but not in the snapshot (%s): its rules are unknown and nothing is inferred through it", why)
	}
	l := exposure.UnknownLayer(exposure.Scope{Provider: Provider, Account: sub}, e.spelling(id), exposure.LayerNSG, why)
	e.layers[key] = l
	return l
}

// buildNSGLayers adds every NSG as a whole (all inbound rules, every
// destination) to the inventory's layers, for latent findings.
func (e *estate) buildNSGLayers() {
	for _, sid := range sortedKeys(e.subnets) {
		s := e.subnets[sid]
		if n := e.nsgs[s.nsgID]; n != nil {
			n.attached = true
			n.subnets[s] = true
		}
	}
	for _, id := range e.nicOrder {
		nc := e.nics[id]
		n := e.nsgs[nc.nsgID]
		if n == nil {
			continue
		}
		n.attached = true
		for _, ic := range nc.doc.Properties.IPConfigurations {
			if s := e.subnets[ic.Properties.Subnet.id()]; s != nil {
				n.subnets[s] = true
			}
		}
	}
	for _, id := range e.nsgOrder {
		n := e.nsgs[id]
		// References the API lists but whose subnets or NICs were not
		// collected still mean the NSG is in use.
		if len(n.doc.Properties.Subnets)+len(n.doc.Properties.NetworkInterfaces) > 0 {
			n.attached = true
		}
		var b netipx.IPSetBuilder
		for s := range n.subnets {
			if s.tag != nil {
				b.AddSet(s.tag)
			}
		}
		vnetTag, _ := b.IPSet()
		// The whole NSG, judged rule by rule for latent exposures: an allow
		// shadowed by a higher-priority deny is still latent, as CIS Azure
		// 6.1-6.4 judge each rule (deleting the deny would open the port).
		whole := e.newNSGLayer(n, e.layerRules(n.rules, vnetTag))
		whole.LatentByRule = true
		e.inv.Layers = append(e.inv.Layers, whole)
	}
}

// lastSegment returns the last path element of an ARM ID.
func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// subscriptionOf returns the subscription ID of an ARM resource ID.
func subscriptionOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "subscriptions") {
			return parts[i+1]
		}
	}
	return ""
}
