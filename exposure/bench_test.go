package exposure

import (
	"fmt"
	"math/rand"
	"net/netip"
	"runtime"
	"testing"
)

// synthEstate builds a synthetic AWS-like estate: n interfaces spread over
// n/100 subnets (route table and NACL each), with n/5 security groups of
// rulesPerGroup rules. With rulesPerGroup = 50, 100k interfaces carry 1M
// security-group rules. Interfaces belong to n/20 roles (an autoscaling
// group, a service): a role is two groups deployed in three subnets, as
// workloads are. With distinct = true every interface instead gets its own
// random pair of groups and subnet (no two paths alike: the worst case for
// the analysis's sharing). Sources and ports follow a fixed seed, so every
// run analyses the same estate.
func synthEstate(n, rulesPerGroup int) *Inventory { return synth(n, rulesPerGroup, false) }

func synth(n, rulesPerGroup int, distinct bool) *Inventory {
	rng := rand.New(rand.NewSource(1))
	anyone := AnySource()
	partners := make([]Rule, 0, 64)
	for i := 0; i < 64; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i * 4)}), 30)
		partners = append(partners, Rule{Sources: Sources(p), SourceNames: []string{p.String()}})
	}
	private := Sources(netip.MustParsePrefix("10.0.0.0/8"))
	ports := []uint16{22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9200, 27017}
	groups := make([]*Layer, max(n/5, 1))
	for g := range groups {
		rules := make([]Rule, rulesPerGroup)
		for r := range rules {
			var s Rule
			// 5% of rules open to anyone, 10% to a partner range, the rest
			// to private ranges (in real estates most rules reference other
			// groups or the VPC).
			switch k := rng.Intn(20); {
			case k < 1:
				s = Rule{Sources: anyone, SourceNames: []string{"0.0.0.0/0", "::/0"}}
			case k < 3:
				s = partners[rng.Intn(len(partners))]
			default:
				s = Rule{Sources: private, SourceNames: []string{"10.0.0.0/8"}}
			}
			from := ports[rng.Intn(len(ports))]
			if rng.Intn(20) == 0 {
				from = uint16(1024 + rng.Intn(60000))
			}
			to := from
			if rng.Intn(10) == 0 {
				to = from + uint16(rng.Intn(100))
			}
			s.ID = fmt.Sprintf("sgr-%d-%d", g, r)
			s.Action, s.Protocol, s.Ports = Allow, ProtocolTCP, []PortRange{{from, to}}
			if rng.Intn(25) == 0 {
				s.Protocol = ProtocolUDP
			}
			rules[r] = s
		}
		groups[g] = &Layer{ID: fmt.Sprintf("sg-%d", g), Kind: LayerSecurityGroup, Mode: AllowUnion, Latent: true, Rules: rules}
	}
	subnets := max(n/100, 1)
	routes := make([]*Layer, subnets)
	nacls := make([]*Layer, subnets)
	egress := make([]*Layer, subnets)
	for i := range routes {
		if i%10 == 9 { // private subnets: no internet gateway route
			routes[i] = &Layer{ID: fmt.Sprintf("rtb-%d", i), Kind: LayerRoute, Rules: []Rule{{ID: "local", Action: Allow, Protocol: ProtocolAll, Sources: private}}}
		} else {
			routes[i] = &Layer{ID: fmt.Sprintf("rtb-%d", i), Kind: LayerRoute, Rules: []Rule{{ID: "igw", Action: Allow, Protocol: ProtocolAll, Sources: anyone}}}
		}
		nacls[i] = &Layer{ID: fmt.Sprintf("acl-%d", i), Kind: LayerNetworkACL, Mode: Ordered, Latent: true, Rules: []Rule{
			{ID: "90", Priority: 90, Action: Deny, Protocol: ProtocolTCP, Ports: []PortRange{{3389, 3389}}, Sources: anyone},
			{ID: "100", Priority: 100, Action: Allow, Protocol: ProtocolAll, Sources: anyone},
		}}
		egress[i] = &Layer{ID: fmt.Sprintf("acl-%d", i), Kind: LayerNetworkACL, Mode: Ordered, Egress: true, Rules: []Rule{
			{ID: "100", Priority: 100, Action: Allow, Protocol: ProtocolAll, Sources: anyone},
		}}
	}
	type role struct {
		a, b    *Layer
		subnets [3]int
	}
	roles := make([]role, max(n/20, 1))
	for i := range roles {
		roles[i] = role{groups[rng.Intn(len(groups))], groups[rng.Intn(len(groups))],
			[3]int{rng.Intn(subnets), rng.Intn(subnets), rng.Intn(subnets)}}
	}
	inv := &Inventory{Layers: groups}
	for i := 0; i < n; i++ {
		r := roles[rng.Intn(len(roles))]
		a, b, sub := r.a, r.b, r.subnets[rng.Intn(3)]
		if distinct {
			a, b, sub = groups[rng.Intn(len(groups))], groups[rng.Intn(len(groups))], rng.Intn(subnets)
		}
		ip := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		inv.Targets = append(inv.Targets, &Target{
			Scope: Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
			ID:    fmt.Sprintf("eni-%d", i), Kind: KindInterface,
			Endpoints: []Endpoint{{IP: ip}},
			Path:      Path{{Layers: []*Layer{routes[sub]}}, {Layers: []*Layer{nacls[sub]}}, {Layers: []*Layer{egress[sub]}}, {Layers: []*Layer{a, b}}},
		})
	}
	return inv
}

