package azure

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Network interfaces and the paths in front of them.
//
// Inbound traffic crosses the subnet's NSG and then the NIC's NSG; both must
// allow it (https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works#inbound-traffic),
// so each is one hop. Without any NSG the answer depends on what carries the
// traffic: a Basic SKU public IP (or Basic load balancer) is open by
// default, a Standard SKU one is "secure by default and closed to inbound
// traffic" until an NSG allows it
// (https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#sku),
// and private traffic (an Azure Firewall DNAT) is not filtered at all.

// noNSG says what a path without any NSG admits.
type noNSG uint8

const (
	noNSGOpen   noNSG = iota // Basic SKU public IP or load balancer, private traffic
	noNSGClosed              // Standard SKU public IP or load balancer
)

// hopTarget is what a path is computed for: the private address traffic is
// addressed to after translation, the subnet, the NIC's NSG and ASGs.
type hopTarget struct {
	dst    netip.Addr
	subnet *subnet
	nicNSG string
	asgs   map[string]bool
	// anyDst: the destination address the NSG sees is not known (an
	// application gateway's instances): allow rules apply whatever their
	// destination, deny rules only when it is "*".
	anyDst bool
	// subnetUnknown: the IP configuration names a subnet the snapshot
	// lacks, so whether it has an NSG is unknown.
	subnetUnknown bool
}

func (e *estate) ipconfigTarget(ic *ipconfig) hopTarget {
	s := e.subnets[ic.subnet]
	return hopTarget{dst: ic.addr, subnet: s, nicNSG: ic.nic.nsgID, asgs: ic.asgs, subnetUnknown: s == nil && ic.subnet != ""}
}

// path returns the hops in front of t.
func (e *estate) path(t hopTarget, none noNSG) exposure.Path {
	var p exposure.Path
	if t.subnetUnknown {
		// Whether the subnet has an NSG is unknown: nothing is inferred
		// through it (never read as open, never as closed).
		p = append(p, exposure.Hop{Layers: []*exposure.Layer{e.unknownSubnet()}})
	}
	if t.subnet != nil && t.subnet.nsgID != "" {
		p = append(p, exposure.Hop{Layers: []*exposure.Layer{e.nsgVariant(t.subnet.nsgID, t.subnet, t)}})
	}
	if t.nicNSG != "" {
		p = append(p, exposure.Hop{Layers: []*exposure.Layer{e.nsgVariant(t.nicNSG, t.subnet, t)}})
	}
	if len(p) == 0 {
		p = exposure.Path{{Layers: []*exposure.Layer{e.noNSGLayer(none)}}}
	}
	return p
}

// unknownSubnet stands for the NSG of a subnet the snapshot lacks.
func (e *estate) unknownSubnet() *exposure.Layer {
	const key = "unknown-subnet"
	if l := e.layers[key]; l != nil {
		return l
	}
	l := exposure.UnknownLayer(exposure.Scope{Provider: Provider}, "azure:unknown-subnet", exposure.LayerNSG, "subnet not in the snapshot: whether it has an NSG, and its rules, are unknown")
	e.layers[key] = l
	return l
}

// Kinds of the synthetic layers that stand for Azure's behaviour where no
// filtering construct exists; shown in evidence.
const (
	layerNoNSG         = "no-nsg"
	layerLBFrontend    = "load-balancer-frontend"
	layerUnknownTarget = "unknown-backend"
)

func (e *estate) noNSGLayer(none noNSG) *exposure.Layer {
	key := "no-nsg|" + strconv.Itoa(int(none))
	if l := e.layers[key]; l != nil {
		return l
	}
	l := &exposure.Layer{Scope: exposure.Scope{Provider: Provider}, Kind: layerNoNSG, Mode: exposure.AllowUnion}
	if none == noNSGClosed {
		l.ID = "azure:no-nsg:standard-sku"
		l.Name = "no NSG on subnet or NIC: Standard SKU is closed to inbound traffic by default"
	} else {
		l.ID = "azure:no-nsg:open"
		l.Name = "no NSG on subnet or NIC: Basic SKU and private traffic are not filtered"
		l.Rules = []exposure.Rule{{ID: "no-nsg", Action: exposure.Allow, Protocol: exposure.ProtocolAll, Sources: exposure.AnySource(), SourceNames: []string{"*"}}}
	}
	e.layers[key] = l
	return l
}

