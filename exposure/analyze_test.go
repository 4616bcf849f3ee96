package exposure

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"go4.org/netipx"
)

// --- builders -------------------------------------------------------------

func src(t testing.TB, cidrs ...string) *netipx.IPSet {
	t.Helper()
	s, err := ParseSources(cidrs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func allow(id string, p Protocol, ports string, sources *netipx.IPSet) Rule {
	return Rule{ID: id, Action: Allow, Protocol: p, Ports: parsePorts(ports), Sources: sources}
}

func deny(id string, prio int, p Protocol, ports string, sources *netipx.IPSet) Rule {
	return Rule{ID: id, Action: Deny, Priority: prio, Protocol: p, Ports: parsePorts(ports), Sources: sources}
}

func prio(r Rule, n int) Rule { r.Priority = n; return r }
func tier(r Rule, n int) Rule { r.Tier = n; return r }

func parsePorts(s string) []PortRange {
	if s == "" {
		return nil
	}
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		r, err := ParsePortRange(part)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

func sg(id string, rules ...Rule) *Layer {
	return &Layer{ID: id, Kind: LayerSecurityGroup, Mode: AllowUnion, Latent: true, Rules: rules}
}

func ordered(id, kind string, rules ...Rule) *Layer {
	return &Layer{ID: id, Kind: kind, Mode: Ordered, Default: Deny, Latent: true, Rules: rules}
}

func route(t testing.TB, cidrs ...string) *Layer {
	return &Layer{ID: "rtb", Kind: LayerRoute, Mode: AllowUnion,
		Rules: []Rule{{ID: "igw", Action: Allow, Protocol: ProtocolAll, Sources: src(t, cidrs...)}}}
}

func hop(ls ...*Layer) Hop { return Hop{Layers: ls} }

func eni(id, addr string, path ...Hop) *Target {
	return &Target{Scope: Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		ID: id, Kind: KindInterface, Endpoints: []Endpoint{{IP: netip.MustParseAddr(addr)}}, Path: path}
}

// describe renders an exposure compactly: "eni-1 203.0.113.10 tcp 22 anyone".
func describe(e *Exposure) string {
	var b strings.Builder
	b.WriteString(e.Target.ID)
	if e.Level == Effective {
		b.WriteString(" " + e.Endpoint.String())
		if !e.Endpoint.IP.IsValid() && e.Endpoint.IPv6 {
			b.WriteString("(v6)")
		}
	}
	fmt.Fprintf(&b, " %s %s ", e.Protocol, e.Ports)
	if SourceBreadth(e.Sources) == BreadthAnyone && len(e.Sources.Prefixes()) > 8 {
		b.WriteString("anyone")
	} else {
		b.WriteString(strings.Join(Addrs(e.Sources), ","))
	}
	if e.Backend != nil {
		fmt.Fprintf(&b, " -> %s:%s", e.Backend.ID, e.Backend.Ports)
	}
	return b.String()
}

func describeAll(es []*Exposure) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, describe(e))
	}
	return out
}

// --- tests ---------------------------------------------------------------

