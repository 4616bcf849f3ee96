package exposure

import (
	"net/netip"
	"testing"

	"go4.org/netipx"
)

func TestSourceBreadth(t *testing.T) {
	tests := []struct {
		cidrs []string
		want  Breadth
	}{
		{[]string{"0.0.0.0/0"}, BreadthAnyone},
		{[]string{"::/0"}, BreadthAnyone},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, BreadthAnyone},
		{[]string{"10.0.0.0/8"}, BreadthNone},
		{[]string{"198.51.100.0/24"}, BreadthNarrow},
		{[]string{"203.0.113.7"}, BreadthNarrow},
		{[]string{"8.0.0.0/8"}, BreadthBroad},
		// "More than a /16 of IPv4 or a /32 of IPv6": a /16 and a /32
		// are narrow, one address or prefix more is broad.
		{[]string{"8.8.0.0/16"}, BreadthNarrow},
		{[]string{"8.8.0.0/16", "9.9.9.9"}, BreadthBroad},
		{[]string{"2600:1f18::/32"}, BreadthNarrow},
		{[]string{"2001:db8::/32"}, BreadthNarrow},
		{[]string{"2600:1f18::/31"}, BreadthBroad},
		{[]string{"2600:1f18::/32", "2600:1f1c::/64"}, BreadthBroad},
		{[]string{"2001:db8:1::/48"}, BreadthNarrow},
		// Reserved and special-purpose space is nobody on the internet.
		{[]string{"c000::/3"}, BreadthNone},
		{[]string{"4000::/2"}, BreadthNone},
		{[]string{"3fff::/20"}, BreadthNone},
		{[]string{"2002::/16"}, BreadthNone},
		{[]string{"2001::/23"}, BreadthNone},
		{[]string{"2000::/3"}, BreadthAnyone},

		{nil, BreadthNone},
	}
	for _, tc := range tests {
		s, err := ParseSources(tc.cidrs...)
		if err != nil {
			t.Fatal(err)
		}
		if got := SourceBreadth(s); got != tc.want {
			t.Errorf("SourceBreadth(%v) = %s, want %s", tc.cidrs, got, tc.want)
		}
	}
}

// TestNonPublicRegistry checks an address of every block of the IANA IPv4
// and IPv6 Special-Purpose Address Registries that is not globally
// reachable, and of the reserved IPv6 space outside 2000::/3, against
// IsPublic; and that real public space and the documentation ranges the
// fixtures use stay public.
func TestNonPublicRegistry(t *testing.T) {
	nonPublic := map[string]string{
		"0.1.2.3":          "this network",
		"10.1.2.3":         "private",
		"100.64.0.1":       "shared address space",
		"127.0.0.1":        "loopback",
		"169.254.169.254":  "link-local",
		"172.31.255.255":   "private",
		"192.0.0.8":        "IPv4 dummy address",
		"192.0.0.9":        "PCP anycast",
		"192.0.0.170":      "NAT64/DNS64 discovery",
		"192.88.99.1":      "deprecated 6to4 relay anycast",
		"192.168.1.1":      "private",
		"198.19.0.1":       "benchmarking",
		"224.0.0.251":      "multicast",
		"240.0.0.1":        "reserved",
		"255.255.255.255":  "limited broadcast",
		"::":               "unspecified",
		"::1":              "loopback",
		"64:ff9b::808:808": "IPv4-IPv6 translation",
		"64:ff9b:1::1":     "local-use translation",
		"100::1":           "discard-only",
		"100:0:0:1::1":     "dummy prefix",
		"2001::1":          "Teredo",
		"2001:2::1":        "benchmarking",
		"2001:20::1":       "ORCHIDv2",
		"2002:808:808::1":  "6to4",
		"3fff::1":          "documentation (RFC 9637)",
		"5f00::1":          "SRv6 SIDs",
		"fc00::1":          "unique local",
		"fd12:3456::1":     "unique local",
		"fe80::1":          "link-local",
		"ff02::1":          "multicast",
		"4000::1":          "reserved (outside 2000::/3)",
		"c000::1":          "reserved (outside 2000::/3)",
		"e000::1":          "reserved (outside 2000::/3)",
	}
	for a, what := range nonPublic {
		if IsPublic(netip.MustParseAddr(a)) {
			t.Errorf("IsPublic(%s) = true; %s is not an internet source", a, what)
		}
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "54.214.0.1", "192.0.2.10", "198.51.100.7", "203.0.113.9",
		"2001:db8::1", "2600:1f18::1", "2a00:1450::1", "2001:4860:4860::8888", "3ffe::1"} {
		if !IsPublic(netip.MustParseAddr(a)) {
			t.Errorf("IsPublic(%s) = false, want true", a)
		}
	}
}

func TestSourceBreadthNearlyAll(t *testing.T) {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	b.RemovePrefix(netip.MustParsePrefix("203.0.113.0/24"))
	s, _ := b.IPSet()
	if got := SourceBreadth(s); got != BreadthAnyone {
		t.Errorf("internet less a /24 = %s, want anyone", got)
	}
	b = netipx.IPSetBuilder{}
	b.AddPrefix(netip.MustParsePrefix("::/0"))
	b.RemovePrefix(netip.MustParsePrefix("2001:db8:1000::/56"))
	s, _ = b.IPSet()
	if got := SourceBreadth(s); got != BreadthAnyone {
		t.Errorf("IPv6 internet less a /56 = %s, want anyone", got)
	}
	b = netipx.IPSetBuilder{}
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	b.RemovePrefix(netip.MustParsePrefix("8.0.0.0/8"))
	s, _ = b.IPSet()
	if got := SourceBreadth(s); got != BreadthBroad {
		t.Errorf("internet less a /8 = %s, want broad", got)
	}
}