// openLayer is a synthetic layer admitting everything (nothing filters at
// that point), shared per kind.
func (e *estate) openLayer(kind, id, name string) *exposure.Layer {
	key := "open|" + kind + "|" + id
	if l := e.layers[key]; l != nil {
		return l
	}
	l := &exposure.Layer{
		Scope: exposure.Scope{Provider: Provider}, ID: id, Kind: kind, Name: name, Mode: exposure.AllowUnion,
		Rules: []exposure.Rule{{ID: kind, Action: exposure.Allow, Protocol: exposure.ProtocolAll, Sources: exposure.AnySource(), SourceNames: []string{"*"}}},
	}
	e.layers[key] = l
	return l
}

// buildInterfaces adds a target per NIC IP configuration with a public IP.
func (e *estate) buildInterfaces() {
	for _, id := range e.nicOrder {
		n := e.nics[id]
		for i := range n.doc.Properties.IPConfigurations {
			cd := &n.doc.Properties.IPConfigurations[i]
			ic := e.ipconfigs[normID(cd.ID)]
			if ic == nil || ic.pip == "" {
				continue
			}
			scope := n.src.scope(n.doc.Location)
			pip := e.pips[ic.pip]
			if pip == nil {
				e.errorf(scope, n.src.file+" "+cd.ID, "properties.publicIPAddress: public IP %s is not in the snapshot", cd.Properties.PublicIPAddress.ID)
				continue
			}
			if !pip.ok {
				continue // no address allocated (deallocated VM): nothing to reach
			}
			if ic.subnet != "" && e.subnets[ic.subnet] == nil {
				e.errorf(scope, n.src.file+" "+cd.ID, "properties.subnet: subnet %s is not in the snapshot: its NSG is unknown and nothing is inferred through it", cd.Properties.Subnet.ID)
			}
			none := noNSGOpen
			if !pip.basic {
				none = noNSGClosed
			}
			e.inv.Targets = append(e.inv.Targets, &exposure.Target{
				Scope:     scope,
				ID:        cd.ID,
				Kind:      exposure.KindInterface,
				Name:      e.interfaceName(ic),
				Tags:      n.doc.Tags,
				Owner:     e.owner(n),
				Endpoints: []exposure.Endpoint{pip.endpoint},
				Path:      e.path(e.ipconfigTarget(ic), none),
			})
		}
	}
}

// interfaceName is "vm (nic/ipconfig)" or "nic/ipconfig".
func (e *estate) interfaceName(ic *ipconfig) string {
	name := ic.nic.doc.Name + "/" + ic.name
	if ic.nic.vm != "" {
		return vmName(ic.nic.vm) + " (" + name + ")"
	}
	return name
}

// vmName is a VM's name; a Uniform scale-set instance is named
// "<scale set>_<instance>", as Azure shows it.
func vmName(id string) string {
	if s, ok := scaleSetOf(id); ok && !strings.EqualFold(lastSegment(id), s.name) {
		return s.name + "_" + lastSegment(id)
	}
	return lastSegment(id)
}

// owner is the VM behind a NIC, or the NIC itself.
func (e *estate) owner(n *nic) string {
	if n.vm != "" {
		return n.vm
	}
	return n.doc.ID
}

// ipconfigByAddress finds the IP configuration holding a private address,
// preferring one in VNet v (address spaces of different VNets may overlap).
func (e *estate) ipconfigByAddress(a netip.Addr, v *vnet) *ipconfig {
	if e.byAddr == nil {
		e.byAddr = map[netip.Addr][]*ipconfig{}
		for _, id := range sortedKeys(e.ipconfigs) {
			ic := e.ipconfigs[id]
			if ic.addr.IsValid() {
				e.byAddr[ic.addr] = append(e.byAddr[ic.addr], ic)
			}
		}
	}
	var found *ipconfig
	for _, ic := range e.byAddr[a] {
		if v == nil {
			return ic
		}
		if s := e.subnets[ic.subnet]; s != nil && s.vnet == v {
			return ic
		}
		if found == nil {
			found = ic
		}
	}
	return found
}

// subnetByAddress finds the subnet whose prefixes hold a, preferring VNet v.
func (e *estate) subnetByAddress(a netip.Addr, v *vnet) *subnet {
	var found *subnet
	for _, id := range sortedKeys(e.subnets) {
		s := e.subnets[id]
		for _, p := range s.prefixes {
			if !p.Contains(a) {
				continue
			}
			if v == nil || s.vnet == v {
				return s
			}
			if found == nil {
				found = s
			}
		}
	}
	return found
}