func TestAnalyzeEffective(t *testing.T) {
	anyone := AnySource()
	partner := src(t, "198.51.100.0/24")
	rt := route(t, "0.0.0.0/0", "::/0")
	openNACL := ordered("acl-open", LayerNetworkACL, prio(allow("100", ProtocolAll, "", anyone), 100))
	openEgress := &Layer{ID: "acl-open", Kind: LayerNetworkACL, Mode: Ordered, Egress: true,
		Rules: []Rule{prio(allow("100", ProtocolAll, "", anyone), 100)}}
	ssh := sg("sg-ssh", allow("0", ProtocolTCP, "22", anyone))

	tests := []struct {
		name   string
		target *Target
		want   []string
	}{
		{
			name:   "security group open to the world",
			target: eni("eni-1", "203.0.113.10", hop(rt), hop(openNACL), hop(openEgress), hop(ssh)),
			want:   []string{"eni-1 203.0.113.10 tcp 22 anyone"},
		},
		{
			name:   "no route to an internet gateway",
			target: eni("eni-1", "203.0.113.10", hop(route(t, "10.0.0.0/8")), hop(ssh)),
			want:   []string{},
		},
		{
			name:   "route to the internet only for one range",
			target: eni("eni-1", "203.0.113.10", hop(route(t, "198.51.100.0/25")), hop(ssh)),
			want:   []string{"eni-1 203.0.113.10 tcp 22 198.51.100.0/25"},
		},
		{
			name: "NACL deny before allow",
			target: eni("eni-1", "203.0.113.10", hop(rt), hop(ordered("acl-1", LayerNetworkACL,
				deny("90", 90, ProtocolTCP, "22", src(t, "198.51.100.0/24")),
				prio(allow("100", ProtocolAll, "", anyone), 100))), hop(ssh)),
			// The internet less a /24 is still "anyone" (SourceBreadth);
			// TestNACLDenyCarvesSources checks the /24 is out.
			want: []string{"eni-1 203.0.113.10 tcp 22 anyone"},
		},
		{
			name: "NACL allow before deny: first match wins",
			target: eni("eni-1", "203.0.113.10", hop(ordered("acl-1", LayerNetworkACL,
				prio(allow("100", ProtocolTCP, "22", partner), 100),
				deny("200", 200, ProtocolAll, "", anyone))), hop(ssh)),
			want: []string{"eni-1 203.0.113.10 tcp 22 198.51.100.0/24"},
		},
		{
			name: "NACL rule order is by number, not by position",
			target: eni("eni-1", "203.0.113.10", hop(ordered("acl-1", LayerNetworkACL,
				prio(allow("200", ProtocolTCP, "22", anyone), 200),
				deny("100", 100, ProtocolTCP, "0-1023", anyone))), hop(ssh)),
			want: []string{},
		},
		{
			name: "NACL implicit deny",
			target: eni("eni-1", "203.0.113.10", hop(ordered("acl-1", LayerNetworkACL,
				prio(allow("100", ProtocolTCP, "443", anyone), 100))), hop(ssh)),
			want: []string{},
		},
		{
			name: "NACL egress blocks the replies",
			target: eni("eni-1", "203.0.113.10", hop(openNACL), hop(&Layer{ID: "acl-2", Kind: LayerNetworkACL, Mode: Ordered, Egress: true,
				Rules: []Rule{prio(allow("100", ProtocolTCP, "443", anyone), 100)}}), hop(ssh)),
			want: []string{},
		},
		{
			name: "NACL egress allows replies to one range on part of the ephemeral range",
			target: eni("eni-1", "203.0.113.10", hop(openNACL), hop(&Layer{ID: "acl-2", Kind: LayerNetworkACL, Mode: Ordered, Egress: true,
				Rules: []Rule{prio(allow("100", ProtocolTCP, "32768-60999", partner), 100)}}), hop(ssh)),
			want: []string{"eni-1 203.0.113.10 tcp 22 198.51.100.0/24"},
		},
		{
			name: "security groups on one ENI are a union",
			target: eni("eni-1", "203.0.113.10", hop(ssh, sg("sg-web",
				allow("0", ProtocolTCP, "80,443", anyone), allow("1", ProtocolTCP, "8080", partner)))),
			want: []string{
				"eni-1 203.0.113.10 tcp 22 anyone",
				"eni-1 203.0.113.10 tcp 80 anyone",
				"eni-1 203.0.113.10 tcp 443 anyone",
				"eni-1 203.0.113.10 tcp 8080 198.51.100.0/24",
			},
		},
		{
			name:   "private sources are not internet exposure",
			target: eni("eni-1", "203.0.113.10", hop(sg("sg-int", allow("0", ProtocolTCP, "22", src(t, "10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10"))))),
			want:   []string{},
		},
		{
			name:   "private endpoint is not a target",
			target: eni("eni-1", "10.0.0.5", hop(ssh)),
			want:   []string{},
		},
		{
			name:   "all traffic expands per protocol, ICMPv6 not on an IPv4 endpoint",
			target: eni("eni-1", "203.0.113.10", hop(sg("sg-all", allow("0", ProtocolAll, "", anyone)))),
			want: []string{
				"eni-1 203.0.113.10 tcp 0-65535 anyone",
				"eni-1 203.0.113.10 udp 0-65535 anyone",
				"eni-1 203.0.113.10 icmp 0-65535 anyone",
				"eni-1 203.0.113.10 all 0-65535 anyone",
			},
		},
		{
			name: "IPv6 endpoint reached only by IPv6 sources",
			target: eni("eni-1", "2001:db8::10", hop(sg("sg-v6",
				allow("0", ProtocolTCP, "22", src(t, "0.0.0.0/0")), allow("1", ProtocolTCP, "443", src(t, "::/0")),
				allow("2", ProtocolICMPv6, "", src(t, "2001:db8:1::/48"))))),
			want: []string{
				"eni-1 2001:db8::10 tcp 443 anyone",
				"eni-1 2001:db8::10 icmpv6 0-65535 2001:db8:1::/48",
			},
		},
		{
			name:   "empty hop admits nothing",
			target: eni("eni-1", "203.0.113.10", hop(), hop(ssh)),
			want:   []string{},
		},
		{
			name: "overlapping ranges are cut where the admitting rules change",
			target: eni("eni-1", "203.0.113.10", hop(sg("sg-r",
				allow("0", ProtocolTCP, "1000-2000", anyone), allow("1", ProtocolTCP, "1500-3000", anyone), allow("2", ProtocolTCP, "3001", anyone)))),
			want: []string{
				"eni-1 203.0.113.10 tcp 1000-1499 anyone",
				"eni-1 203.0.113.10 tcp 1500-2000 anyone",
				"eni-1 203.0.113.10 tcp 2001-3000 anyone",
				"eni-1 203.0.113.10 tcp 3001 anyone",
			},
		},
		{
			name:   "one rule's adjacent ranges with equal sources merge",
			target: eni("eni-1", "203.0.113.10", hop(sg("sg-r", allow("0", ProtocolTCP, "1000-2000,2001-3000", AnySource())))),
			want:   []string{"eni-1 203.0.113.10 tcp 1000-3000 anyone"},
		},
		{
			name: "GCP: deny wins at equal priority, goto_next falls to the next tier",
			target: eni("eni-1", "203.0.113.10", hop(ordered("fw", LayerFirewall,
				tier(Rule{ID: "org-next", Action: Next, Priority: 10, Protocol: ProtocolTCP, Ports: parsePorts("22"), Sources: anyone}, 0),
				tier(deny("org-deny", 20, ProtocolTCP, "0-65535", anyone), 0),
				tier(prio(allow("vpc-allow", ProtocolTCP, "22,80", anyone), 1000), 1),
				tier(deny("vpc-deny", 1000, ProtocolTCP, "80", anyone), 1)))),
			want: []string{"eni-1 203.0.113.10 tcp 22 anyone"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Analyze(&Inventory{Targets: []*Target{tc.target}})
			if got := describeAll(res.Effective); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("effective exposures:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAnalyzeForwards(t *testing.T) {
	anyone := AnySource()
	lbSG := sg("sg-lb", allow("0", ProtocolTCP, "443", anyone), allow("1", ProtocolTCP, "80", anyone))
	lbAddrs := src(t, "10.0.1.10/32", "10.0.2.10/32")
	backendOpen := Path{hop(sg("sg-app", allow("0", ProtocolTCP, "8443", anyone)))}
	backendFromLB := Path{hop(sg("sg-app2", allow("0", ProtocolTCP, "8080", src(t, "10.0.1.10/32"))))}
	backendClosed := Path{hop(sg("sg-app3", allow("0", ProtocolTCP, "8443", src(t, "10.9.0.0/16"))))}
	lb := func(path Path, fw ...Forward) *Target {
		return &Target{Scope: Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "lb", Kind: KindLoadBalancer,
			Endpoints: []Endpoint{{Host: "lb.example.com"}}, Path: path, Forwards: fw}
	}
	dual := func(t *Target) *Target {
		t.Endpoints = append(t.Endpoints, Endpoint{Host: t.Endpoints[0].Host, IPv6: true})
		return t
	}
	tests := []struct {
		name   string
		target *Target
		want   []string
	}{
		{
			name: "NLB passthrough translates 443 to 8443, backend admits clients",
			target: lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443,
				Backend: "i-1", BackendPath: backendOpen}),
			want: []string{"lb lb.example.com tcp 443 anyone -> i-1:8443"},
		},
		{
			name: "NLB passthrough, backend refuses clients: nothing is open",
			target: lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443,
				Backend: "i-1", BackendPath: backendClosed}),
			want: []string{},
		},
		{
			name: "ALB proxies: backend admits the LB's addresses, every client gets through",
			target: lb(Path{hop(lbSG)}, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(80), BackendPort: 8080,
				Backend: "i-2", BackendPath: backendFromLB, ProxySources: lbAddrs, Terminates: true}),
			want: []string{"lb lb.example.com tcp 80 anyone -> i-2:8080"},
		},
		{
			name: "ALB listener open even when its backend refuses",
			target: lb(Path{hop(lbSG)}, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443,
				Backend: "i-3", BackendPath: backendClosed, ProxySources: lbAddrs, Terminates: true}),
			want: []string{"lb lb.example.com tcp 443 anyone"},
		},
		{
			name: "LB security group closes a listener",
			target: lb(Path{hop(lbSG)}, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(22), BackendPort: 22,
				Backend: "i-1", ProxySources: lbAddrs, Terminates: true}),
			want: []string{},
		},
		{
			name: "one listener, two backends: open once per backend that admits",
			target: lb(nil,
				Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443, Backend: "i-1", BackendPath: backendOpen},
				Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443, Backend: "i-2", BackendPath: backendClosed}),
			want: []string{"lb lb.example.com tcp 443 anyone -> i-1:8443"},
		},
		{
			name: "port range kept port to port, split by what the backend admits",
			target: lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: PortRange{8000, 8999}, Backend: "i-1",
				BackendPath: Path{hop(sg("sg-b", allow("0", ProtocolTCP, "8000-8099", anyone)))}}),
			want: []string{"lb lb.example.com tcp 8000-8099 anyone -> i-1:8000-8099"},
		},
		{
			// AWS: a dualstack NLB forwards IPv6 clients to IPv4 targets
			// from its own IPv4 address, client IP preservation or not.
			name: "dualstack NLB, IPv4 backend: IPv4 clients preserved, IPv6 clients arrive from the LB",
			target: dual(lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443,
				Backend: "i-1", BackendPath: Path{hop(sg("sg-v4", allow("0", ProtocolTCP, "8443", src(t, "10.0.1.10/32"))))},
				ProxySources6: lbAddrs})),
			want: []string{"lb lb.example.com(v6) tcp 443 anyone -> i-1:8443"},
		},
		{
			name: "dualstack NLB, IPv6 backend: IPv4 clients arrive from the LB's IPv6 address",
			target: dual(lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443,
				Backend: "i-1", BackendPath: Path{hop(sg("sg-v6", allow("0", ProtocolTCP, "8443", src(t, "2001:db8:1::/64"))))},
				ProxySources4: src(t, "2001:db8:1::10/128")})),
			want: []string{"lb lb.example.com tcp 443 anyone -> i-1:8443", "lb lb.example.com(v6) tcp 443 2001:db8:1::/64 -> i-1:8443"},
		},
		{
			name: "per-family proxy overrides the general one",
			target: dual(lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8080,
				Backend: "i-1", BackendPath: backendFromLB, ProxySources: src(t, "10.9.9.9/32"), ProxySources4: lbAddrs})),
			want: []string{"lb lb.example.com tcp 443 anyone -> i-1:8080"},
		},
		{
			name:   "listener without backends on a passthrough LB is closed",
			target: lb(nil, Forward{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 443}),
			want:   []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Analyze(&Inventory{Targets: []*Target{tc.target}})
			if got := describeAll(res.Effective); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("effective exposures:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAnalyzeLatent(t *testing.T) {
	anyone := AnySource()
	unattached := sg("sg-unused", allow("0", ProtocolTCP, "3389", anyone), allow("1", ProtocolTCP, "22", src(t, "10.0.0.0/8")))
	// IPv4 sources only: the IPv4-only ENI cannot cover an IPv6 source.
	anyone4 := src(t, "0.0.0.0/0")
	shared := sg("sg-shared", allow("0", ProtocolTCP, "22", anyone4), allow("1", ProtocolTCP, "5432", anyone4))
	public := eni("eni-pub", "203.0.113.10", hop(ordered("acl", LayerNetworkACL, deny("10", 10, ProtocolTCP, "5432", anyone),
		prio(allow("100", ProtocolAll, "", anyone), 100))), hop(shared))
	private := eni("eni-priv", "203.0.113.11", hop(route(t, "10.0.0.0/8")), hop(shared))
	res := Analyze(&Inventory{Targets: []*Target{public, private}, Layers: []*Layer{unattached, shared}})

	wantEff := []string{"eni-pub 203.0.113.10 tcp 22 anyone"}
	if got := describeAll(res.Effective); !reflect.DeepEqual(got, wantEff) {
		t.Errorf("effective:\n got %q\nwant %q", got, wantEff)
	}
	// Port 22 of sg-shared is effectively exposed through eni-pub, so only
	// 5432 is latent; the NACL's own latent exposure is everything it
	// admits but what reached a target.
	var got []string
	for _, e := range res.Latent {
		if e.Target.Kind == LayerSecurityGroup {
			got = append(got, describe(e))
		}
	}
	want := []string{"sg-shared tcp 5432 anyone", "sg-unused tcp 3389 anyone"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("latent:\n got %q\nwant %q", got, want)
	}
	for _, e := range res.Latent {
		if e.Target.ID == "sg-unused" && (len(e.Evidence) != 1 || e.Evidence[0].Rule != "0") {
			t.Errorf("latent evidence for sg-unused = %+v, want rule 0 only", e.Evidence)
		}
	}
}

func TestAnalyzeEvidence(t *testing.T) {
	anyone := AnySource()
	rt := route(t, "0.0.0.0/0")
	acl := ordered("acl-1", LayerNetworkACL, deny("50", 50, ProtocolTCP, "23", anyone), prio(allow("100", ProtocolTCP, "0-1023", anyone), 100))
	sgA := sg("sg-a", allow("a0", ProtocolTCP, "22", anyone))
	sgB := sg("sg-b", allow("b0", ProtocolTCP, "20-25", anyone))
	res := Analyze(&Inventory{Targets: []*Target{eni("eni-1", "203.0.113.10", hop(rt), hop(acl), hop(sgA, sgB))}})
	var got []string
	for _, e := range res.Effective {
		var ev []string
		for _, x := range e.Evidence {
			ev = append(ev, x.Layer+"#"+x.Rule)
		}
		got = append(got, describe(e)+" via "+strings.Join(ev, " "))
	}
	want := []string{
		"eni-1 203.0.113.10 tcp 20-21 anyone via rtb#igw acl-1#100 sg-b#b0",
		"eni-1 203.0.113.10 tcp 22 anyone via rtb#igw acl-1#100 sg-a#a0 sg-b#b0",
		"eni-1 203.0.113.10 tcp 24-25 anyone via rtb#igw acl-1#100 sg-b#b0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("evidence:\n got %q\nwant %q", got, want)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	anyone := AnySource()
	bad := sg("sg-bad", Rule{ID: "rev", Action: Allow, Protocol: ProtocolTCP, Ports: []PortRange{{From: 30, To: 20}}, Sources: anyone},
		Rule{ID: "nil-src", Action: Allow, Protocol: ProtocolTCP, Ports: parsePorts("80")},
		allow("ok", ProtocolTCP, "443", anyone))
	tgt := eni("eni-1", "203.0.113.10", Hop{Layers: []*Layer{nil, bad}})
	res := Analyze(&Inventory{Targets: []*Target{tgt, nil}})
	if got, want := describeAll(res.Effective), []string{"eni-1 203.0.113.10 tcp 443 anyone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("effective = %q, want %q", got, want)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "nil layer") {
		t.Errorf("errors = %v, want one nil-layer error", res.Errors)
	}
}

func TestAnalyzeSharesWork(t *testing.T) {
	anyone := AnySource()
	s := sg("sg-1", allow("0", ProtocolTCP, "22", anyone))
	var targets []*Target
	for i := 0; i < 50; i++ {
		targets = append(targets, eni(fmt.Sprintf("eni-%02d", i), fmt.Sprintf("203.0.113.%d", i+1), hop(s)))
	}
	a := newAnalyzer()
	for _, t := range targets {
		a.target(t)
	}
	if len(a.res.Effective) != 50 || len(a.layers) != 1 || len(a.templates) != 1 {
		t.Errorf("got %d exposures from %d layer evaluations and %d templates; want 50, 1, 1",
			len(a.res.Effective), len(a.layers), len(a.templates))
	}
}

func TestParseProtocolAndPorts(t *testing.T) {
	for in, want := range map[string]Protocol{"tcp": ProtocolTCP, "TCP": ProtocolTCP, "6": ProtocolTCP, "-1": ProtocolAll,
		"*": ProtocolAll, "all": ProtocolAll, "icmpv6": ProtocolICMPv6, "58": ProtocolICMPv6, "50": 50, "udp": ProtocolUDP} {
		if got, err := ParseProtocol(in); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"tcpx", "256", "-2", ""} {
		if _, err := ParseProtocol(bad); err == nil {
			t.Errorf("ParseProtocol(%q) succeeded, want error", bad)
		}
	}
	for _, bad := range []string{"70000", "-1", "30-20", "a-b", "22-"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) succeeded, want error", bad)
		}
	}
	if r, err := ParsePortRange("8000-8999"); err != nil || r != (PortRange{8000, 8999}) {
		t.Errorf("ParsePortRange(8000-8999) = %v, %v", r, err)
	}
}

