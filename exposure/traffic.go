package exposure

import (
	"slices"
	"sort"
)

// This file holds the internal representation of "what traffic a layer,
// hop or path admits": per protocol, the port axis cut into segments at
// every rule boundary, each segment carrying the set of source addresses
// admitted on it. Protocols not named explicitly share one "rest" map, so
// a rule for every protocol is exact without enumerating 256 protocols.

// portMap cuts the port axis 0-65535 into segments: segment i covers
// starts[i] up to starts[i+1]-1 (the last one up to 65535) and admits
// sets[i]. starts[0] is always 0; adjacent segments have different sets.
type portMap struct {
	starts []uint16
	sets   []addrSet
}

func uniformMap(s addrSet) *portMap {
	return &portMap{starts: []uint16{0}, sets: []addrSet{s}}
}

var emptyMap = uniformMap(nil)

func (m *portMap) end(i int) uint16 {
	if i+1 < len(m.starts) {
		return m.starts[i+1] - 1
	}
	return 65535
}

func (m *portMap) empty() bool {
	for _, s := range m.sets {
		if len(s) > 0 {
			return false
		}
	}
	return true
}

// at returns the set admitted on port p.
func (m *portMap) at(p uint16) addrSet {
	i := sort.Search(len(m.starts), func(i int) bool { return m.starts[i] > p }) - 1
	return m.sets[i]
}

// push appends a segment, merging it into the last one when the sets are
// equal.
func (m *portMap) push(start uint16, s addrSet) {
	if n := len(m.sets); n > 0 && sameSet(m.sets[n-1], s) {
		return
	}
	m.starts = append(m.starts, start)
	m.sets = append(m.sets, s)
}

