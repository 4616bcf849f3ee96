package exposure

import (
	"strconv"
	"strings"

	"go4.org/netipx"
)

func (a *analyzer) layerKey(l *Layer) string {
	i, ok := a.layerIdx[l]
	if !ok {
		i = len(a.layerIdx)
		a.layerIdx[l] = i
	}
	return strconv.Itoa(i)
}

func (a *analyzer) hopKey(h Hop) string {
	var b strings.Builder
	for i, l := range h.Layers {
		if i > 0 {
			b.WriteByte(',')
		}
		if l == nil {
			b.WriteByte('-')
			continue
		}
		b.WriteString(a.layerKey(l))
	}
	return b.String()
}

func (a *analyzer) pathKey(p Path) string {
	keys := make([]string, len(p))
	for i, h := range p {
		keys[i] = a.hopKey(h)
	}
	return strings.Join(keys, "|")
}

func (a *analyzer) hop(h Hop) *trafficSet {
	if len(h.Layers) == 1 && h.Layers[0] != nil {
		return a.layer(h.Layers[0]).admits
	}
	k := a.hopKey(h)
	if ts, ok := a.hops[k]; ok {
		return ts
	}
	ts := emptyTraffic()
	for _, l := range h.Layers {
		if l != nil {
			ts = ts.union(a.layer(l).admits)
		}
	}
	a.hops[k] = ts
	return ts
}

// path is what gets through every hop, from any address; cached for
// the backend paths of forwards, which many listeners share.
func (a *analyzer) path(p Path) *trafficSet {
	k := a.pathKey(p)
	if ts, ok := a.paths[k]; ok {
		return ts
	}
	ts := a.pathUncached(p)
	a.paths[k] = ts
	return ts
}

// pathUncached evaluates a path whose result the caller caches itself.
func (a *analyzer) pathUncached(p Path) *trafficSet { return a.pathFrom(p, anyAS) }

// pathFrom is what gets through every hop of p from the sources in
// universe; starting from the universe rather than restricting afterwards
// saves a pass over the path's segments.
func (a *analyzer) pathFrom(p Path, universe addrSet) *trafficSet {
	ts := allTraffic(universe)
	for _, h := range p {
		ts = ts.intersect(a.hop(h))
		if ts.empty() {
			break
		}
	}
	return ts
}

// segment is one protocol and port range of a traffic set with its
// sources and the rules that admitted it.
type segment struct {
	proto   Protocol
	ports   PortRange
	sources addrSet
	ipset   *netipx.IPSet
	evs     []*Evidence
}

func familyUniverse(v6 bool) addrSet {
	if v6 {
		return public6AS
	}
	return public4AS
}

// segments lists the non-empty segments of t, reporting ICMP only for
// IPv4 sources and ICMPv6 only for IPv6 sources.
func segments(t *trafficSet) []segment {
	var out []segment
	emit := func(p Protocol, m *portMap) {
		for i, s := range m.sets {
			switch p {
			case ProtocolICMP:
				s = intersectSets(s, v4AS)
			case ProtocolICMPv6:
				s = intersectSets(s, v6AS)
			}
			if len(s) > 0 {
				out = append(out, segment{proto: p, ports: PortRange{m.starts[i], m.end(i)}, sources: s})
			}
		}
	}
	for _, p := range t.reportedProtocols() {
		emit(p, t.get(p))
	}
	emit(ProtocolAll, t.rest)
	return out
}

func pathLayers(p Path) []*Layer {
	var out []*Layer
	for _, h := range p {
		for _, l := range h.Layers {
			if l != nil {
				out = append(out, l)
			}
		}
	}
	return out
}

// knownPath returns p without its unknown layers (Layer.Unknown), and
// ok=false when a hop holds unknown layers only: nothing is inferred
// through an unknown layer, so such a path is not analysed. Either way an
// error names the target (and, for a backend path, the forward) and what
// was lost.
func (a *analyzer) knownPath(scope Scope, resource, what string, p Path) (Path, bool) {
	var unknown []string
	whole := false
	for _, h := range p {
		known := 0
		for _, l := range h.Layers {
			if l != nil && l.Unknown != "" {
				unknown = append(unknown, l.Kind+" "+l.ID+": "+l.Unknown)
			} else {
				known++
			}
		}
		if known == 0 && len(h.Layers) > 0 {
			whole = true
		}
	}
	if len(unknown) == 0 {
		return p, true
	}
	if whole {
		a.res.Errors = append(a.res.Errors, Error{Scope: scope, Resource: resource, Stage: "analyze",
			Message: what + " not analysed: it crosses an unknown layer (" + strings.Join(unknown, "; ") + "); nothing is inferred through it"})
		return nil, false
	}
	a.res.Errors = append(a.res.Errors, Error{Scope: scope, Resource: resource, Stage: "analyze",
		Message: what + " may admit more than reported: " + strings.Join(unknown, "; ")})
	out := make(Path, 0, len(p))
	for _, h := range p {
		var hop Hop
		for _, l := range h.Layers {
			if l == nil || l.Unknown == "" {
				hop.Layers = append(hop.Layers, l)
			}
		}
		out = append(out, hop)
	}
	return out, true
}

func samePath(a, b Path) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }
