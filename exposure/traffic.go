package exposure

import (
	"sort"

	"go4.org/netipx"
)

// This file holds the internal representation of "what traffic a layer,
// hop or path admits": per protocol, the port axis cut into segments at
// every rule boundary, each segment carrying the set of source addresses
// admitted on it. Protocols not named explicitly share one "rest" map, so
// a rule for every protocol is exact without enumerating 256 protocols.

var emptySet = &netipx.IPSet{}

func isEmpty(s *netipx.IPSet) bool { return s == nil || s.Equal(emptySet) }

func union(a, b *netipx.IPSet) *netipx.IPSet {
	switch {
	case isEmpty(a):
		return b
	case isEmpty(b) || a == b:
		return a
	}
	var sb netipx.IPSetBuilder
	sb.AddSet(a)
	sb.AddSet(b)
	s, _ := sb.IPSet()
	return s
}

func intersect(a, b *netipx.IPSet) *netipx.IPSet {
	switch {
	case isEmpty(a) || isEmpty(b):
		return emptySet
	case a == b:
		return a
	}
	var sb netipx.IPSetBuilder
	sb.AddSet(a)
	sb.Intersect(b)
	s, _ := sb.IPSet()
	return s
}

func subtract(a, b *netipx.IPSet) *netipx.IPSet {
	switch {
	case isEmpty(a) || a == b:
		return emptySet
	case isEmpty(b):
		return a
	}
	var sb netipx.IPSetBuilder
	sb.AddSet(a)
	sb.RemoveSet(b)
	s, _ := sb.IPSet()
	return s
}

func setsEqual(a, b *netipx.IPSet) bool {
	if a == b {
		return true
	}
	if isEmpty(a) || isEmpty(b) {
		return isEmpty(a) && isEmpty(b)
	}
	return a.Equal(b)
}

// portMap cuts the port axis 0-65535 into segments: segment i covers
// starts[i] up to starts[i+1]-1 (the last one up to 65535) and admits
// sets[i]. starts[0] is always 0; adjacent segments have different sets.
type portMap struct {
	starts []uint16
	sets   []*netipx.IPSet
}

func uniformMap(s *netipx.IPSet) *portMap {
	if s == nil {
		s = emptySet
	}
	return &portMap{starts: []uint16{0}, sets: []*netipx.IPSet{s}}
}

func (m *portMap) end(i int) uint16 {
	if i+1 < len(m.starts) {
		return m.starts[i+1] - 1
	}
	return 65535
}

func (m *portMap) empty() bool {
	for _, s := range m.sets {
		if !isEmpty(s) {
			return false
		}
	}
	return true
}

// at returns the set admitted on port p.
func (m *portMap) at(p uint16) *netipx.IPSet {
	i := sort.Search(len(m.starts), func(i int) bool { return m.starts[i] > p }) - 1
	return m.sets[i]
}

// combineMaps applies f segment by segment to two maps.
func combineMaps(x, y *portMap, f func(a, b *netipx.IPSet) *netipx.IPSet) *portMap {
	out := &portMap{
		starts: make([]uint16, 0, len(x.starts)+len(y.starts)),
		sets:   make([]*netipx.IPSet, 0, len(x.starts)+len(y.starts)),
	}
	i, j := 0, 0
	start := uint32(0)
	for start <= 65535 {
		s := f(x.sets[i], y.sets[j])
		out.push(uint16(start), s)
		ei, ej := x.end(i), y.end(j)
		e := min(ei, ej)
		if ei == e {
			i++
		}
		if ej == e {
			j++
		}
		start = uint32(e) + 1
	}
	return out
}

// push appends a segment, merging it into the last one when the sets are
// equal.
func (m *portMap) push(start uint16, s *netipx.IPSet) {
	if s == nil {
		s = emptySet
	}
	if n := len(m.sets); n > 0 && setsEqual(m.sets[n-1], s) {
		return
	}
	m.starts = append(m.starts, start)
	m.sets = append(m.sets, s)
}