func TestIPv6SourcesHoldNoIPv4(t *testing.T) {
	res := Analyze(&Inventory{Layers: []*Layer{sg("sg-v6", allow("0", ProtocolTCP, "22", src(t, "::/0")))}})
	if len(res.Latent) != 1 {
		t.Fatalf("latent = %q, want one exposure", describeAll(res.Latent))
	}
	for _, p := range res.Latent[0].Sources.Prefixes() {
		if p.Addr().Is4() {
			t.Errorf("IPv6-only rule yields IPv4 source %s", p)
		}
	}
	if got := SourceBreadth(res.Latent[0].Sources); got != BreadthAnyone {
		t.Errorf("breadth = %s, want anyone", got)
	}
	// The conversion round-trips mixed sets, less the IPv4-mapped IPv6
	// block (never an internet source).
	in := src(t, "0.0.0.0/0", "::/0", "198.51.100.0/24")
	var want netipx.IPSetBuilder
	want.AddSet(in)
	want.RemovePrefix(netip.MustParsePrefix("::ffff:0:0/96"))
	w, _ := want.IPSet()
	if out := toAddrSet(in).ipSet(); !out.Equal(w) {
		t.Errorf("round trip of %v = %v", Addrs(in), Addrs(out))
	}
	in = src(t, "203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8")
	if out := toAddrSet(in).ipSet(); !out.Equal(in) {
		t.Errorf("round trip of %v = %v", Addrs(in), Addrs(out))
	}
}

