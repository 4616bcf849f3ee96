package rules

import (
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestLoadBalancerJudgedOnWhatTheInternetReaches: a load balancer's web
// listeners (80 -> 8080, 443 -> 8080, 443 -> 8443) are public web
// endpoints, reported by NET-HTTP-INTERNET on the frontend port, not
// "Jenkins on 8080"; and the load balancer's DNS name gets the findings
// its addresses get, with the probes made on those addresses.
func TestLoadBalancerJudgedOnWhatTheInternetReaches(t *testing.T) {
	eng := mustEngine(t, Options{})
	for _, tc := range []struct {
		front, back string
		probe       string // service the probe fingerprinted on the frontend
	}{
		{"80", "8080", "http"},
		{"443", "8080", "https"},
		{"443", "8443", "https"},
	} {
		t.Run(tc.front+"->"+tc.back, func(t *testing.T) {
			ip := expSpec{Ports: tc.front, Backend: tc.back, Endpoint: "192.0.2.20", Target: "lb-1"}.build(t)
			ip.Target.Kind = exposure.KindLoadBalancer
			dns := expSpec{Ports: tc.front, Backend: tc.back, Target: "lb-1"}.build(t)
			dns.Site = &exposure.Site{Scope: ip.Scope, Target: ip.Target, Endpoint: exposure.Endpoint{Host: "lb-1.elb.example"}}
			obs := []exposure.Observation{{Endpoint: "192.0.2.20", Protocol: exposure.ProtocolTCP, Port: ip.Ports.From, State: exposure.ProbeOpen, Service: tc.probe}}
			res := eng.Evaluate([]*exposure.Exposure{ip, dns}, obs)
			got := map[*exposure.Exposure][]Finding{}
			for _, f := range res.Findings {
				got[f.Exposure] = append(got[f.Exposure], f)
			}
			for _, e := range []*exposure.Exposure{ip, dns} {
				fs := got[e]
				if len(fs) != 1 || fs[0].RuleID != "NET-HTTP-INTERNET" || fs[0].Port != ip.Ports.From || fs[0].Severity != Low || fs[0].Probe == nil {
					t.Errorf("%s: %+v, want one NET-HTTP-INTERNET on port %d, low, with the probe of the address", e.Endpoint, fs, ip.Ports.From)
				}
			}
		})
	}
}
