package fix

import (
	"slices"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Set arithmetic over netipx sets and over boxes (a port range × a source
// set), the shape of an exposure.

func intersect(a, b *netipx.IPSet) *netipx.IPSet { return exposure.Intersect(a, b) }

func subtract(a, b *netipx.IPSet) *netipx.IPSet {
	var sb netipx.IPSetBuilder
	if a != nil {
		sb.AddSet(a)
	}
	if b != nil {
		sb.RemoveSet(b)
	}
	s, _ := sb.IPSet()
	return s
}

func union(sets ...*netipx.IPSet) *netipx.IPSet {
	var sb netipx.IPSetBuilder
	for _, s := range sets {
		if s != nil {
			sb.AddSet(s)
		}
	}
	s, _ := sb.IPSet()
	return s
}

func empty(s *netipx.IPSet) bool { return s == nil || len(s.Ranges()) == 0 }

func overlaps(a, b *netipx.IPSet) bool { return a != nil && b != nil && a.Overlaps(b) }

// box is a port range and the sources that reach it.
type box struct {
	ports exposure.PortRange
	src   *netipx.IPSet
}

func boxOf(e *exposure.Exposure) box { return box{e.Ports, e.Sources} }

func boxesOf(es []*exposure.Exposure) []box {
	out := make([]box, len(es))
	for i, e := range es {
		out[i] = boxOf(e)
	}
	return out
}

// profile cuts the port axis where any box of the lists starts or ends
// and returns the cuts and, per list, the union of sources on each piece.
func profile(lists ...[]box) ([]uint32, [][]*netipx.IPSet) {
	var cuts []uint32
	for _, l := range lists {
		for _, b := range l {
			cuts = append(cuts, uint32(b.ports.From), uint32(b.ports.To)+1)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	out := make([][]*netipx.IPSet, len(lists))
	for li, l := range lists {
		out[li] = make([]*netipx.IPSet, max(len(cuts)-1, 0))
		for i := 0; i+1 < len(cuts); i++ {
			piece := exposure.PortRange{From: uint16(cuts[i]), To: uint16(cuts[i+1] - 1)} //nolint:gosec // G115: every cut is a uint16 port or one past it (at most 65536), so cuts[i] and cuts[i+1]-1 fit in uint16
			var sets []*netipx.IPSet
			for _, b := range l {
				if b.ports.Overlaps(piece) {
					sets = append(sets, b.src)
				}
			}
			out[li][i] = union(sets...)
		}
	}
	return cuts, out
}

// within is what of the boxes lies inside b.
func within(bs []box, b box) []box {
	var out []box
	for _, x := range bs {
		if !x.ports.Overlaps(b.ports) {
			continue
		}
		s := intersect(x.src, b.src)
		if empty(s) {
			continue
		}
		out = append(out, box{exposure.PortRange{From: max(x.ports.From, b.ports.From), To: min(x.ports.To, b.ports.To)}, s})
	}
	return out
}

// covered reports whether every (port, source) of a is in b.
func covered(a, b []box) bool {
	_, p := profile(a, b)
	for i := range p[0] {
		if !empty(subtract(p[0][i], p[1][i])) {
			return false
		}
	}
	return true
}

func sameBoxes(a, b []box) bool { return covered(a, b) && covered(b, a) }
