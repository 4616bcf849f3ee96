package reports

import (
	"fmt"
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

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// BenchmarkWrite writes every format of a 10k-exposure report; each
// reports its size as bytes/exposure (the compact JSON's target is at
// most 1 KB; json-1.1 is the form before it, for comparison).
func BenchmarkWrite(b *testing.B) {
	r := largeReport(10000)
	d := NewDocument(r)
	for _, f := range append(Formats(), "json-1.1") {
		b.Run(f, func(b *testing.B) {
			var c countingWriter
			for b.Loop() {
				c.n = 0
				var err error
				if f == "json-1.1" {
					_, err = c.Write(writeV1(b, d))
				} else {
					err = Write(&c, f, r)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.n)/float64(len(d.Exposures)), "bytes/exposure")
		})
	}
}
