package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestFindingsIndependentOfCut: a group allowing all traffic from
// 0.0.0.0/0, with or without redundant port rules (tcp 22, tcp 20-21,
// udp 53), admits the same traffic and must give the same findings: the
// analysis cuts the TCP range at the redundant rules' ports (evidence
// differs there), the structural rules judge the union.
func TestFindingsIndependentOfCut(t *testing.T) {
	scope := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	anyone, _ := exposure.ParseSources("0.0.0.0/0")
	rule := func(id string, proto exposure.Protocol, ports ...exposure.PortRange) exposure.Rule {
		return exposure.Rule{ID: id, Action: exposure.Allow, Protocol: proto, Ports: ports, Sources: anyone, SourceNames: []string{"0.0.0.0/0"}}
	}
	route := &exposure.Layer{Scope: scope, ID: "rtb-1", Kind: exposure.LayerRoute, Mode: exposure.AllowUnion,
		Rules: []exposure.Rule{rule("igw", exposure.ProtocolAll)}}
	findings := func(extra ...exposure.Rule) []string {
		sg := &exposure.Layer{Scope: scope, ID: "sg-open", Kind: exposure.LayerSecurityGroup, Mode: exposure.AllowUnion, Latent: true, Attached: true,
			Rules: append([]exposure.Rule{rule("all", exposure.ProtocolAll)}, extra...)}
		inv := &exposure.Inventory{Targets: []*exposure.Target{{Scope: scope, ID: "eni-1", Kind: exposure.KindInterface,
			Endpoints: []exposure.Endpoint{{IP: netip.MustParseAddr("192.0.2.10")}},
			Path:      []exposure.Hop{{Layers: []*exposure.Layer{route}}, {Layers: []*exposure.Layer{sg}}}}}}
		ar := exposure.Analyze(inv)
		res := mustEngine(t, Options{}).Evaluate(append(slices.Clone(ar.Effective), ar.Latent...), nil)
		var out []string
		for _, f := range res.Findings {
			out = append(out, fmt.Sprintf("%s %s %s %s %d %s", f.ID, f.RuleID, f.Severity, f.Exposure.Protocol, f.Port, f.Exposure.Ports))
		}
		slices.Sort(out)
		return out
	}
	want := findings()
	if !slices.ContainsFunc(want, func(s string) bool { return strings.Fields(s)[1] == "STRUCT-ALL-PORTS" }) {
		t.Fatalf("allow-all group: %q, want STRUCT-ALL-PORTS among them", want)
	}
	for name, extra := range map[string][]exposure.Rule{
		"tcp 22":        {rule("ssh", exposure.ProtocolTCP, exposure.Port(22))},
		"tcp 20-21, 22": {rule("ftp", exposure.ProtocolTCP, exposure.PortRange{From: 20, To: 21}), rule("ssh", exposure.ProtocolTCP, exposure.Port(22))},
		"udp 53":        {rule("dns", exposure.ProtocolUDP, exposure.Port(53))},
	} {
		t.Run(name, func(t *testing.T) {
			if got := findings(extra...); !slices.Equal(got, want) {
				t.Errorf("findings with redundant %s:\n%q\nwant (allow-all alone):\n%q", name, got, want)
			}
		})
	}
}
