package exposure

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

var (
	anyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	anyIPv6 = netip.MustParsePrefix("::/0")
	// globalUnicast is the only IPv6 block IANA allocates for global
	// unicast; the rest of ::/0 is reserved or special-purpose.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// AnySource returns the set of every address, IPv4 and IPv6.
func AnySource() *netipx.IPSet { return Sources(anyIPv4, anyIPv6) }

// Sources returns the set of the given prefixes.
func Sources(prefixes ...netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		b.AddPrefix(p.Masked())
	}
	s, _ := b.IPSet()
	return s
}

// ParseSources parses CIDRs or bare addresses ("203.0.113.0/24",
// "2001:db8::1"). Host bits are cleared ("10.0.0.5/8" is 10.0.0.0/8), as the
// clouds do.
func ParseSources(cidrs ...string) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	for _, c := range cidrs {
		p, err := ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		b.AddPrefix(p)
	}
	return b.IPSet()
}

// ParsePrefix parses a CIDR or a bare address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// nonPublic lists the blocks of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890 and its updates) that are not globally
// reachable, and the reserved and non-unicast space of both families: no
// packet from the internet comes from them. IPv6 starts from 2000::/3, the
// only block IANA allocates as global unicast (every other /3, c000::/3
// included, is reserved), so only blocks inside it are listed.
// https://www.iana.org/assignments/iana-ipv4-special-registry/
// https://www.iana.org/assignments/iana-ipv6-special-registry/
// https://www.iana.org/assignments/ipv6-address-space/
//
// Special-purpose blocks are taken out whole, even where the registry marks
// a few of their addresses globally reachable (the PCP and TURN anycast
// addresses in 192.0.0.0/24 and 2001::/23): those are services, not
// clients. The deprecated 6to4 prefixes (192.88.99.0/24, 2002::/16, RFC
// 7526) are out as well: their reachability is "N/A" in the registries.
//
// The documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
// and 2001:db8::/32 are deliberately kept public: examples, fixtures and
// the demo use them as stand-ins for real public addresses. 3fff::/20, the
// newer IPv6 documentation block (RFC 9637), serves no fixture and is
// non-internet like every other special-purpose block.
var nonPublic = []string{
	// IPv4
	"0.0.0.0/8",        // "this network" (RFC 791)
	"10.0.0.0/8",       // private (RFC 1918)
	"100.64.0.0/10",    // shared address space, CGNAT (RFC 6598)
	"127.0.0.0/8",      // loopback (RFC 1122)
	"169.254.0.0/16",   // link-local (RFC 3927)
	"172.16.0.0/12",    // private (RFC 1918)
	"192.0.0.0/24",     // IETF protocol assignments (RFC 6890): DS-Lite, NAT64 discovery, PCP/TURN anycast
	"192.88.99.0/24",   // deprecated 6to4 relay anycast (RFC 7526)
	"192.168.0.0/16",   // private (RFC 1918)
	"198.18.0.0/15",    // benchmarking (RFC 2544)
	"168.63.129.16/32", // Azure's platform virtual IP (WireServer, health probes): host-local, never internet traffic
	"224.0.0.0/4",      // multicast (RFC 5771)
	"240.0.0.0/4",      // reserved (RFC 1112), and the limited broadcast 255.255.255.255/32 (RFC 919)
	// IPv6, inside 2000::/3
	"2001::/23", // IETF protocol assignments (RFC 2928): Teredo, benchmarking, ORCHIDv2, AMT, AS112, DETs
	"2002::/16", // 6to4 (RFC 3056, deprecated by RFC 7526)
	"3fff::/20", // documentation (RFC 9637)
	// IPv6 outside 2000::/3, listed for the record (the universe already
	// leaves them out): a prefix moved into 2000::/3 by mistake would
	// show up in TestNonPublicRegistry.
	"::/8",           // unspecified, loopback, IPv4-mapped (RFC 4291)
	"64:ff9b::/96",   // IPv4-IPv6 translation (RFC 6052): the IPv4 client is the source
	"64:ff9b:1::/48", // local-use IPv4-IPv6 translation (RFC 8215)
	"100::/64",       // discard-only (RFC 6666)
	"100:0:0:1::/64", // dummy prefix (RFC 9780)
	"5f00::/16",      // SRv6 SIDs (RFC 9602)
	"fc00::/7",       // unique local (RFC 4193)
	"fe80::/10",      // link-local (RFC 4291)
	"ff00::/8",       // multicast (RFC 4291)
}

