package probe

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Target is one (address, protocol, port) to probe.
type Target struct {
	Addr     netip.Addr
	Host     string // DNS name, when the endpoint has one: HTTP Host and TLS SNI
	Protocol exposure.Protocol
	Port     uint16
	// Expect is the service the catalog expects on this port (ssh, https,
	// redis…); optional. It orders the fingerprinting attempts, it does
	// not decide the answer: what answers does.
	Expect string
	// ExposureIDs are the exposures (exposure.Exposure.ID) this port
	// belongs to, so observations can be merged back into findings.
	ExposureIDs []string
}

func (t Target) addrPort() netip.AddrPort { return netip.AddrPortFrom(t.Addr, t.Port) }

// DefaultMaxPortsPerRange is the largest range Plan probes port by port
// when PlanOptions.MaxPortsPerRange is zero.
const DefaultMaxPortsPerRange = 32

// PlanOptions is the sampling policy.
type PlanOptions struct {
	// RiskyPorts are the ports sampled inside a range larger than
	// MaxPortsPerRange (usually the catalog's risky ports). Ports listed
	// under exposure.ProtocolAll apply to TCP and UDP.
	RiskyPorts map[exposure.Protocol][]uint16
	// MaxPortsPerRange: every port of a range up to this size is probed
	// (DefaultMaxPortsPerRange when zero; negative probes no range port by
	// port, only risky ports).
	MaxPortsPerRange int
	// MaxTargets caps the plan (0: no cap). Targets on risky ports are kept
	// first.
	MaxTargets int
	// Expect names the service expected on a port; nil uses WellKnown.
	Expect func(p exposure.Protocol, port uint16) string
}

type planKey struct {
	addr  netip.Addr
	proto exposure.Protocol
	port  uint16
}

// Plan turns effective exposures into probe targets. Only effective
// exposures of endpoints with an IP address are probed; targets are
// deduplicated per address, protocol and port (merging exposure IDs). For a
// load balancer or NAT rule the frontend port, which is what the internet
// reaches, is probed.
//
// Sampling (docs/probes.md): every port of a range of at most
// MaxPortsPerRange ports; within a larger range only the risky ports; never
// a sweep of the whole range. An exposure for every protocol is probed on
// TCP and UDP. Protocols without ports (ICMP, ESP, GRE…) are not probed.
func Plan(exps []*exposure.Exposure, opts PlanOptions) []Target {
	maxRange := opts.MaxPortsPerRange
	if maxRange == 0 {
		maxRange = DefaultMaxPortsPerRange
	}
	expect := opts.Expect
	if expect == nil {
		expect = WellKnown
	}
	risky := map[exposure.Protocol]map[uint16]bool{}
	for _, proto := range []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP} {
		set := map[uint16]bool{}
		for _, p := range opts.RiskyPorts[proto] {
			set[p] = true
		}
		for _, p := range opts.RiskyPorts[exposure.ProtocolAll] {
			set[p] = true
		}
		risky[proto] = set
	}

	index := map[planKey]int{}
	var out []Target
	add := func(e *exposure.Exposure, proto exposure.Protocol, port uint16) {
		k := planKey{e.Endpoint.IP.Unmap(), proto, port}
		id := e.ID()
		if i, ok := index[k]; ok {
			if !slices.Contains(out[i].ExposureIDs, id) {
				out[i].ExposureIDs = append(out[i].ExposureIDs, id)
			}
			if out[i].Host == "" {
				out[i].Host = e.Endpoint.Host
			}
			return
		}
		want := expect(proto, port)
		if want == "" && e.Backend != nil && e.Backend.Ports.From == e.Backend.Ports.To {
			// A NAT rule 50022→22 runs the backend's service on an
			// unremarkable frontend port.
			want = expect(proto, e.Backend.Ports.From)
		}
		index[k] = len(out)
		out = append(out, Target{Addr: k.addr, Host: e.Endpoint.Host, Protocol: proto, Port: port, Expect: want, ExposureIDs: []string{id}})
	}
	for _, e := range exps {
		if e == nil || e.Level != exposure.Effective || !e.Endpoint.IP.IsValid() {
			continue
		}
		var protos []exposure.Protocol
		switch e.Protocol {
		case exposure.ProtocolTCP, exposure.ProtocolUDP:
			protos = []exposure.Protocol{e.Protocol}
		case exposure.ProtocolAll:
			protos = []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP}
		default:
			continue
		}
		r := e.Ports
		for _, proto := range protos {
			if maxRange > 0 && r.Size() <= maxRange {
				for p := int(r.From); p <= int(r.To); p++ {
					if p == 0 {
						continue // port 0 cannot be connected to
					}
					add(e, proto, uint16(p)) //nolint:gosec // p lies in [r.From, r.To], both uint16
				}
				continue
			}
			for p := range risky[proto] {
				if p != 0 && r.Contains(p) {
					add(e, proto, p)
				}
			}
		}
	}
	byAddr := func(a, b Target) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	}
	if opts.MaxTargets > 0 && len(out) > opts.MaxTargets {
		slices.SortFunc(out, func(a, b Target) int {
			ra, rb := risky[a.Protocol][a.Port], risky[b.Protocol][b.Port]
			if ra != rb {
				if ra {
					return -1
				}
				return 1
			}
			return byAddr(a, b)
		})
		out = out[:opts.MaxTargets]
	}
	slices.SortFunc(out, byAddr)
	return out
}
