package state

import (
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Segment is one port range and the sources admitted on every port of it.
// An entry's segments together are the exact set of (port, source) pairs
// the exposure admits.
type Segment struct {
	Ports exposure.PortRange `json:"ports"`
	// Sources are the admitted public source prefixes, written as the
	// report writes them (exposure.DisplaySources): 0.0.0.0/0 and ::/0
	// stand for the whole public internet of the family, not for private
	// and special-purpose ranges, which no internet client comes from.
	Sources []netip.Prefix `json:"sources"`
}

// span is a segment with its sources as a set, on an int axis so that
// To+1 never overflows.
type span struct {
	from, to int
	set      *netipx.IPSet
}

// sets interns source sets by their prefixes: an estate has few distinct
// source lists (0.0.0.0/0, an office range) shared by many exposures, and
// building an IPSet is most of what a diff costs. One per Diff call.
//
// All set arithmetic happens within the public internet
// (exposure.PublicInternet), where the report's sources live: the report
// writes 0.0.0.0/0 for "every public IPv4 address", so a source list that
// spells out the public internet less one range and a later 0.0.0.0/0
// differ by that range only, not by the private ranges as well.
type sets struct {
	byKey   map[string]*netipx.IPSet
	key     []byte
	public  *netipx.IPSet
	public4 *netipx.IPSet
	public6 *netipx.IPSet
	display map[*netipx.IPSet][]netip.Prefix
}

func newSets() *sets {
	pub := exposure.PublicInternet()
	fam := func(p string) *netipx.IPSet {
		var b netipx.IPSetBuilder
		b.AddPrefix(netip.MustParsePrefix(p))
		all, _ := b.IPSet()
		return exposure.Intersect(pub, all)
	}
	return &sets{byKey: map[string]*netipx.IPSet{}, public: pub, public4: fam("0.0.0.0/0"), public6: fam("::/0"),
		display: map[*netipx.IPSet][]netip.Prefix{}}
}

func (c *sets) of(prefixes []netip.Prefix) *netipx.IPSet {
	c.key = c.key[:0]
	for _, p := range prefixes {
		a := p.Addr().As16()
		c.key = append(c.key, a[:]...)
		c.key = append(c.key, byte(p.Bits()), byte(p.Addr().BitLen())) //nolint:gosec // G115: a prefix's bits and an address's bit length are at most 128
	}
	if set, ok := c.byKey[string(c.key)]; ok {
		return set
	}
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		switch {
		case p.Bits() == 0 && p.Addr().Is4():
			b.AddSet(c.public4)
		case p.Bits() == 0:
			b.AddSet(c.public6)
		default:
			b.AddPrefix(p) // an invalid prefix is dropped (Decode refuses them)
		}
	}
	set, _ := b.IPSet()
	set = exposure.Intersect(set, c.public)
	c.byKey[string(c.key)] = set
	return set
}

// prefixes writes a set as the report does: 0.0.0.0/0 or ::/0 for a
// family's whole public internet, its public prefixes otherwise.
func (c *sets) prefixes(set *netipx.IPSet) []netip.Prefix {
	if p, ok := c.display[set]; ok {
		return p
	}
	var out []netip.Prefix
	for _, s := range exposure.DisplaySources(set) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue // DisplaySources writes prefixes only
		}
		out = append(out, p)
	}
	c.display[set] = out
	return out
}

func (c *sets) spans(segs []Segment) []span {
	out := make([]span, 0, len(segs))
	for _, s := range segs {
		out = append(out, span{int(s.Ports.From), int(s.Ports.To), c.of(s.Sources)})
	}
	return out
}

// boundaries are the points where some span starts or stops, sorted.
func boundaries(groups ...[]span) []int {
	var bs []int
	for _, g := range groups {
		for _, s := range g {
			bs = append(bs, s.from, s.to+1)
		}
	}
	slices.Sort(bs)
	return slices.Compact(bs)
}

// union is the set of sources every span covering [from, to] admits.
// Spans are assumed either to cover the elementary interval whole or not
// at all (the interval is cut at every boundary).
func union(spans []span, from int) *netipx.IPSet {
	var b netipx.IPSetBuilder
	n := 0
	var only *netipx.IPSet
	for _, s := range spans {
		if s.from <= from && from <= s.to && s.set != nil {
			b.AddSet(s.set)
			only = s.set
			n++
		}
	}
	if n == 1 {
		return only
	}
	set, _ := b.IPSet()
	return set
}

// anySet is a non-empty set for port-only arithmetic (difference over
// port ranges); IPSets are immutable, so sharing it is safe.
var anySet = func() *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.Add(netip.IPv4Unspecified())
	s, _ := b.IPSet()
	return s
}()

func empty(s *netipx.IPSet) bool { return s == nil || len(s.Ranges()) == 0 }

// canonical cuts the port axis at every boundary of the spans, unions the
// sources of each piece and merges neighbours with equal sources: two
// descriptions of the same (port, source) pairs give the same segments.
func (c *sets) canonical(spans []span) []Segment {
	var out []Segment
	var last *netipx.IPSet
	bs := boundaries(spans)
	for i := 0; i+1 < len(bs); i++ {
		// Spans come from uint16 port ranges: every boundary is in
		// [0, 65536], so from and to (one below the next) fit in a uint16.
		from, to := bs[i], bs[i+1]-1
		set := union(spans, from)
		if empty(set) {
			last = nil
			continue
		}
		if n := len(out); n > 0 && last != nil && int(out[n-1].Ports.To)+1 == from && last.Equal(set) {
			out[n-1].Ports.To = uint16(to) //nolint:gosec // G115: bounded, see above
			continue
		}
		out = append(out, Segment{Ports: exposure.PortRange{From: uint16(from), To: uint16(to)}, Sources: c.prefixes(set)}) //nolint:gosec // G115: bounded, see above
		last = set
	}
	return out
}

// difference returns the (port, source) pairs of a that b lacks.
func difference(a, b []span) []span {
	var out []span
	bs := boundaries(a, b)
	for i := 0; i+1 < len(bs); i++ {
		from, to := bs[i], bs[i+1]-1
		sa := union(a, from)
		if empty(sa) {
			continue
		}
		sb := union(b, from)
		if empty(sb) {
			out = append(out, span{from, to, sa})
			continue
		}
		var d netipx.IPSetBuilder
		d.AddSet(sa)
		d.RemoveSet(sb)
		set, _ := d.IPSet()
		if !empty(set) {
			out = append(out, span{from, to, set})
		}
	}
	return out
}

// PortsOf is the merged port set of segments (sorted, disjoint): for a
// widened change, PortsOf(c.Added) are the ports with something newly
// admitted (the same ports as before when only sources widened).
func PortsOf(segs []Segment) []exposure.PortRange { return portSet(segs) }

// portSet is the merged port set of canonical segments.
func portSet(segs []Segment) []exposure.PortRange {
	var out []exposure.PortRange
	for _, s := range segs {
		if n := len(out); n > 0 && int(out[n-1].To)+1 >= int(s.Ports.From) {
			if s.Ports.To > out[n-1].To {
				out[n-1].To = s.Ports.To
			}
			continue
		}
		out = append(out, s.Ports)
	}
	if out == nil {
		out = []exposure.PortRange{}
	}
	return out
}

func equalSegments(a, b []Segment) bool {
	return slices.EqualFunc(a, b, func(x, y Segment) bool {
		return x.Ports == y.Ports && slices.Equal(x.Sources, y.Sources)
	})
}
