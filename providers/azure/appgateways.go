package azure

import (
	"net/netip"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Application gateways.
//
// An application gateway is a reverse proxy: a listener accepts connections
// on its frontend port whatever the backends do (Terminates), and backends
// see the gateway's own addresses in its subnet, not the client
// (https://learn.microsoft.com/azure/application-gateway/how-application-gateway-works).
// Client traffic is filtered by the NSG of the gateway's subnet
// (https://learn.microsoft.com/azure/application-gateway/configuration-infrastructure#network-security-groups).
// Listeners are HTTP(S) listeners (httpListeners) and the layer-4 TCP/TLS
// proxy listeners (listeners); routing rules map them to backend pools and
// the backend settings' port. A WAF inspects requests but closes no port, so
// it is not a filter here.

const (
	fileAppGateways    = "application-gateways.json"
	kindAppGateway     = "application-gateway"
	forwardAppListener = "listener"
)

type appGatewayDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		GatewayIPConfigurations []struct {
			Properties struct {
				Subnet *ref `json:"subnet"`
			} `json:"properties"`
		} `json:"gatewayIPConfigurations"`
		FrontendIPConfigurations []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				PublicIPAddress *ref `json:"publicIPAddress"`
			} `json:"properties"`
		} `json:"frontendIPConfigurations"`
		FrontendPorts []struct {
			ID         string `json:"id"`
			Properties struct {
				Port *int64 `json:"port"`
			} `json:"properties"`
		} `json:"frontendPorts"`
		HTTPListeners  []appListenerDoc `json:"httpListeners"`
		Listeners      []appListenerDoc `json:"listeners"`
		RequestRouting []struct {
			Properties struct {
				HTTPListener          *ref `json:"httpListener"`
				BackendAddressPool    *ref `json:"backendAddressPool"`
				BackendHTTPSettings   *ref `json:"backendHttpSettings"`
				URLPathMap            *ref `json:"urlPathMap"`
				RedirectConfiguration *ref `json:"redirectConfiguration"`
			} `json:"properties"`
		} `json:"requestRoutingRules"`
		RoutingRules []struct {
			Properties struct {
				Listener           *ref `json:"listener"`
				BackendAddressPool *ref `json:"backendAddressPool"`
				BackendSettings    *ref `json:"backendSettings"`
			} `json:"properties"`
		} `json:"routingRules"`
		URLPathMaps []struct {
			ID         string `json:"id"`
			Properties struct {
				DefaultBackendAddressPool  *ref `json:"defaultBackendAddressPool"`
				DefaultBackendHTTPSettings *ref `json:"defaultBackendHttpSettings"`
				PathRules                  []struct {
					Properties struct {
						BackendAddressPool  *ref `json:"backendAddressPool"`
						BackendHTTPSettings *ref `json:"backendHttpSettings"`
					} `json:"properties"`
				} `json:"pathRules"`
			} `json:"properties"`
		} `json:"urlPathMaps"`
		BackendAddressPools []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				BackendAddresses []struct {
					IPAddress string `json:"ipAddress"`
					FQDN      string `json:"fqdn"`
				} `json:"backendAddresses"`
				BackendIPConfigurations []ref `json:"backendIPConfigurations"`
			} `json:"properties"`
		} `json:"backendAddressPools"`
		BackendHTTPSettings []appSettingsDoc `json:"backendHttpSettingsCollection"`
		BackendSettings     []appSettingsDoc `json:"backendSettingsCollection"`
	} `json:"properties"`
}

type appListenerDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		FrontendIPConfiguration *ref   `json:"frontendIPConfiguration"`
		FrontendPort            *ref   `json:"frontendPort"`
		Protocol                string `json:"protocol"`
	} `json:"properties"`
}

type appSettingsDoc struct {
	ID         string `json:"id"`
	Properties struct {
		Port *int64 `json:"port"`
	} `json:"properties"`
}

type appGateway struct {
	doc *appGatewayDoc
	src source
}

// appRoute is one (pool, backend port) a listener sends to.
type appRoute struct {
	pool string
	port uint16
}