// rangeMap admits s on the given ranges (empty = every port) and nothing
// elsewhere.
func rangeMap(ranges []PortRange, s *netipx.IPSet) *portMap {
	if len(ranges) == 0 {
		return uniformMap(s)
	}
	rs := append([]PortRange(nil), ranges...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].From < rs[j].From })
	m := &portMap{}
	next := uint32(0) // first port not yet described
	for _, r := range rs {
		if uint32(r.To) < next {
			continue // inside what is already covered
		}
		from := max(uint32(r.From), next)
		if from > next {
			m.push(uint16(next), emptySet)
		}
		m.push(uint16(from), s)
		next = uint32(r.To) + 1
	}
	if next <= 65535 {
		m.push(uint16(next), emptySet)
	}
	return m
}

// trafficSet is what a layer, hop or path admits.
type trafficSet struct {
	protos map[Protocol]*portMap
	rest   *portMap // every protocol not in protos
}

func emptyTraffic() *trafficSet { return &trafficSet{rest: uniformMap(emptySet)} }

func allTraffic(s *netipx.IPSet) *trafficSet { return &trafficSet{rest: uniformMap(s)} }

func (t *trafficSet) get(p Protocol) *portMap {
	if m, ok := t.protos[p]; ok {
		return m
	}
	return t.rest
}

// ruleTraffic is what one rule matches.
func ruleTraffic(r *Rule) *trafficSet {
	src := r.Sources
	if src == nil {
		src = emptySet
	}
	if r.Protocol == ProtocolAll {
		// Every protocol, every port: the rule's port list, if any, is
		// meaningless without a protocol, as AWS and Azure document.
		return allTraffic(src)
	}
	ports := r.Ports
	if !r.Protocol.HasPorts() && !r.Protocol.IsICMP() {
		ports = nil
	}
	return &trafficSet{
		protos: map[Protocol]*portMap{r.Protocol: rangeMap(ports, src)},
		rest:   uniformMap(emptySet),
	}
}

// combine applies f protocol by protocol.
func combine(x, y *trafficSet, f func(a, b *netipx.IPSet) *netipx.IPSet) *trafficSet {
	out := &trafficSet{rest: combineMaps(x.rest, y.rest, f)}
	keys := map[Protocol]bool{}
	for p := range x.protos {
		keys[p] = true
	}
	for p := range y.protos {
		keys[p] = true
	}
	if len(keys) > 0 {
		out.protos = make(map[Protocol]*portMap, len(keys))
	}
	for p := range keys {
		out.protos[p] = combineMaps(x.get(p), y.get(p), f)
	}
	return out
}

func (t *trafficSet) union(o *trafficSet) *trafficSet     { return combine(t, o, union) }
func (t *trafficSet) intersect(o *trafficSet) *trafficSet { return combine(t, o, intersect) }
func (t *trafficSet) subtract(o *trafficSet) *trafficSet  { return combine(t, o, subtract) }

// restrictSources intersects every segment with s.
func (t *trafficSet) restrictSources(s *netipx.IPSet) *trafficSet {
	return t.intersect(allTraffic(s))
}

func (t *trafficSet) empty() bool {
	if !t.rest.empty() {
		return false
	}
	for _, m := range t.protos {
		if !m.empty() {
			return false
		}
	}
	return true
}

// reportedProtocols lists the protocols to report separately, in order:
// TCP, UDP, ICMP and ICMPv6 always (so a rule for every protocol shows up
// as each of them), then any other protocol named explicitly.
func (t *trafficSet) reportedProtocols() []Protocol {
	ps := []Protocol{ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolICMPv6}
	var extra []Protocol
	for p := range t.protos {
		if p != ProtocolTCP && p != ProtocolUDP && p != ProtocolICMP && p != ProtocolICMPv6 {
			extra = append(extra, p)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	return append(ps, extra...)
}
