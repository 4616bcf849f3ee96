package exposure

import (
	"encoding/binary"
	"net/netip"
	"sort"

	"go4.org/netipx"
)

// addrSet is the analysis's internal set of addresses: sorted, disjoint,
// non-adjacent spans over one 128-bit space in which IPv4 addresses live
// at ::ffff:a.b.c.d (IPv4-mapped IPv6 addresses never cross the internet,
// so nothing else lands there). Set operations are linear merges without
// the sorting and allocation a netipx.IPSetBuilder does per operation,
// which matters when a 100k-interface estate needs millions of them. The
// API speaks *netipx.IPSet; conversion happens at the boundary.
type addrSet []span

type u128 struct{ hi, lo uint64 }

type span struct{ from, to u128 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

func (a u128) prev() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

var maxU128 = u128{^uint64(0), ^uint64(0)}

func toU128(a netip.Addr) u128 {
	b := a.As16() // IPv4 comes out IPv4-mapped
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func fromU128(u u128) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b).Unmap()
}

var (
	v4First = toU128(netip.MustParseAddr("0.0.0.0"))
	v4Last  = toU128(netip.MustParseAddr("255.255.255.255"))
)

// toAddrSet converts an IPSet.
func toAddrSet(s *netipx.IPSet) addrSet {
	if s == nil {
		return nil
	}
	rs := s.Ranges()
	spans := make([]span, 0, len(rs)+1)
	for _, r := range rs {
		sp := span{toU128(r.From()), toU128(r.To())}
		if r.From().Is4() {
			spans = append(spans, sp)
			continue
		}
		// An IPv6 range never holds IPv4 addresses: cut the IPv4-mapped
		// block ::ffff:0:0/96, where IPv4 lives here, out of it.
		if sp.from.less(v4First) {
			to := sp.to
			if !to.less(v4First) {
				to = v4First.prev()
			}
			spans = append(spans, span{sp.from, to})
		}
		if v4Last.less(sp.to) {
			from := sp.from
			if !v4Last.less(from) {
				from = v4Last.next()
			}
			spans = append(spans, span{from, sp.to})
		}
	}
	// netipx orders IPv4 before IPv6; here IPv4 sits inside the IPv6
	// space, so the spans are sorted again before merging.
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.less(spans[j].from) })
	out := make(addrSet, 0, len(spans))
	for _, sp := range spans {
		out = appendSpan(out, sp)
	}
	return out
}

// ipSet converts back, splitting spans at the IPv4-mapped boundaries.
func (s addrSet) ipSet() *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, sp := range s {
		parts := []span{sp}
		if sp.from.less(v4First) && !sp.to.less(v4First) {
			parts = []span{{sp.from, v4First.prev()}, {v4First, sp.to}}
		}
		for _, p := range parts {
			if !p.from.less(v4First) && !v4Last.less(p.from) && v4Last.less(p.to) {
				b.AddRange(netipx.IPRangeFrom(fromU128(p.from), fromU128(v4Last)))
				b.AddRange(netipx.IPRangeFrom(fromU128(v4Last.next()), fromU128(p.to)))
				continue
			}
			b.AddRange(netipx.IPRangeFrom(fromU128(p.from), fromU128(p.to)))
		}
	}
	out, _ := b.IPSet()
	return out
}

// appendSpan appends a span that starts at or after the last one's start,
// merging overlapping and adjacent spans.
func appendSpan(s addrSet, sp span) addrSet {
	if n := len(s); n > 0 {
		last := &s[n-1]
		if last.to == maxU128 || !last.to.next().less(sp.from) {
			if last.to.less(sp.to) {
				last.to = sp.to
			}
			return s
		}
	}
	return append(s, sp)
}

func sameSet(a, b addrSet) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// subsetOf reports whether a ⊆ b, without allocating.
func subsetOf(a, b addrSet) bool {
	j := 0
	for _, sp := range a {
		for j < len(b) && b[j].to.less(sp.from) {
			j++
		}
		if j == len(b) || sp.from.less(b[j].from) || b[j].to.less(sp.to) {
			return false
		}
	}
	return true
}

// The set operations return one of their inputs, unallocated, whenever
// the result equals it: later identity checks and caches then hit, and the
// common cases (a rule from anyone, a path already inside the universe)
// cost no allocation.

func unionSets(a, b addrSet) addrSet {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0 || sameSet(a, b) || subsetOf(b, a):
		return a
	case subsetOf(a, b):
		return b
	}
	out := make(addrSet, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && a[i].from.less(b[j].from)) {
			out = appendSpan(out, a[i])
			i++
		} else {
			out = appendSpan(out, b[j])
			j++
		}
	}
	return out
}

func intersectSets(a, b addrSet) addrSet {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	if sameSet(a, b) || subsetOf(a, b) {
		return a
	}
	if subsetOf(b, a) {
		return b
	}
	if !overlapsSets(a, b) {
		return nil
	}
	var out addrSet
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := a[i].from, a[i].to
		if from.less(b[j].from) {
			from = b[j].from
		}
		if b[j].to.less(to) {
			to = b[j].to
		}
		if !to.less(from) {
			out = append(out, span{from, to})
		}
		if a[i].to.less(b[j].to) {
			i++
		} else {
			j++
		}
	}
	// Keep sharing where the result is one of the inputs, so that later
	// identity checks and conversion caches hit.
	if len(out) == len(a) && sameSpans(out, a) {
		return a
	}
	if len(out) == len(b) && sameSpans(out, b) {
		return b
	}
	return out
}

func sameSpans(a, b addrSet) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func subtractSets(a, b addrSet) addrSet {
	if len(a) == 0 || sameSet(a, b) {
		return nil
	}
	if len(b) == 0 || !overlapsSets(a, b) {
		return a
	}
	if subsetOf(a, b) {
		return nil
	}
	var out addrSet
	j := 0
	for _, sp := range a {
		cur := sp
		done := false
		for j < len(b) && b[j].to.less(cur.from) {
			j++
		}
		for k := j; k < len(b) && !cur.to.less(b[k].from); k++ {
			if cur.from.less(b[k].from) {
				out = append(out, span{cur.from, b[k].from.prev()})
			}
			if !b[k].to.less(cur.to) {
				done = true
				break
			}
			cur.from = b[k].to.next()
		}
		if !done {
			out = append(out, cur)
		}
	}
	if len(out) == len(a) && sameSpans(out, a) {
		return a
	}
	return out
}

func overlapsSets(a, b addrSet) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].to.less(b[j].from) {
			i++
		} else if b[j].to.less(a[i].from) {
			j++
		} else {
			return true
		}
	}
	return false
}