// BenchmarkAnalyze measures the analysis on synthetic estates; ns/interface
// is the figure to watch: it must stay flat as the estate grows (linear
// cost). Run with: make bench (or go test -run x -bench Analyze ./exposure).
func BenchmarkAnalyze(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		benchAnalyze(b, func() *Inventory { return synthEstate(n, 50) }, fmt.Sprintf("interfaces=%d/rules=%d", n, n*10))
	}
}

// BenchmarkAnalyzeDistinctPaths is the worst case: no two interfaces share
// a path, so nothing is shared between them.
func BenchmarkAnalyzeDistinctPaths(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		benchAnalyze(b, func() *Inventory { return synth(n, 50, true) }, fmt.Sprintf("interfaces=%d/rules=%d", n, n*10))
	}
}

// benchAnalyze builds the estate only when its sub-benchmark runs, so a
// filtered run (and its peak RSS) holds one estate.
func benchAnalyze(b *testing.B, estate func() *Inventory, name string) {
	{
		b.Run(name, func(b *testing.B) {
			inv := estate()
			n := len(inv.Targets)
			b.ResetTimer()
			b.ReportAllocs()
			var effective, latent int
			for i := 0; i < b.N; i++ {
				r := Analyze(inv)
				effective, latent = len(r.Effective), len(r.Latent)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/interface")
			b.ReportMetric(float64(effective), "effective")
			b.ReportMetric(float64(latent), "latent")
			// The heap the process obtained from the OS so far: its
			// high-water mark (estates run smallest first). make bench
			// also reports the peak RSS of a 100k-only run.
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(m.HeapSys)/(1<<20), "MiB-heap-sys")
		})
	}
}

// BenchmarkRuleScanBaseline is the baseline the analysis is measured
// against in the same run: a rule-by-rule scan of the same estate, as
// rule-at-a-time checkers do (every rule whose sources overlap the public
// internet is reported, path or no path). The ratio Analyze/baseline says
// what following the whole path costs on this machine, whatever its speed.
func BenchmarkRuleScanBaseline(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("interfaces=%d/rules=%d", n, n*10), func(b *testing.B) {
			inv := synthEstate(n, 50)
			b.ResetTimer()
			b.ReportAllocs()
			var hits int
			for i := 0; i < b.N; i++ {
				var out []Rule
				for _, l := range inv.Layers {
					for _, r := range l.Rules {
						if r.Action == Allow && r.Sources != nil && r.Sources.Overlaps(publicInternet) {
							out = append(out, r)
						}
					}
				}
				hits = len(out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/interface")
			b.ReportMetric(float64(hits), "public-rules")
		})
	}
}