func (e *estate) buildAppGateways() {
	for _, g := range e.appGateways {
		d := g.doc
		scope := g.src.scope(d.Location)
		// The gateway's subnet: its NSG filters clients, its prefixes are
		// what the backends see.
		var gwSubnet *subnet
		var proxy netipx.IPSetBuilder
		for _, c := range d.Properties.GatewayIPConfigurations {
			if s := e.subnets[c.Properties.Subnet.id()]; s != nil {
				gwSubnet = s
				for _, p := range s.prefixes {
					proxy.AddPrefix(p)
				}
			}
		}
		proxySet, _ := proxy.IPSet()
		if len(proxySet.Prefixes()) == 0 {
			proxySet = exposure.AnySource() // unknown subnet: the widest answer
		}
		ports := map[string]uint16{}
		for _, p := range d.Properties.FrontendPorts {
			port, err := intPort("properties.port", p.Properties.Port)
			if err != nil {
				e.errorf(scope, g.src.file+" "+p.ID, "%v", err)
				continue
			}
			ports[normID(p.ID)] = port
		}
		settings := map[string]uint16{}
		for _, s := range append(append([]appSettingsDoc{}, d.Properties.BackendHTTPSettings...), d.Properties.BackendSettings...) {
			port, err := intPort("properties.port", s.Properties.Port)
			if err != nil {
				e.errorf(scope, g.src.file+" "+s.ID, "%v", err)
				continue
			}
			settings[normID(s.ID)] = port
		}
		routes := e.appRoutes(d, settings)
		listeners := append(append([]appListenerDoc{}, d.Properties.HTTPListeners...), d.Properties.Listeners...)
		for _, fe := range d.Properties.FrontendIPConfigurations {
			pipID := fe.Properties.PublicIPAddress.id()
			if pipID == "" {
				continue
			}
			pip := e.pips[pipID]
			if pip == nil {
				e.errorf(scope, g.src.file+" "+fe.ID, "properties.publicIPAddress: public IP %s is not in the snapshot", fe.Properties.PublicIPAddress.ID)
				continue
			}
			if !pip.ok {
				continue
			}
			t := &exposure.Target{
				Scope: scope, ID: fe.ID, Kind: kindAppGateway, Name: d.Name + "/" + fe.Name,
				Tags: d.Tags, Owner: d.ID, Endpoints: []exposure.Endpoint{pip.endpoint},
			}
			// Allow rules for any destination apply: which address the
			// subnet NSG sees for a gateway is not the NIC model.
			t.Path = e.path(hopTarget{subnet: gwSubnet, anyDst: true}, noNSGOpen)
			for _, l := range listeners {
				if l.Properties.FrontendIPConfiguration.id() != normID(fe.ID) {
					continue
				}
				port, ok := ports[l.Properties.FrontendPort.id()]
				if !ok {
					e.errorf(scope, g.src.file+" "+l.ID, "properties.frontendPort: frontend port %s not found", l.Properties.FrontendPort.id())
					continue
				}
				f := exposure.Forward{ID: l.ID, Name: l.Name, Kind: forwardAppListener, Protocol: exposure.ProtocolTCP,
					Frontend: exposure.Port(port), ProxySources: proxySet, Terminates: true}
				rs := routes[normID(l.ID)]
				if len(rs) == 0 {
					// A redirect, or no rule yet: the listener still
					// accepts connections.
					t.Forwards = append(t.Forwards, f)
					continue
				}
				for _, r := range rs {
					for _, b := range e.appPoolBackends(g, r.pool) {
						fb := f
						fb.BackendPort = r.port
						fb.Backend, fb.BackendName = b.id, b.name
						if b.known {
							fb.BackendPath = e.path(b.target, noNSGOpen)
						} else {
							fb.BackendPath = exposure.Path{{Layers: []*exposure.Layer{e.openLayer(layerUnknownTarget, "azure:unknown-backend", "backend not in snapshot: NSGs unknown, assumed open")}}}
						}
						t.Forwards = append(t.Forwards, fb)
					}
				}
			}
			if len(t.Forwards) == 0 {
				t.Path = exposure.Path{{}} // no listener on this frontend
			}
			e.inv.Targets = append(e.inv.Targets, t)
		}
	}
}

// appRoutes maps each listener to the pools and backend ports its routing
// rules (and URL path maps) send to.
func (e *estate) appRoutes(d *appGatewayDoc, settings map[string]uint16) map[string][]appRoute {
	out := map[string][]appRoute{}
	add := func(listener string, pool, set *ref) {
		if pool.id() == "" {
			return
		}
		out[listener] = append(out[listener], appRoute{pool: pool.id(), port: settings[set.id()]})
	}
	maps := map[string]int{}
	for i, m := range d.Properties.URLPathMaps {
		maps[normID(m.ID)] = i
	}
	for _, r := range d.Properties.RequestRouting {
		p := r.Properties
		l := p.HTTPListener.id()
		add(l, p.BackendAddressPool, p.BackendHTTPSettings)
		if i, ok := maps[p.URLPathMap.id()]; ok {
			m := d.Properties.URLPathMaps[i].Properties
			add(l, m.DefaultBackendAddressPool, m.DefaultBackendHTTPSettings)
			for _, pr := range m.PathRules {
				add(l, pr.Properties.BackendAddressPool, pr.Properties.BackendHTTPSettings)
			}
		}
	}
	for _, r := range d.Properties.RoutingRules {
		add(r.Properties.Listener.id(), r.Properties.BackendAddressPool, r.Properties.BackendSettings)
	}
	return out
}

// appPoolBackends resolves an application gateway backend pool: NIC IP
// configurations, IP addresses (a NIC holding it, else its subnet) and FQDNs
// (unknown).
func (e *estate) appPoolBackends(g *appGateway, poolID string) []backend {
	var out []backend
	for _, p := range g.doc.Properties.BackendAddressPools {
		if normID(p.ID) != poolID {
			continue
		}
		for _, r := range p.Properties.BackendIPConfigurations {
			out = append(out, e.ipconfigBackend(nil, r.id()))
		}
		for _, a := range p.Properties.BackendAddresses {
			if a.FQDN != "" {
				out = append(out, backend{id: a.FQDN, name: a.FQDN})
				continue
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(a.IPAddress))
			if err != nil {
				e.errorf(g.src.scope(g.doc.Location), g.src.file+" "+p.ID, "properties.backendAddresses: invalid address %q", a.IPAddress)
				continue
			}
			if ic := e.ipconfigByAddress(addr, nil); ic != nil {
				b := e.ipconfigBackend(nil, normID(ic.id))
				b.target.dst = addr
				out = append(out, b)
			} else if s := e.subnetByAddress(addr, nil); s != nil {
				out = append(out, backend{id: addr.String(), name: addr.String(), target: hopTarget{dst: addr, subnet: s}, known: true})
			} else {
				out = append(out, backend{id: addr.String(), name: addr.String()})
			}
		}
	}
	return out
}
