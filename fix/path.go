package fix

import (
	"fmt"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// hopTraffic is one hop of the exposure's path with the traffic that
// crosses it: closing any one hop for that traffic closes the exposure.
type hopTraffic struct {
	hop     exposure.Hop
	proto   exposure.Protocol
	ports   exposure.PortRange
	sources *netipx.IPSet
	// backend is set for the hops in front of a forward's backend.
	backend bool
	// proxied: the sources are the proxy's, not the clients'.
	proxied bool
}

// pathOf finds the hops the exposure crossed in the inventory: the
// target's path (on the frontend ports) and, through a forward, the
// backend's path (on the backend ports). A latent exposure's "path" is its
// own layer.
func pathOf(inv *exposure.Inventory, x *exposure.Exposure) ([]hopTraffic, error) {
	if x.Level == exposure.Latent {
		for _, l := range allLayers(inv) {
			if l.ID == x.Target.ID && l.Kind == x.Target.Kind && l.Scope == x.Scope && l.Latent && !l.Egress {
				return []hopTraffic{{hop: exposure.Hop{Layers: []*exposure.Layer{l}}, proto: x.Protocol, ports: x.Ports, sources: x.Sources}}, nil
			}
		}
		return nil, fmt.Errorf("fix: layer %s of latent exposure %s not in the inventory", x.Target.ID, x.ID())
	}
	var t *exposure.Target
	for _, c := range inv.Targets {
		if c != nil && c.ID == x.Target.ID && c.Scope == x.Scope {
			t = c
			break
		}
	}
	if t == nil {
		return nil, fmt.Errorf("fix: target %s of exposure %s not in the inventory", x.Target.ID, x.ID())
	}
	var out []hopTraffic
	for _, h := range t.Path {
		out = append(out, hopTraffic{hop: h, proto: x.Protocol, ports: x.Ports, sources: x.Sources})
	}
	if x.Backend == nil {
		return out, nil
	}
	for i := range t.Forwards {
		f := &t.Forwards[i]
		if f.ID != x.Backend.Forward || f.Backend != x.Backend.ID || !f.Frontend.Overlaps(x.Ports) {
			continue
		}
		if f.Protocol != x.Protocol && f.Protocol != exposure.ProtocolAll {
			continue
		}
		src, proxied := x.Sources, false
		if p := proxyFor(f, x.Endpoint.Is6()); p != nil {
			src, proxied = p, true
		}
		for _, h := range f.BackendPath {
			out = append(out, hopTraffic{hop: h, proto: x.Protocol, ports: x.Backend.Ports, sources: src, backend: true, proxied: proxied})
		}
		return out, nil
	}
	return nil, fmt.Errorf("fix: forward %s to %s of exposure %s not in the inventory", x.Backend.Forward, x.Backend.ID, x.ID())
}

// proxyFor mirrors exposure.Forward's choice of what the backend sees of a
// client of one family.
func proxyFor(f *exposure.Forward, v6 bool) *netipx.IPSet {
	if v6 && f.ProxySources6 != nil {
		return f.ProxySources6
	}
	if !v6 && f.ProxySources4 != nil {
		return f.ProxySources4
	}
	return f.ProxySources
}

// allLayers lists every distinct layer of an inventory in a fixed order:
// its Layers, then those on the targets' and backends' paths. Two
// inventories of the same shape (an inventory and its Clone) list their
// layers in the same order.
func allLayers(inv *exposure.Inventory) []*exposure.Layer {
	seen := map[*exposure.Layer]bool{}
	var out []*exposure.Layer
	add := func(l *exposure.Layer) {
		if l != nil && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range inv.Layers {
		add(l)
	}
	for _, t := range inv.Targets {
		if t == nil {
			continue
		}
		for _, h := range t.Path {
			for _, l := range h.Layers {
				add(l)
			}
		}
		for _, f := range t.Forwards {
			for _, h := range f.BackendPath {
				for _, l := range h.Layers {
					add(l)
				}
			}
		}
	}
	return out
}
