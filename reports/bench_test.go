package reports

import (
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// largeReport is an estate of n effective exposures, each with a finding
// and a probe observation.
func largeReport(n int) *Report {
	r := fixtureReport()
	anyone := mustSources("0.0.0.0/0")
	for i := range n {
		ip := netip.AddrFrom4([4]byte{203, 0, byte(113 + i/65536%2), byte(i % 256)})
		e := &exposure.Exposure{
			Level: exposure.Effective, Site: &exposure.Site{Scope: exposure.Scope{Provider: "aws", Account: acct, Region: "eu-west-1"},
				Target:   exposure.TargetRef{ID: fmt.Sprintf("eni-%017x", i), Kind: exposure.KindInterface, Name: fmt.Sprintf("web-%d", i)},
				Endpoint: exposure.Endpoint{IP: ip}}, Protocol: exposure.ProtocolTCP, Ports: exposure.Port(uint16(22 + i%3)),
			Sources:  anyone,
			Evidence: []*exposure.Evidence{{Layer: fmt.Sprintf("sg-%017x", i%100), LayerKind: exposure.LayerSecurityGroup, Rule: "sgr-1", Action: "allow"}},
		}
		r.Exposures = append(r.Exposures, e)
		r.Findings = append(r.Findings, rules.Finding{RuleID: "ssh-public", Title: "SSH open", Severity: rules.Severity(i % 5), Port: 22, Exposure: e})
		r.Observations = append(r.Observations, exposure.Observation{Endpoint: ip.String(), Protocol: exposure.ProtocolTCP, Port: e.Ports.From, State: exposure.ProbeOpen})
	}
	return r
}

func BenchmarkWrite(b *testing.B) {
	r := largeReport(10000)
	for _, f := range Formats() {
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				if err := Write(io.Discard, f, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