// combineMaps applies f segment by segment to two maps. When every result
// is x's own set, x itself is returned and nothing is allocated.
func combineMaps(x, y *portMap, f func(a, b addrSet) addrSet) *portMap {
	if len(x.starts) == 1 && len(y.starts) == 1 {
		r := f(x.sets[0], y.sets[0])
		if sameSet(r, x.sets[0]) && (len(r) == 0 || &r[0] == &x.sets[0][0]) {
			return x
		}
		return uniformMap(r)
	}
	if unchanged(x, y, f) {
		return x
	}
	out := &portMap{
		starts: make([]uint16, 0, len(x.starts)+len(y.starts)),
		sets:   make([]addrSet, 0, len(x.starts)+len(y.starts)),
	}
	i, j := 0, 0
	start := uint32(0)
	for start <= 65535 {
		out.push(uint16(start), f(x.sets[i], y.sets[j]))
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

// unchanged reports whether f(x, y) is x, segment by segment, by identity.
func unchanged(x, y *portMap, f func(a, b addrSet) addrSet) bool {
	i, j := 0, 0
	start := uint32(0)
	for start <= 65535 {
		r := f(x.sets[i], y.sets[j])
		if len(r) != len(x.sets[i]) || (len(r) > 0 && &r[0] != &x.sets[i][0]) {
			return false
		}
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
	return true
}

// trafficSet is what a layer, hop or path admits.
type trafficSet struct {
	protos map[Protocol]*portMap
	rest   *portMap // every protocol not in protos
}

func emptyTraffic() *trafficSet { return &trafficSet{rest: emptyMap} }

func allTraffic(s addrSet) *trafficSet { return &trafficSet{rest: uniformMap(s)} }

func (t *trafficSet) get(p Protocol) *portMap {
	if m, ok := t.protos[p]; ok {
		return m
	}
	return t.rest
}

// item is one (protocol, ports, sources) triple: a rule, or a piece of
// coverage.
type item struct {
	proto Protocol
	ports []PortRange // nil: every port
	set   addrSet
}

// portsFor is the part of the port axis an item covers for protocol p.
func (it *item) portsFor(p Protocol) []PortRange {
	if it.proto == ProtocolAll || len(it.ports) == 0 || (!p.HasPorts() && !p.IsICMP()) {
		// A rule for every protocol covers every port, as AWS documents
		// ("-1 … traffic on all ports is allowed regardless of any port
		// range you specify"); providers whose clouds differ expand such
		// rules per protocol themselves. Protocols without ports have no
		// port axis.
		return allPortsList
	}
	return it.ports
}

// allPortsList is the port list of an item for every port; read-only.
var allPortsList = []PortRange{AllPorts}

// build returns the union of items, built with one sweep per protocol.
func build(items []item) *trafficSet {
	var sw sweeper
	return sw.build(items)
}

// sweeper holds the scratch space of build, so that an analysis
// building thousands of layers reuses it; only the results are allocated,
// at their exact size. A sweeper is not safe for concurrent use.
type sweeper struct {
	ivs    []interval
	bounds []uint32
	active []interval
	starts []uint16
	sets   []addrSet
	groups []protoItems
}

// protoItems are the items of one explicitly named protocol.
type protoItems struct {
	p     Protocol
	items []item
}

func (sw *sweeper) build(items []item) *trafficSet {
	if len(items) == 1 && len(items[0].set) > 0 {
		// One rule: no sweep needed.
		it := items[0]
		if it.proto == ProtocolAll {
			return &trafficSet{rest: uniformMap(it.set)}
		}
		return &trafficSet{protos: map[Protocol]*portMap{it.proto: sw.sweep(items, it.proto)}, rest: emptyMap}
	}
	var all []item
	groups := sw.groups[:0]
	for _, it := range items {
		if len(it.set) == 0 {
			continue
		}
		if it.proto == ProtocolAll {
			all = append(all, it)
			continue
		}
		k := 0
		for k < len(groups) && groups[k].p != it.proto {
			k++
		}
		if k == len(groups) {
			if k < cap(groups) { // reuse the slot's item slice
				groups = groups[:k+1]
				groups[k].p, groups[k].items = it.proto, groups[k].items[:0]
			} else {
				groups = append(groups, protoItems{p: it.proto})
			}
		}
		groups[k].items = append(groups[k].items, it)
	}
	out := &trafficSet{rest: sw.sweep(all, ProtocolAll)}
	if len(groups) > 0 {
		out.protos = make(map[Protocol]*portMap, len(groups))
	}
	for k := range groups {
		g := &groups[k]
		g.items = append(g.items, all...)
		out.protos[g.p] = sw.sweep(g.items, g.p)
		clear(g.items) // drop the scratch's references to the sets
	}
	sw.groups = groups[:0]
	return out
}

type interval struct {
	from, to uint16
	set      addrSet
}

func (sw *sweeper) sweep(items []item, p Protocol) *portMap {
	if len(items) == 0 {
		return emptyMap
	}
	ivs := sw.ivs[:0]
	for i := range items {
		for _, r := range items[i].portsFor(p) {
			if r.From <= r.To {
				ivs = append(ivs, interval{r.From, r.To, items[i].set})
			}
		}
	}
	sw.ivs = ivs
	if len(ivs) == 1 && ivs[0].from == 0 && ivs[0].to == 65535 {
		return uniformMap(ivs[0].set)
	}
	slices.SortFunc(ivs, func(a, b interval) int { return int(a.from) - int(b.from) })
	bounds := append(sw.bounds[:0], 0)
	for _, iv := range ivs {
		bounds = append(bounds, uint32(iv.from), uint32(iv.to)+1)
	}
	slices.Sort(bounds)
	sw.bounds = bounds
	m := &portMap{starts: sw.starts[:0], sets: sw.sets[:0]}
	active := sw.active[:0]
	next := 0
	for k, b := range bounds {
		if b > 65535 || (k > 0 && b == bounds[k-1]) {
			continue
		}
		for next < len(ivs) && uint32(ivs[next].from) <= b {
			active = append(active, ivs[next])
			next++
		}
		keep := active[:0]
		var s addrSet
		for _, iv := range active {
			if uint32(iv.to) >= b {
				keep = append(keep, iv)
				s = unionSets(s, iv.set)
			}
		}
		active = keep
		m.push(uint16(b), s)
	}
	clear(ivs) // drop the scratch's references to the sets
	clear(active[:cap(active)])
	sw.active = active[:0]
	sw.starts, sw.sets = m.starts[:0], m.sets[:0]
	out := &portMap{starts: slices.Clone(m.starts), sets: slices.Clone(m.sets)}
	clear(m.sets)
	return out
}

// combine applies f protocol by protocol; when nothing changes, x itself
// is returned.
func combine(x, y *trafficSet, f func(a, b addrSet) addrSet) *trafficSet {
	out := &trafficSet{rest: combineMaps(x.rest, y.rest, f)}
	n := len(x.protos) + len(y.protos)
	if n == 0 {
		if out.rest == x.rest {
			return x
		}
		return out
	}
	if out.rest == x.rest && len(y.protos) == 0 {
		same := true
		for _, m := range x.protos {
			if combineMaps(m, y.rest, f) != m {
				same = false
				break
			}
		}
		if same {
			return x
		}
	}
	out.protos = make(map[Protocol]*portMap, n)
	for p := range x.protos {
		out.protos[p] = combineMaps(x.get(p), y.get(p), f)
	}
	for p := range y.protos {
		if _, done := out.protos[p]; !done {
			out.protos[p] = combineMaps(x.get(p), y.get(p), f)
		}
	}
	return out
}

func (t *trafficSet) union(o *trafficSet) *trafficSet     { return combine(t, o, unionSets) }
func (t *trafficSet) intersect(o *trafficSet) *trafficSet { return combine(t, o, intersectSets) }
func (t *trafficSet) subtract(o *trafficSet) *trafficSet  { return combine(t, o, subtractSets) }

// restrictSources intersects every segment with s.
func (t *trafficSet) restrictSources(s addrSet) *trafficSet {
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
