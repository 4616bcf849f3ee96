package state

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestDiffPairsExact checks Added and Removed against brute force: on
// random rows over a small port axis and a few overlapping prefixes, every
// (port, address) sample is in Added exactly when the new run admits it
// and the old one did not, in Removed the other way round, and the kind
// follows.
func TestDiffPairsExact(t *testing.T) {
	prefixes := []string{"203.0.113.0/24", "203.0.113.0/25", "203.0.113.128/26", "198.51.100.0/24", "0.0.0.0/0", "2001:db8::/32", "2001:db8:1::/48"}
	addrs := []string{"203.0.113.1", "203.0.113.129", "203.0.113.200", "198.51.100.9", "192.0.2.1", "2001:db8::1", "2001:db8:1::1", "2001:db9::1"}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := func() []Observed {
		var out []Observed
		for range rng.IntN(4) {
			from := uint16(rng.IntN(12))
			to := from + uint16(rng.IntN(5))
			var src []string
			for range 1 + rng.IntN(2) {
				src = append(src, prefixes[rng.IntN(len(prefixes))])
			}
			out = append(out, observed(scopeA, "i-1", exposure.Effective, pr(from, to), src...))
		}
		return out
	}
	admits := func(obs []Observed, port uint16, a netip.Addr) bool {
		return slices.ContainsFunc(obs, func(o Observed) bool {
			return o.Ports.Contains(port) && slices.ContainsFunc(o.Sources, func(p netip.Prefix) bool { return p.Contains(a) })
		})
	}
	in := func(segs []Segment, port uint16, a netip.Addr) bool {
		return slices.ContainsFunc(segs, func(s Segment) bool {
			return s.Ports.Contains(port) && slices.ContainsFunc(s.Sources, func(p netip.Prefix) bool { return p.Contains(a) })
		})
	}
	for i := range 400 {
		old, cur := rows(), rows()
		if len(old) == 0 {
			continue
		}
		b, _ := Diff(nil, &Run{Scope: scopeA, Exposures: old}, t0)
		next, ch := Diff(b, &Run{Scope: scopeA, Exposures: cur}, t0.Add(time.Hour))
		if len(ch) != 1 {
			t.Fatalf("case %d: %d changes", i, len(ch))
		}
		c := ch[0]
		var grew, shrank bool
		for port := uint16(0); port < 20; port++ {
			for _, s := range addrs {
				a := netip.MustParseAddr(s)
				was, is := admits(old, port, a), admits(cur, port, a)
				grew = grew || (is && !was)
				shrank = shrank || (was && !is)
				if len(cur) > 0 {
					if got := in(c.Added, port, a); got != (is && !was) {
						t.Fatalf("case %d: port %d from %s: in Added %v, want %v\nold %v\ncur %v\nadded %s", i, port, s, got, is && !was, old, cur, segs(c.Added))
					}
					if got := in(c.Removed, port, a); got != (was && !is) {
						t.Fatalf("case %d: port %d from %s: in Removed %v, want %v\nold %v\ncur %v\nremoved %s", i, port, s, got, was && !is, old, cur, segs(c.Removed))
					}
					if got := in(next.Entries[0].Segments, port, a); got != is {
						t.Fatalf("case %d: port %d from %s: in the next segments %v, want %v", i, port, s, got, is)
					}
				}
			}
		}
		want := Unchanged
		switch {
		case len(cur) == 0:
			want = Resolved
		case grew:
			want = Widened
		case shrank:
			want = Narrowed
		}
		// The samples may miss a difference the sets have; only a sampled
		// one must show in the kind.
		if want != Unchanged && c.Kind != want {
			t.Fatalf("case %d: kind %s, want %s", i, c.Kind, want)
		}
	}
}
