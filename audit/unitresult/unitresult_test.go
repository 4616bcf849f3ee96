package unitresult

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

func set(t *testing.T, prefixes ...string) *netipx.IPSet {
	t.Helper()
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		b.AddPrefix(netip.MustParsePrefix(p))
	}
	s, err := b.IPSet()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRoundTrip: a result decodes to what was encoded, shared values still
// shared (one site, one source set, one evidence for the exposures that
// shared them).
func TestRoundTrip(t *testing.T) {
	scope := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	site := &exposure.Site{Scope: scope, Target: exposure.TargetRef{ID: "eni-1", Kind: exposure.KindInterface, Tags: map[string]string{"Name": "web"}},
		Endpoint: exposure.Endpoint{IP: netip.MustParseAddr("203.0.113.7")}}
	world := set(t, "0.0.0.0/0", "2001:db8::/32")
	ev := &exposure.Evidence{Layer: "sg-1", LayerKind: exposure.LayerSecurityGroup, Rule: "#1", Action: "allow", Sources: []string{"0.0.0.0/0"}}
	lb := &exposure.Site{Scope: scope, Target: exposure.TargetRef{ID: "lb-1", Kind: exposure.KindLoadBalancer}, Endpoint: exposure.Endpoint{Host: "lb.example", IPv6: true}}
	in := &Result{
		Unit: scope, Present: []string{"aws"}, Audited: []string{"aws"}, Units: []exposure.Scope{scope},
		Accounts: []string{scope.Account}, Regions: []string{scope.Region}, Targets: 2, LayersSeen: 3,
		CollectErrors: []exposure.Error{{Scope: scope, Stage: "collect", Resource: "ec2:DescribeAddresses", Message: "denied"}},
		Effective: []*exposure.Exposure{
			{Level: exposure.Effective, Site: site, Protocol: exposure.ProtocolTCP, Ports: exposure.PortRange{From: 22, To: 22}, Sources: world, Evidence: []*exposure.Evidence{ev}},
			{Level: exposure.Effective, Site: site, Protocol: exposure.ProtocolUDP, Ports: exposure.PortRange{From: 53, To: 53}, Sources: world, Evidence: []*exposure.Evidence{ev}},
			{Level: exposure.Effective, Site: lb, Protocol: exposure.ProtocolTCP, Ports: exposure.PortRange{From: 443, To: 443}, Sources: world,
				Backend: &exposure.Backend{ID: "i-1", Forward: "listener-1", Protocol: exposure.ProtocolTCP, Ports: exposure.PortRange{From: 8443, To: 8443}}},
		},
		Latent: []*exposure.Exposure{{Level: exposure.Latent, Site: &exposure.Site{Scope: scope, Target: exposure.TargetRef{ID: "sg-2", Kind: exposure.LayerSecurityGroup}},
			Protocol: exposure.ProtocolAll, Ports: exposure.AllPorts, Sources: set(t, "198.51.100.0/24")}},
		Layers: []*exposure.Layer{{Scope: scope, ID: "acl-1", Kind: exposure.LayerNetworkACL, Mode: exposure.Ordered, Default: exposure.Deny, Egress: true, Latent: true,
			Rules: []exposure.Rule{{ID: "100", Action: exposure.Allow, Priority: 100, Protocol: exposure.ProtocolAll, Sources: world, SourceNames: []string{"0.0.0.0/0"}}}}},
		PathLayers: []*exposure.Layer{{Scope: scope, ID: "sg-default", Kind: exposure.LayerSecurityGroup, Name: "default", Internal: set(t, "10.0.0.0/16"),
			Outbound: []exposure.Rule{{ID: "outbound #1", Action: exposure.Allow, Protocol: exposure.ProtocolAll, SourceNames: []string{"0.0.0.0/0"}}}}},
	}
	var b bytes.Buffer
	if err := Encode(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip differs:\n in %+v\nout %+v", in, out)
	}
	// Two results decoded through one Sets share their equal sets.
	var shared Sets
	var enc bytes.Buffer
	if err := Encode(&enc, in); err != nil {
		t.Fatal(err)
	}
	raw := enc.Bytes()
	a, err := DecodeShared(bytes.NewReader(raw), &shared)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeShared(bytes.NewReader(raw), &shared)
	if err != nil {
		t.Fatal(err)
	}
	if a.Effective[0].Sources != c.Effective[0].Sources || a.Latent[0].Sources != c.Latent[0].Sources || !reflect.DeepEqual(a, in) {
		t.Error("DecodeShared: equal sets of two results not shared, or the result differs")
	}
	if out.Effective[0].Site != out.Effective[1].Site || out.Effective[0].Sources != out.Effective[2].Sources || out.Effective[0].Evidence[0] != out.Effective[1].Evidence[0] {
		t.Error("shared values are no longer shared")
	}
}

// TestDecodeRefuses: what is not a result of this version, or points
// outside its tables, is an error naming the problem.
func TestDecodeRefuses(t *testing.T) {
	gz := func(s string) *bytes.Buffer {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return &b
	}
	head := `{"format":"portcullis-unit-result","version":1,"unit":{"provider":"aws","account":"111122223333","region":"eu-west-1"}`
	tests := []struct{ name, doc, want string }{
		{"version", `{"format":"portcullis-unit-result","version":2}`, "version 2"},
		{"format", `{"format":"report","version":1}`, `"report"`},
		{"site", head + `,"effective":[[0,6,22,22,0,0]]}`, "site 0 of 0"},
		{"set", head + `,"sites":[{"provider":"aws","account":"1","target":{"id":"x","kind":"k"}}],"effective":[[0,6,22,22,3,0]]}`, "set 3 of 0"},
		{"ports", head + `,"sites":[{"provider":"aws","account":"1","target":{"id":"x","kind":"k"}}],"effective":[[0,6,22,21,0,0]]}`, "out of range"},
		{"range", head + `,"sets":[["nonsense"]]}`, "set 1"},
		{"listed", head + `,"listed":2}`, "2 listed layers of 0"},
		{"json", `{"format":`, "decode unit result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(gz(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := Decode(strings.NewReader("plain")); err == nil || !strings.Contains(err.Error(), "decompress") {
		t.Errorf("not gzip: %v", err)
	}
}
