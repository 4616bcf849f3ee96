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
	// Sources are the admitted source prefixes, as the report's sources
	// (0.0.0.0/0 and ::/0 for "the whole public internet of the family").
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
type sets struct {
	byKey map[string]*netipx.IPSet
	key   []byte
}

func newSets() *sets { return &sets{byKey: map[string]*netipx.IPSet{}} }

func (c *sets) of(prefixes []netip.Prefix) *netipx.IPSet {
	c.key = c.key[:0]
	for _, p := range prefixes {
		a := p.Addr().As16()
		c.key = append(c.key, a[:]...)
		c.key = append(c.key, byte(p.Bits()), byte(p.Addr().BitLen()))
	}
	if set, ok := c.byKey[string(c.key)]; ok {
		return set
	}
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		b.AddPrefix(p)
	}
	set, _ := b.IPSet() // AddPrefix of a valid prefix cannot fail; invalid ones are dropped
	c.byKey[string(c.key)] = set
	return set
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

func empty(s *netipx.IPSet) bool { return s == nil || len(s.Ranges()) == 0 }

// canonical cuts the port axis at every boundary of the spans, unions the
// sources of each piece and merges neighbours with equal sources: two
// descriptions of the same (port, source) pairs give the same segments.
func canonical(spans []span) []Segment {
	var out []Segment
	var last *netipx.IPSet
	bs := boundaries(spans)
	for i := 0; i+1 < len(bs); i++ {
		from, to := bs[i], bs[i+1]-1
		set := union(spans, from)
		if empty(set) {
			last = nil
			continue
		}
		if n := len(out); n > 0 && last != nil && int(out[n-1].Ports.To)+1 == from && last.Equal(set) {
			out[n-1].Ports.To = uint16(to)
			continue
		}
		out = append(out, Segment{Ports: exposure.PortRange{From: uint16(from), To: uint16(to)}, Sources: set.Prefixes()})
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