// publicInternet is built once; IPSets are immutable, so sharing is safe.
var publicInternet = func() *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(anyIPv4)
	b.AddPrefix(globalUnicast)
	for _, c := range nonPublic {
		b.RemovePrefix(netip.MustParsePrefix(c))
	}
	s, _ := b.IPSet()
	return s
}()

// PublicInternet returns the set of addresses a packet from the internet can
// come from. The returned set is shared and must not be modified (IPSets
// cannot be).
func PublicInternet() *netipx.IPSet { return publicInternet }

// IsPublic reports whether a is a public internet address.
func IsPublic(a netip.Addr) bool { return publicInternet.Contains(a.Unmap()) }

// Breadth classifies a set of sources within one address family.
type Breadth string

const (
	BreadthNone   Breadth = "none"   // no public source
	BreadthAnyone Breadth = "anyone" // every public address of the family
	BreadthBroad  Breadth = "broad"  // more than a /16 (IPv4) or /32 (IPv6) of public space
	BreadthNarrow Breadth = "narrow" // a restricted public range
)

// publicByFamily splits the public internet by address family.
var public4, public6 = func() (*netipx.IPSet, *netipx.IPSet) {
	var v4, v6 netipx.IPSetBuilder
	for _, p := range publicInternet.Prefixes() {
		if p.Addr().Is4() {
			v4.AddPrefix(p)
		} else {
			v6.AddPrefix(p)
		}
	}
	a, _ := v4.IPSet()
	b, _ := v6.IPSet()
	return a, b
}()

// SourceBreadth says how much of the public internet s covers; the widest
// family decides. "Anyone" is every public address of a family (what
// 0.0.0.0/0 or ::/0 gives once private ranges are taken out) but at most a
// /16 of IPv4 or a /32 of IPv6: a NACL that denies a few abusive hosts in
// front of 0.0.0.0/0, or a ::/0 rule less the VPC's own /56, still leaves
// the port open to the internet. "Broad" is more than 65,536 IPv4
// addresses (a /16) or more than a /32 of IPv6.
func SourceBreadth(s *netipx.IPSet) Breadth {
	if s == nil {
		return BreadthNone
	}
	b4, b6 := FamilyBreadth(s)
	return wider(b4, b6)
}

// FamilyBreadth is SourceBreadth of the IPv4 and of the IPv6 part of s.
//
// It works on the sets' sorted ranges (a merge with the public internet's
// ranges and address counts) rather than through IPSetBuilders: reports
// and rules classify every distinct source set of an audit, and an estate
// of 100k interfaces has tens of thousands of them.
func FamilyBreadth(s *netipx.IPSet) (b4, b6 Breadth) {
	if s == nil {
		return BreadthNone, BreadthNone
	}
	pub := intersectRanges(s.Ranges(), publicRanges)
	v4, v6 := splitFamilies(pub)
	return familyBreadth(v4, public4Size, 16), familyBreadth(v6, public6Size, 96)
}

// PublicPrefixes lists the public addresses of s as prefixes, IPv4 and
// IPv6 apart: the prefixes of (s ∩ the public internet), as IPSet.Prefixes
// would list them.
func PublicPrefixes(s *netipx.IPSet) (v4, v6 []netip.Prefix) {
	if s == nil {
		return nil, nil
	}
	r4, r6 := splitFamilies(intersectRanges(s.Ranges(), publicRanges))
	for _, r := range r4 {
		v4 = r.AppendPrefixes(v4)
	}
	for _, r := range r6 {
		v6 = r.AppendPrefixes(v6)
	}
	return v4, v6
}

// familyBreadth classifies the public ranges of one family (the
// thresholds of SourceBreadth: "anyone" is the family's public internet
// less at most 2^slack addresses; "broad" more than a /16 of IPv4 or a /32
// of IPv6).
func familyBreadth(rs []netipx.IPRange, universe u128, slack uint) Breadth {
	if len(rs) == 0 {
		return BreadthNone
	}
	size := rangesSize(rs)
	if universe.sub(size).le(u128{}.bit(slack)) {
		return BreadthAnyone
	}
	if rs[0].From().Is4() {
		if size.gt(u128{lo: 1 << 16}) {
			return BreadthBroad
		}
		return BreadthNarrow
	}
	// IPv6 counts /64 networks, of the prefixes at most a /64 wide.
	var n6 uint64
	for _, r := range rs {
		for _, p := range r.Prefixes() {
			switch {
			case p.Bits() < 32:
				return BreadthBroad
			case p.Bits() <= 64:
				n6 += uint64(1) << (64 - p.Bits())
			}
		}
	}
	if n6 > 1<<32 {
		return BreadthBroad
	}
	return BreadthNarrow
}

