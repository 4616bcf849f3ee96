package exposure

import (
	"math/big"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"
)

// The IPSetBuilder implementations SourceBreadth and DisplaySources had
// before they worked on ranges: the reference the range code must agree
// with.

func refNearlyAll(s, universe *netipx.IPSet, slack int) bool {
	part := Intersect(s, universe)
	if len(part.Prefixes()) == 0 {
		return false
	}
	var b netipx.IPSetBuilder
	b.AddSet(universe)
	b.RemoveSet(part)
	rest, _ := b.IPSet()
	budget := new(big.Int).Lsh(big.NewInt(1), uint(slack))
	total := new(big.Int)
	for _, p := range rest.Prefixes() {
		total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits())))
		if total.Cmp(budget) > 0 {
			return false
		}
	}
	return true
}

func refSourceBreadth(s *netipx.IPSet) Breadth {
	if s == nil {
		return BreadthNone
	}
	pub := Intersect(s, publicInternet)
	prefixes := pub.Prefixes()
	if len(prefixes) == 0 {
		return BreadthNone
	}
	if refNearlyAll(pub, public4, 32-16) || refNearlyAll(pub, public6, 128-32) {
		return BreadthAnyone
	}
	var n4, n6 uint64
	for _, p := range prefixes {
		switch {
		case p.Addr().Is4():
			n4 += uint64(1) << (32 - p.Bits())
		case p.Bits() < 32:
			return BreadthBroad
		case p.Bits() <= 64:
			n6 += uint64(1) << (64 - p.Bits())
		}
	}
	if n4 > 1<<16 || n6 > 1<<32 {
		return BreadthBroad
	}
	return BreadthNarrow
}

func refDisplaySources(s *netipx.IPSet) []string {
	out := []string{}
	if s == nil {
		return out
	}
	pub := Intersect(s, publicInternet)
	for _, fam := range []struct {
		all  *netipx.IPSet
		name string
	}{{public4, "0.0.0.0/0"}, {public6, "::/0"}} {
		part := Intersect(pub, fam.all)
		if containsSet(part, fam.all) {
			out = append(out, fam.name)
			continue
		}
		for _, p := range part.Prefixes() {
			out = append(out, p.String())
		}
	}
	return out
}

// refFamilyBreadth is what rules did: split by family, classify each.
func refFamilyBreadth(s *netipx.IPSet) (Breadth, Breadth) {
	var v4, v6 netipx.IPSetBuilder
	for _, p := range s.Prefixes() {
		if p.Addr().Is4() {
			v4.AddPrefix(p)
		} else {
			v6.AddPrefix(p)
		}
	}
	s4, _ := v4.IPSet()
	s6, _ := v6.IPSet()
	return refSourceBreadth(s4), refSourceBreadth(s6)
}

// randomSourceSet mixes what estates have: the whole internet less a few
// ranges, private and documentation ranges, narrow and broad public
// prefixes of both families.
func randomSourceSet(r *rand.Rand) *netipx.IPSet {
	var b netipx.IPSetBuilder
	v4 := func(bits int) netip.Prefix {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		p, _ := a.Prefix(bits)
		return p
	}
	v6 := func(bits int) netip.Prefix {
		var x [16]byte
		for i := range x {
			x[i] = byte(r.IntN(256))
		}
		if r.IntN(3) > 0 {
			x[0], x[1], x[2], x[3] = 0x20, 0x01, 0x0d, 0xb8
		}
		p, _ := netip.AddrFrom16(x).Prefix(bits)
		return p
	}
	for range 1 + r.IntN(5) {
		switch r.IntN(8) {
		case 0:
			b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
		case 1:
			b.AddPrefix(netip.MustParsePrefix("::/0"))
		case 2:
			b.AddPrefix(v4(r.IntN(33)))
		case 3:
			b.AddPrefix(v4(8 + r.IntN(25)))
		case 4:
			b.AddPrefix(v6(r.IntN(129)))
		case 5:
			b.AddPrefix(v6(16 + r.IntN(113)))
		case 6:
			b.AddPrefix(netip.MustParsePrefix("10.0.0.0/8"))
		default:
			b.AddPrefix(netip.MustParsePrefix("198.51.100.0/24"))
		}
	}
	for range r.IntN(4) {
		switch r.IntN(3) {
		case 0:
			b.RemovePrefix(v4(12 + r.IntN(21)))
		case 1:
			b.RemovePrefix(v6(20 + r.IntN(109)))
		default:
			b.RemovePrefix(v4(r.IntN(33)))
		}
	}
	s, _ := b.IPSet()
	return s
}

// TestSourceFactsMatchReference compares the range-based SourceBreadth,
// FamilyBreadth and DisplaySources with the builder-based reference on
// random sets and on the edge cases (nil, empty, the whole internet, the
// internet less a /16 and less a /15).
func TestSourceFactsMatchReference(t *testing.T) {
	sets := []*netipx.IPSet{nil, {}, AnySource(), publicInternet, public4, public6}
	for _, cut := range []string{"0.0.0.0/0 - 203.0.113.0/24", "0.0.0.0/0 - 198.0.0.0/16", "0.0.0.0/0 - 198.0.0.0/15", "::/0 - 2001:db8::/32", "::/0 - 2001:db8::/31"} {
		var b netipx.IPSetBuilder
		all, minus, _ := strings.Cut(cut, " - ")
		b.AddPrefix(netip.MustParsePrefix(all))
		b.RemovePrefix(netip.MustParsePrefix(minus))
		s, _ := b.IPSet()
		sets = append(sets, s)
	}
	r := rand.New(rand.NewPCG(7, 13))
	for range 3000 {
		sets = append(sets, randomSourceSet(r))
	}
	seen := map[Breadth]int{}
	for i, s := range sets {
		got, want := SourceBreadth(s), refSourceBreadth(s)
		if got != want {
			t.Fatalf("set %d %v: SourceBreadth = %s, reference %s", i, s, got, want)
		}
		seen[got]++
		if got, want := DisplaySources(s), refDisplaySources(s); !slices.Equal(got, want) {
			t.Fatalf("set %d %v: DisplaySources = %v, reference %v", i, s, got, want)
		}
		if s == nil {
			continue
		}
		g4, g6 := FamilyBreadth(s)
		w4, w6 := refFamilyBreadth(s)
		if g4 != w4 || g6 != w6 {
			t.Fatalf("set %d %v: FamilyBreadth = %s, %s; reference %s, %s", i, s, g4, g6, w4, w6)
		}
	}
	// The sets must cover every class, or the comparison proves little.
	for _, b := range []Breadth{BreadthNone, BreadthNarrow, BreadthBroad, BreadthAnyone} {
		if seen[b] < 20 {
			t.Errorf("only %d sets of breadth %s: %v", seen[b], b, seen)
		}
	}
}