// An allow-all rule reaching a target only on "other" protocols covers
// nothing of its TCP and UDP: those stay latent.
func TestLatentCoverIsExactPerProtocol(t *testing.T) {
	allowAll := sg("sg-all", allow("0", ProtocolAll, "", src(t, "0.0.0.0/0")))
	onlyGRE := &Layer{ID: "acl", Kind: LayerNetworkACL, Mode: Ordered, Rules: []Rule{
		prio(allow("100", 47, "", AnySource()), 100)}}
	res := Analyze(&Inventory{Targets: []*Target{eni("eni-1", "203.0.113.10", hop(onlyGRE), hop(allowAll))}})
	if got, want := describeAll(res.Effective), []string{"eni-1 203.0.113.10 gre 0-65535 anyone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("effective = %q, want %q", got, want)
	}
	var got []string
	for _, e := range res.Latent {
		if e.Target.ID == "sg-all" {
			got = append(got, describe(e))
		}
	}
	want := []string{"sg-all tcp 0-65535 anyone", "sg-all udp 0-65535 anyone", "sg-all icmp 0-65535 anyone", "sg-all all 0-65535 anyone"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("latent = %q, want %q", got, want)
	}
}

// A layer's internal address space (a VPC's own IPv6 block) is never a
// latent internet source.
func TestLatentLeavesInternalSpaceOut(t *testing.T) {
	l := sg("sg-v6", allow("0", ProtocolTCP, "443", src(t, "::/0")), allow("1", ProtocolTCP, "22", src(t, "2001:db8:1000::10/128")))
	l.Internal = src(t, "2001:db8:1000::/56", "10.0.0.0/16")
	res := Analyze(&Inventory{Layers: []*Layer{l}})
	if len(res.Latent) != 1 || res.Latent[0].Ports != Port(443) {
		t.Fatalf("latent = %q, want only 443", describeAll(res.Latent))
	}
	if res.Latent[0].Sources.OverlapsPrefix(netip.MustParsePrefix("2001:db8:1000::/56")) {
		t.Errorf("latent sources hold the VPC's own block: %v", Addrs(res.Latent[0].Sources))
	}
}

