package exposure

import (
	"net/netip"
	"testing"
)

func TestKeyIgnoresPortsButIDDoesNot(t *testing.T) {
	site := &Site{Scope: Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		Target: TargetRef{ID: "eni-1"}, Endpoint: Endpoint{IP: netip.MustParseAddr("203.0.113.10")}}
	a := &Exposure{Level: Effective, Site: site, Protocol: ProtocolTCP, Ports: PortRange{From: 22, To: 22}}
	b := &Exposure{Level: Effective, Site: site, Protocol: ProtocolTCP, Ports: PortRange{From: 22, To: 23}}
	if a.Key() != b.Key() {
		t.Fatalf("keys differ with the ports: %v vs %v", a.Key(), b.Key())
	}
	if a.ID() == b.ID() {
		t.Fatal("IDs equal although the ports differ")
	}
	// The ID is a published contract: this value was computed by the first
	// release for this exposure and must not change.
	if got, want := a.ID(), "11522e45a5ec9592"; got != want {
		t.Fatalf("ID of tcp/22 = %q, want %q (the first release's value)", got, want)
	}
	c := &Exposure{Level: Effective, Site: site, Protocol: ProtocolUDP, Ports: PortRange{From: 22, To: 22}}
	if a.Key() == c.Key() || a.Key().Hash() == c.Key().Hash() {
		t.Fatal("keys equal across protocols")
	}
	d := &Exposure{Level: Effective, Site: site, Protocol: ProtocolTCP, Ports: PortRange{From: 443, To: 443},
		Backend: &Backend{Forward: "listener-1", ID: "i-1", Ports: PortRange{From: 8443, To: 8443}}}
	if got, want := d.ID(), "174180f9e2e709fd"; got != want {
		t.Fatalf("ID of 443->8443 = %q, want %q (the first release's value)", got, want)
	}
	if a.Key() == d.Key() || d.Key().Forward != "listener-1" || d.Key().Backend != "i-1" {
		t.Fatalf("forward not in key: %+v", d.Key())
	}
	if a.Key().Compare(a.Key()) != 0 || a.Key().Compare(c.Key()) == 0 {
		t.Fatal("Compare")
	}
}
