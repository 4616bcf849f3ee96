package probe

import (
	"errors"
	"net/netip"
	"testing"
)

// TestGuard checks that every forbidden class of address is refused, that
// AllowLoopback opens 127.0.0.0/8 and ::1 and nothing else, and that a
// public address outside the inventory is refused too.
func TestGuard(t *testing.T) {
	everything := func(netip.Addr) bool { return true }
	tests := []struct {
		addr          string
		class         AddrClass
		allowLoopback bool
		ok            bool
	}{
		{"8.8.8.8", ClassPublic, false, true},
		{"2a00:1450:4001:80b::200e", ClassPublic, false, true},
		{"0.0.0.0", ClassUnspecified, true, false},
		{"::", ClassUnspecified, true, false},
		{"0.1.2.3", ClassThisNetwork, true, false},
		{"10.1.2.3", ClassPrivate, true, false},
		{"172.16.0.1", ClassPrivate, true, false},
		{"172.31.255.255", ClassPrivate, true, false},
		{"192.168.1.1", ClassPrivate, true, false},
		{"fd00::1", ClassPrivate, true, false},
		{"127.0.0.1", ClassLoopback, false, false},
		{"127.0.0.1", ClassLoopback, true, true},
		{"127.255.0.9", ClassLoopback, true, true},
		{"::1", ClassLoopback, false, false},
		{"::1", ClassLoopback, true, true},
		{"::ffff:127.0.0.1", ClassLoopback, true, true},
		{"::ffff:10.0.0.1", ClassPrivate, true, false},
		{"169.254.169.254", ClassLinkLocal, true, false}, // the cloud metadata service
		{"fe80::1", ClassLinkLocal, true, false},
		{"fe80::1%eth0", ClassLinkLocal, true, false},
		{"100.64.0.1", ClassCGNAT, true, false},
		{"100.127.255.254", ClassCGNAT, true, false},
		{"224.0.0.251", ClassMulticast, true, false},
		{"239.255.255.250", ClassMulticast, true, false},
		{"ff02::1", ClassMulticast, true, false},
		{"255.255.255.255", ClassBroadcast, true, false},
		{"240.0.0.1", ClassReserved, true, false},
		{"192.0.0.8", ClassReserved, true, false},
		{"100::1", ClassReserved, true, false},
		{"2001:10::1", ClassReserved, true, false},
		{"5f00::1", ClassReserved, true, false},
		{"4000::1", ClassReserved, true, false}, // outside 2000::/3
		{"192.0.2.10", ClassDocumentation, true, false},
		{"198.51.100.7", ClassDocumentation, true, false},
		{"203.0.113.10", ClassDocumentation, true, false},
		{"2001:db8::10", ClassDocumentation, true, false},
		{"3fff::1", ClassDocumentation, true, false},
		{"198.18.0.1", ClassBenchmarking, true, false},
		{"2001:2::1", ClassBenchmarking, true, false},
		{"64:ff9b::808:808", ClassTranslation, true, false},
		{"2002:808:808::1", ClassTranslation, true, false},
		{"2001:0:4136:e378::1", ClassTranslation, true, false},
		{"192.88.99.1", ClassTranslation, true, false},
	}
	for _, tc := range tests {
		name := tc.addr
		if tc.allowLoopback {
			name += "/allow-loopback"
		}
		t.Run(name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if got := Classify(a); got != tc.class {
				t.Errorf("Classify(%s) = %s, want %s", a, got, tc.class)
			}
			err := Guard(a, a, everything, tc.allowLoopback)
			if (err == nil) != tc.ok {
				t.Fatalf("Guard(%s) = %v, want allowed=%v", a, err, tc.ok)
			}
			var re *RefusedError
			if err != nil && (!errors.As(err, &re) || re.Class != tc.class) {
				t.Errorf("refusal %v does not carry class %s", err, tc.class)
			}
		})
	}
}

func TestGuardScope(t *testing.T) {
	inv := netip.MustParseAddr("203.0.113.10")
	lo := netip.MustParseAddr("127.0.0.1")
	inScope := func(a netip.Addr) bool { return a == inv }
	tests := []struct {
		name          string
		target, dial  netip.Addr
		inScope       func(netip.Addr) bool
		allowLoopback bool
		ok            bool
	}{
		{"public but not in the inventory", netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.8.8"), inScope, true, false},
		{"no inventory at all", netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.8.8"), nil, true, false},
		{"in the inventory, documentation address dialled as is", inv, inv, inScope, true, false},
		{"in the inventory, redirected to loopback, loopback allowed", inv, lo, inScope, true, true},
		{"in the inventory, redirected to loopback, loopback not allowed", inv, lo, inScope, false, false},
		{"in the inventory, redirected to a private address", inv, netip.MustParseAddr("10.0.0.1"), inScope, true, false},
		{"not in the inventory, redirected to loopback", netip.MustParseAddr("203.0.113.99"), lo, inScope, true, false},
		{"invalid target", netip.Addr{}, lo, func(netip.Addr) bool { return true }, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Guard(tc.target, tc.dial, tc.inScope, tc.allowLoopback)
			if (err == nil) != tc.ok {
				t.Fatalf("Guard = %v, want allowed=%v", err, tc.ok)
			}
		})
	}
}