func TestLoopbackEndpointsOnlyWhenAsked(t *testing.T) {
	inv := &Inventory{Targets: []*Target{eni("eni-1", "127.0.0.5", hop(sg("sg-1", allow("0", ProtocolTCP, "22", AnySource()))))}}
	if got := Analyze(inv).Effective; len(got) != 0 {
		t.Errorf("loopback endpoint exposed by default: %q", describeAll(got))
	}
	got := AnalyzeWith(inv, Options{LoopbackEndpoints: true}).Effective
	if len(got) != 1 || got[0].Ports != Port(22) || SourceBreadth(got[0].Sources) != BreadthAnyone {
		t.Errorf("with LoopbackEndpoints: %q, want one tcp 22 exposure from anyone", describeAll(got))
	}
}

func TestNACLDenyCarvesSources(t *testing.T) {
	acl := ordered("acl-1", LayerNetworkACL, deny("90", 90, ProtocolTCP, "22", src(t, "198.51.100.0/24")),
		prio(allow("100", ProtocolAll, "", AnySource()), 100))
	res := Analyze(&Inventory{Targets: []*Target{eni("eni-1", "203.0.113.10", hop(acl), hop(sg("sg-1", allow("0", ProtocolTCP, "22", AnySource()))))}})
	if len(res.Effective) != 1 {
		t.Fatalf("effective = %q", describeAll(res.Effective))
	}
	s := res.Effective[0].Sources
	if s.Contains(netip.MustParseAddr("198.51.100.7")) || !s.Contains(netip.MustParseAddr("198.51.101.7")) {
		t.Errorf("sources %v should exclude exactly the denied 198.51.100.0/24", DisplaySources(s))
	}
}