func wider(a, b Breadth) Breadth {
	rank := map[Breadth]int{BreadthAnyone: 3, BreadthBroad: 2, BreadthNarrow: 1}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// publicRanges, public4Size and public6Size are the public internet's
// ranges and each family's address count.
var (
	publicRanges             = publicInternet.Ranges()
	public4Size, public6Size = func() (u128, u128) {
		v4, v6 := splitFamilies(publicRanges)
		return rangesSize(v4), rangesSize(v6)
	}()
)

// intersectRanges intersects two sorted lists of disjoint, non-adjacent
// ranges (what IPSet.Ranges returns); the result is in the same form.
func intersectRanges(a, b []netipx.IPRange) []netipx.IPRange {
	var out []netipx.IPRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := a[i].From(), a[i].To()
		if f := b[j].From(); f.Compare(from) > 0 {
			from = f
		}
		if t := b[j].To(); t.Compare(to) < 0 {
			to = t
		}
		if from.Compare(to) <= 0 {
			out = append(out, netipx.IPRangeFrom(from, to))
		}
		if a[i].To().Compare(b[j].To()) < 0 {
			i++
		} else {
			j++
		}
	}
	return out
}

// splitFamilies splits sorted ranges into their IPv4 and IPv6 parts (IPv4
// addresses sort first, and no range spans both families).
func splitFamilies(rs []netipx.IPRange) (v4, v6 []netipx.IPRange) {
	k := 0
	for k < len(rs) && rs[k].From().Is4() {
		k++
	}
	return rs[:k], rs[k:]
}

// Address counts are u128s (addrset.go): IPv6 ranges hold up to 2^128
// addresses.

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func (a u128) le(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo) }
func (a u128) gt(b u128) bool { return !a.le(b) }

// bit returns 2^n.
func (u128) bit(n uint) u128 {
	if n >= 64 {
		return u128{hi: 1 << (n - 64)}
	}
	return u128{lo: 1 << n}
}

// rangesSize counts the addresses of ranges of one family (at most
// 2^128 - 1 of them: the ranges here are within 2000::/3 or IPv4).
func rangesSize(rs []netipx.IPRange) u128 {
	var n u128
	for _, r := range rs {
		n = n.add(toU128(r.To()).sub(toU128(r.From())).add(u128{lo: 1}))
	}
	return n
}

// Intersect returns a ∩ b.
func Intersect(a, b *netipx.IPSet) *netipx.IPSet {
	if a == nil || b == nil {
		return &netipx.IPSet{}
	}
	var sb netipx.IPSetBuilder
	sb.AddSet(a)
	sb.Intersect(b)
	out, _ := sb.IPSet()
	return out
}

func containsSet(outer, inner *netipx.IPSet) bool {
	rs := inner.Ranges()
	for _, r := range rs {
		if !outer.ContainsRange(r) {
			return false
		}
	}
	return len(rs) > 0
}

// DisplaySources lists a source set as CIDRs for people and reports: a
// family whose every public address is in s is written 0.0.0.0/0 or ::/0
// (what the rule said, rather than the hundred-odd prefixes of the public
// internet once private and special-purpose ranges are taken out); other
// sources are listed by their public prefixes.
func DisplaySources(s *netipx.IPSet) []string {
	out := []string{}
	if s == nil {
		return out
	}
	pub := intersectRanges(s.Ranges(), publicRanges)
	v4, v6 := splitFamilies(pub)
	for _, fam := range []struct {
		rs   []netipx.IPRange
		all  u128
		name string
	}{{v4, public4Size, "0.0.0.0/0"}, {v6, public6Size, "::/0"}} {
		// The part is within the family's public internet: it is all of
		// it when it holds as many addresses.
		if len(fam.rs) > 0 && rangesSize(fam.rs) == fam.all {
			out = append(out, fam.name)
			continue
		}
		for _, r := range fam.rs {
			for _, p := range r.Prefixes() {
				out = append(out, p.String())
			}
		}
	}
	return out
}
