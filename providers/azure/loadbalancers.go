package azure

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Load balancers.
//
// Azure Load Balancer is a pass-through layer-4 balancer: it does not
// terminate connections and backends see the client's address
// (https://learn.microsoft.com/azure/load-balancer/load-balancer-overview),
// so every forward keeps ProxySources nil and the backend NIC's NSGs must
// admit the client itself. Nothing filters in front of a frontend; a
// frontend with no rule drops everything.

type loadBalancer struct {
	doc *lbDoc
	src source
}

// Forward kinds.
const (
	forwardLBRule  = "lb-rule"
	forwardNATRule = "inbound-nat-rule"
	forwardDNAT    = "dnat-rule"
)

// lbProtocol maps a load-balancing or NAT rule protocol.
func lbProtocol(s string) (exposure.Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return exposure.ProtocolTCP, nil
	case "udp":
		return exposure.ProtocolUDP, nil
	case "all":
		return exposure.ProtocolAll, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

func intPort(field string, v *int64) (uint16, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 0 || *v > 65535 {
		return 0, fmt.Errorf("%s: port %d out of range 0-65535", field, *v)
	}
	return uint16(*v), nil
}

// backend is one member of a backend pool or the target of a NAT rule.
type backend struct {
	id, name string
	target   hopTarget
	known    bool
}

// poolBackends returns the members of a backend pool: NIC IP
// configurations (listed by the pool and by the NICs) and IP addresses of
// IP-based pools.
func (e *estate) poolBackends(lb *loadBalancer, poolID string) []backend {
	var out []backend
	seen := map[string]bool{}
	for _, icID := range e.poolMembers[poolID] {
		seen[icID] = true
		out = append(out, e.ipconfigBackend(lb, icID))
	}
	for _, p := range lb.doc.Properties.BackendAddressPools {
		if normID(p.ID) != poolID {
			continue
		}
		for _, a := range p.Properties.LoadBalancerBackendAddresses {
			ap := a.Properties
			if id := ap.NetworkInterfaceIPConfiguration.id(); id != "" {
				if !seen[id] {
					seen[id] = true
					out = append(out, e.ipconfigBackend(lb, id))
				}
				continue
			}
			addr, err := netip.ParseAddr(ap.IPAddress)
			if err != nil {
				e.errorf(lb.src.scope(lb.doc.Location), lb.src.file+" "+p.ID+" loadBalancerBackendAddresses/"+a.Name, "properties.ipAddress: invalid address %q", ap.IPAddress)
				continue
			}
			v := e.vnets[ap.VirtualNetwork.id()]
			if ic := e.ipconfigByAddress(addr, v); ic != nil {
				if !seen[normID(ic.id)] {
					seen[normID(ic.id)] = true
					out = append(out, e.ipconfigBackend(lb, normID(ic.id)))
				}
				continue
			}
			// An address no collected NIC holds: only its subnet's NSG is
			// known.
			s := e.subnets[ap.Subnet.id()]
			if s == nil {
				s = e.subnetByAddress(addr, v)
			}
			out = append(out, backend{id: addr.String(), name: a.Name, target: hopTarget{dst: addr, subnet: s}, known: s != nil})
		}
	}
	return out
}

func (e *estate) ipconfigBackend(lb *loadBalancer, icID string) backend {
	ic := e.ipconfigs[icID]
	if ic == nil {
		return backend{id: e.spelling(icID), name: lastSegment(e.spelling(icID))}
	}
	name := ic.nic.doc.Name
	if ic.nic.vm != "" {
		name = vmName(ic.nic.vm)
	}
	return backend{id: ic.nic.doc.ID, name: name, target: e.ipconfigTarget(ic), known: true}
}

// backendPath is the path in front of a backend. A backend the snapshot
// does not describe (a VM scale set instance's NIC, which the
// subscription-wide NIC list omits) is taken as open, with an error.
func (e *estate) backendPath(lb *loadBalancer, b backend, dst netip.Addr, none noNSG) exposure.Path {
	if !b.known {
		key := "unknown-backend-reported|" + b.id
		if e.layers[key] == nil {
			e.layers[key] = &exposure.Layer{}
			e.errorf(lb.src.scope(lb.doc.Location), lb.doc.ID, "backend %s is not in the snapshot (a VM scale set instance?): backend filter unknown; its exposures are kept and marked unknown", b.id)
		}
		return exposure.Path{{Layers: []*exposure.Layer{e.openLayer(layerUnknownTarget, "azure:unknown-backend", "backend not in snapshot: NSGs unknown, assumed open")}}}
	}
	t := b.target
	if dst.IsValid() {
		t.dst = dst
	}
	return e.path(t, none)
}

func (e *estate) buildLoadBalancers() {
	for _, lb := range e.lbs {
		d := lb.doc
		scope := lb.src.scope(d.Location)
		skuName := ""
		if d.SKU != nil {
			skuName = strings.ToLower(d.SKU.Name)
		}
		if skuName == "gateway" {
			continue // a gateway LB has no public frontend of its own
		}
		lbNone := noNSGClosed
		if skuName == "" || skuName == "basic" {
			lbNone = noNSGOpen
		}
		for _, fe := range d.Properties.FrontendIPConfigurations {
			pipID := fe.Properties.PublicIPAddress.id()
			if pipID == "" {
				continue // internal frontend, or an outbound-only public IP prefix
			}
			pip := e.pips[pipID]
			if pip == nil {
				e.errorf(scope, lb.src.file+" "+fe.ID, "properties.publicIPAddress: public IP %s is not in the snapshot", fe.Properties.PublicIPAddress.ID)
				continue
			}
			if !pip.ok {
				continue
			}
			none := lbNone
			if d.SKU == nil && !pip.basic {
				none = noNSGClosed // a Standard public IP implies a Standard LB
			}
			t := &exposure.Target{
				Scope:     scope,
				ID:        fe.ID,
				Kind:      exposure.KindLoadBalancer,
				Name:      d.Name + "/" + fe.Name,
				Tags:      d.Tags,
				Owner:     d.ID,
				Endpoints: []exposure.Endpoint{pip.endpoint},
			}
			t.Forwards = e.lbForwards(lb, normID(fe.ID), pip, none)
			if len(t.Forwards) > 0 {
				t.Path = exposure.Path{{Layers: []*exposure.Layer{e.openLayer(layerLBFrontend, "azure:lb-frontend", "load balancer frontend (no filtering before the backend)")}}}
			} else {
				// No rule: the frontend answers nothing.
				t.Path = exposure.Path{{}}
			}
			e.inv.Targets = append(e.inv.Targets, t)
		}
	}
}

func (e *estate) lbForwards(lb *loadBalancer, feID string, pip *publicIP, none noNSG) []exposure.Forward {
	d := lb.doc
	scope := lb.src.scope(d.Location)
	var out []exposure.Forward
	add := func(f exposure.Forward, members []backend, floating bool) {
		for _, b := range members {
			g := f
			g.Backend, g.BackendName = b.id, b.name
			var dst netip.Addr
			if floating {
				// Floating IP (direct server return): the packet reaches
				// the backend still addressed to the frontend IP and port
				// (https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip).
				dst = pip.endpoint.IP
			}
			g.BackendPath = e.backendPath(lb, b, dst, none)
			out = append(out, g)
		}
	}
	for _, r := range d.Properties.LoadBalancingRules {
		rp := r.Properties
		if rp.FrontendIPConfiguration.id() != feID {
			continue
		}
		res := lb.src.file + " " + r.ID
		proto, err := lbProtocol(rp.Protocol)
		if err != nil {
			e.errorf(scope, res, "properties.protocol: %v", err)
			continue
		}
		fp, err1 := intPort("properties.frontendPort", rp.FrontendPort)
		bp, err2 := intPort("properties.backendPort", rp.BackendPort)
		if err1 != nil || err2 != nil {
			e.errorf(scope, res, "%v", firstErr(err1, err2))
			continue
		}
		f := exposure.Forward{ID: r.ID, Name: r.Name, Kind: forwardLBRule, Protocol: proto, Frontend: exposure.Port(fp), BackendPort: bp}
		if fp == 0 {
			// HA ports: every port of every protocol, port kept
			// (https://learn.microsoft.com/azure/load-balancer/load-balancer-ha-ports-overview).
			f.Frontend, f.BackendPort = exposure.AllPorts, 0
		}
		if rp.EnableFloatingIP {
			f.BackendPort = 0
		}
		pools := append([]ref{}, rp.BackendAddressPools...)
		if rp.BackendAddressPool != nil {
			pools = append(pools, *rp.BackendAddressPool)
		}
		seen := map[string]bool{}
		for _, p := range pools {
			if seen[p.id()] {
				continue
			}
			seen[p.id()] = true
			add(f, e.poolBackends(lb, p.id()), rp.EnableFloatingIP)
		}
	}
	for _, r := range d.Properties.InboundNatRules {
		rp := r.Properties
		if rp.FrontendIPConfiguration.id() != feID {
			continue
		}
		res := lb.src.file + " " + r.ID
		proto, err := lbProtocol(rp.Protocol)
		if err != nil {
			e.errorf(scope, res, "properties.protocol: %v", err)
			continue
		}
		fp, err1 := intPort("properties.frontendPort", rp.FrontendPort)
		bp, err2 := intPort("properties.backendPort", rp.BackendPort)
		lo, err3 := intPort("properties.frontendPortRangeStart", rp.FrontendPortRangeStart)
		hi, err4 := intPort("properties.frontendPortRangeEnd", rp.FrontendPortRangeEnd)
		if err := firstErr(err1, err2, err3, err4); err != nil {
			e.errorf(scope, res, "%v", err)
			continue
		}
		f := exposure.Forward{ID: r.ID, Name: r.Name, Kind: forwardNATRule, Protocol: proto, Frontend: exposure.Port(fp), BackendPort: bp}
		if rp.EnableFloatingIP {
			f.BackendPort = 0
		}
		if rp.BackendAddressPool != nil {
			// NAT rule V2: each pool member gets one port of the
			// frontend range; which one is not in the resource
			// (https://learn.microsoft.com/azure/load-balancer/inbound-nat-rules),
			// so each member is reported behind the whole range.
			if hi < lo || lo == 0 {
				e.errorf(scope, res, "properties.frontendPortRangeStart/End: invalid range %d-%d", lo, hi)
				continue
			}
			f.Frontend = exposure.PortRange{From: lo, To: hi}
			add(f, e.poolBackends(lb, rp.BackendAddressPool.id()), rp.EnableFloatingIP)
			continue
		}
		var members []backend
		for _, icID := range e.natMembers[normID(r.ID)] {
			members = append(members, e.ipconfigBackend(lb, icID))
		}
		add(f, members, rp.EnableFloatingIP)
	}
	// Inbound NAT pools (VM scale sets) are not forwarded here: Azure
	// derives one inbound NAT rule per instance from each pool, and those
	// rules are listed in inboundNatRules with their backend.
	return out
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