// An allow shadowed by a deny of the same layer is latent when the layer is
// judged rule by rule, and not otherwise; an allow that reaches a target is
// covered either way.
func TestLatentByRule(t *testing.T) {
	mk := func(byRule bool) *Layer {
		l := ordered("nsg-1", LayerNSG,
			deny("deny-rdp", 100, ProtocolTCP, "3389", AnySource()),
			prio(allow("allow-rdp", ProtocolTCP, "3389", src(t, "0.0.0.0/0")), 200),
			prio(allow("allow-ssh", ProtocolTCP, "22", src(t, "0.0.0.0/0")), 300))
		l.LatentByRule = byRule
		return l
	}
	for _, byRule := range []bool{false, true} {
		// As providers do: the whole layer in Inventory.Layers, a per-target
		// variant with the same ID on the path.
		whole, variant := mk(byRule), mk(false)
		res := Analyze(&Inventory{Targets: []*Target{eni("nic-1", "203.0.113.10", hop(variant))}, Layers: []*Layer{whole}})
		if got, want := describeAll(res.Effective), []string{"nic-1 203.0.113.10 tcp 22 anyone"}; !reflect.DeepEqual(got, want) {
			t.Errorf("byRule=%v effective = %q, want %q", byRule, got, want)
		}
		var want []string
		if byRule {
			want = []string{"nsg-1 tcp 3389 anyone"}
		}
		got := describeAll(res.Latent)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("byRule=%v latent = %q, want %q", byRule, got, want)
		}
		if byRule && (len(res.Latent[0].Evidence) != 1 || res.Latent[0].Evidence[0].Rule != "allow-rdp") {
			t.Errorf("latent evidence = %+v, want the shadowed allow-rdp rule", res.Latent[0].Evidence)
		}
	}
}
