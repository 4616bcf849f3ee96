package probe

import (
	"fmt"
	"net/netip"
)

// AddrClass names the kind of address the scope guard sees. Every class but
// ClassPublic is refused; ClassLoopback is allowed only with AllowLoopback.
type AddrClass string

const (
	ClassPublic        AddrClass = "public"
	ClassInvalid       AddrClass = "invalid"
	ClassUnspecified   AddrClass = "unspecified"
	ClassThisNetwork   AddrClass = "this-network"
	ClassPrivate       AddrClass = "private"
	ClassLoopback      AddrClass = "loopback"
	ClassLinkLocal     AddrClass = "link-local"
	ClassCGNAT         AddrClass = "cgnat"
	ClassMulticast     AddrClass = "multicast"
	ClassBroadcast     AddrClass = "broadcast"
	ClassDocumentation AddrClass = "documentation"
	ClassBenchmarking  AddrClass = "benchmarking"
	ClassReserved      AddrClass = "reserved"
	ClassTranslation   AddrClass = "translation" // NAT64, 6to4, Teredo: the real peer is another address
)

// special lists the IANA special-purpose ranges the guard refuses, most
// specific first (the first match decides). Sources: the IANA IPv4 and IPv6
// Special-Purpose Address Registries,
// https://www.iana.org/assignments/iana-ipv4-special-registry and
// https://www.iana.org/assignments/iana-ipv6-special-registry, plus RFC 9637
// for the second IPv6 documentation prefix (3fff::/20).
//
// Documentation ranges are refused although the exposure model treats them
// as public: they stand for public addresses in fixtures and the demo, and
// a probe must never leave the machine for them. The demo maps them onto
// loopback listeners with Config.Redirect instead.
var special = []struct {
	prefix netip.Prefix
	class  AddrClass
}{
	{netip.MustParsePrefix("0.0.0.0/32"), ClassUnspecified},
	{netip.MustParsePrefix("0.0.0.0/8"), ClassThisNetwork},
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassReserved}, // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("192.88.99.0/24"), ClassTranslation}, // deprecated 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassBenchmarking},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ClassBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved},

	{netip.MustParsePrefix("::/128"), ClassUnspecified},
	{netip.MustParsePrefix("::1/128"), ClassLoopback},
	{netip.MustParsePrefix("64:ff9b::/96"), ClassTranslation},   // NAT64 well-known prefix
	{netip.MustParsePrefix("64:ff9b:1::/48"), ClassTranslation}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), ClassReserved},          // discard-only
	{netip.MustParsePrefix("2001::/32"), ClassTranslation},      // Teredo
	{netip.MustParsePrefix("2001:2::/48"), ClassBenchmarking},
	{netip.MustParsePrefix("2001:db8::/32"), ClassDocumentation},
	{netip.MustParsePrefix("2001::/23"), ClassReserved},    // IETF protocol assignments (ORCHID, AMT, …)
	{netip.MustParsePrefix("2002::/16"), ClassTranslation}, // 6to4
	{netip.MustParsePrefix("3fff::/20"), ClassDocumentation},
	{netip.MustParsePrefix("5f00::/16"), ClassReserved}, // SRv6 SIDs
	{netip.MustParsePrefix("fc00::/7"), ClassPrivate},   // unique local
	{netip.MustParsePrefix("fe80::/10"), ClassLinkLocal},
	{netip.MustParsePrefix("ff00::/8"), ClassMulticast},
}

var globalUnicast = netip.MustParsePrefix("2000::/3")

// Classify says which class an address belongs to. IPv4-mapped IPv6
// addresses are classified as the IPv4 address they carry, since that is
// where a connection to them goes. IPv6 outside 2000::/3 (global unicast)
// is reserved.
func Classify(a netip.Addr) AddrClass {
	if !a.IsValid() {
		return ClassInvalid
	}
	a = a.Unmap().WithZone("")
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.class
		}
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return ClassReserved
	}
	return ClassPublic
}

// RefusedError is the scope guard's answer for a target it will not probe.
type RefusedError struct {
	Target netip.Addr // the address from the inventory
	Dial   netip.Addr // the address that would have been dialled
	Class  AddrClass  // the class of Dial; ClassPublic when the reason is scope
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Dial != e.Target {
		return fmt.Sprintf("scope guard refused %s (dial %s): %s", e.Target, e.Dial, e.Reason)
	}
	return fmt.Sprintf("scope guard refused %s: %s", e.Target, e.Reason)
}

// Guard decides whether a probe may be sent. target is the address the
// inventory names; dial is the address that would actually receive the
// packets (the same, unless Config.Redirect maps it elsewhere). Both must
// pass: the target must belong to the audited inventory (inScope), and the
// dialled address must be public, or loopback (127.0.0.0/8, ::1 and nothing
// else) when allowLoopback is set. It returns nil or a *RefusedError.
//
// The guard runs before any socket is opened: a refused target costs no
// packet.
func Guard(target, dial netip.Addr, inScope func(netip.Addr) bool, allowLoopback bool) error {
	refuse := func(class AddrClass, format string, args ...any) error {
		return &RefusedError{Target: target, Dial: dial, Class: class, Reason: fmt.Sprintf(format, args...)}
	}
	if !target.IsValid() {
		return refuse(ClassInvalid, "no address")
	}
	if inScope == nil || !inScope(target) {
		return refuse(ClassPublic, "not in the audited inventory")
	}
	class := Classify(dial)
	switch {
	case class == ClassPublic:
		return nil
	case class == ClassLoopback && allowLoopback:
		return nil
	case class == ClassLoopback:
		return refuse(class, "loopback address (allowed only with --probe-allow-loopback)")
	}
	return refuse(class, "%s address", class)
}
