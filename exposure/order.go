package exposure

import (
	"slices"
	"strings"
)

func sortExposures(es []*Exposure) {
	slices.SortStableFunc(es, func(x, y *Exposure) int {
		if c := strings.Compare(x.Provider, y.Provider); c != 0 {
			return c
		}
		if c := strings.Compare(x.Account, y.Account); c != 0 {
			return c
		}
		if c := strings.Compare(x.Region, y.Region); c != 0 {
			return c
		}
		if c := strings.Compare(x.Target.ID, y.Target.ID); c != 0 {
			return c
		}
		if x.Endpoint != y.Endpoint {
			if endpointLess(x.Endpoint, y.Endpoint) {
				return -1
			}
			return 1
		}
		if x.Protocol != y.Protocol {
			return protoRank(x.Protocol) - protoRank(y.Protocol)
		}
		if x.Ports.From != y.Ports.From {
			return int(x.Ports.From) - int(y.Ports.From)
		}
		return strings.Compare(backendKey(x), backendKey(y))
	})
}

func endpointLess(a, b Endpoint) bool {
	if a.IP.IsValid() && b.IP.IsValid() && a.IP != b.IP {
		return a.IP.Less(b.IP)
	}
	return a.String() < b.String()
}

func protoRank(p Protocol) int {
	switch p {
	case ProtocolTCP:
		return -4
	case ProtocolUDP:
		return -3
	case ProtocolICMP:
		return -2
	case ProtocolICMPv6:
		return -1
	case ProtocolAll:
		return 1000
	}
	return int(p)
}

func backendKey(e *Exposure) string {
	if e.Backend == nil {
		return ""
	}
	return e.Backend.Forward + "\x00" + e.Backend.ID
}
