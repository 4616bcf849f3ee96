package fix

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
)

var (
	awsScope   = exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	gcpScope   = exposure.Scope{Provider: "gcp", Account: "proj-1"}
	azureScope = exposure.Scope{Provider: "azure", Account: "sub-1", Region: "westeurope"}
)

func src(t *testing.T, cidrs ...string) *exposure.Rule {
	t.Helper()
	s, err := exposure.ParseSources(cidrs...)
	if err != nil {
		t.Fatal(err)
	}
	return &exposure.Rule{Sources: s, SourceNames: cidrs}
}

// allow is an allow rule for tcp on one port (0: every port).
func allow(t *testing.T, id string, port uint16, prio int, cidrs ...string) exposure.Rule {
	r := *src(t, cidrs...)
	r.ID, r.Action, r.Protocol, r.Priority = id, exposure.Allow, exposure.ProtocolTCP, prio
	if port != 0 {
		r.Ports = []exposure.PortRange{exposure.Port(port)}
	}
	return r
}

func sg(id string, rules ...exposure.Rule) *exposure.Layer {
	return &exposure.Layer{Scope: awsScope, ID: id, Kind: exposure.LayerSecurityGroup, Name: id, Mode: exposure.AllowUnion, Latent: true, Rules: rules}
}

func nsg(name string, rules ...exposure.Rule) *exposure.Layer {
	id := "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/networkSecurityGroups/" + name
	return &exposure.Layer{Scope: azureScope, ID: id, Kind: exposure.LayerNSG, Name: name, Mode: exposure.Ordered, Latent: true, LatentByRule: true, Rules: rules}
}

func target(scope exposure.Scope, id, ip string, path ...exposure.Hop) *exposure.Target {
	return &exposure.Target{Scope: scope, ID: id, Kind: exposure.KindInterface, Name: id,
		Endpoints: []exposure.Endpoint{{IP: netip.MustParseAddr(ip)}}, Path: path}
}

func hop(ls ...*exposure.Layer) exposure.Hop { return exposure.Hop{Layers: ls} }

// find returns the ID of the effective exposure of target on protocol/port.
func find(t *testing.T, inv *exposure.Inventory, target string, p exposure.Protocol, port uint16) string {
	t.Helper()
	for _, e := range exposure.Analyze(inv).Effective {
		if e.Target.ID == target && e.Protocol == p && e.Ports.Contains(port) {
			return e.ID()
		}
	}
	t.Fatalf("no effective exposure of %s on %s/%d", target, p, port)
	return ""
}

func suggest(t *testing.T, inv *exposure.Inventory, id string, o Options) *Plan {
	t.Helper()
	p, err := Suggest(inv, id, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Alternatives) == 0 {
		t.Fatalf("no alternative; rejected: %+v", p.Rejected)
	}
	return p
}

func resources(a Alternative) []string {
	var out []string
	for _, c := range a.Changes {
		out = append(out, c.Action+" "+c.Resource+" "+c.Rule.ID)
	}
	slices.Sort(out)
	return out
}

// Two groups on one ENI admit SSH: the fix must revoke both, and the
// blast radius names the other ENI that shares one of them.
func TestTwoGroupsAdmitTheSamePort(t *testing.T) {
	shared := sg("sg-shared", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"))
	own := sg("sg-own", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"), allow(t, "inbound #2", 443, 0, "0.0.0.0/0"))
	inv := &exposure.Inventory{Targets: []*exposure.Target{
		target(awsScope, "eni-a", "203.0.113.10", hop(shared, own)),
		target(awsScope, "eni-b", "203.0.113.11", hop(shared)),
	}}
	id := find(t, inv, "eni-a", exposure.ProtocolTCP, 22)
	other := find(t, inv, "eni-b", exposure.ProtocolTCP, 22)
	p := suggest(t, inv, id, Options{})
	best := p.Alternatives[0]
	if got, want := resources(best), []string{"revoke sg-own inbound #1", "revoke sg-shared inbound #1"}; !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	if !slices.Equal(best.AlsoCloses, []string{other}) {
		t.Errorf("alsoCloses %v, want eni-b's SSH %s", best.AlsoCloses, other)
	}
	if len(best.Commands) != 2 || !strings.Contains(best.Commands[0], "--group-id sg-") ||
		!strings.Contains(best.Commands[0], `'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`) {
		t.Errorf("commands %q", best.Commands)
	}
	for _, a := range p.Alternatives {
		if len(a.Changes) == 1 {
			t.Errorf("a single change %v cannot close what two groups admit", resources(a))
		}
	}
	// Revoking one group alone is what the verification rejects.
	v := newVerifier(inv, exposure.Analyze(inv), findExposure(exposure.Analyze(inv), id), Options{})
	one := ruleChange(shared, &shared.Rules[0], ActionRevoke, sgEdit(shared, &shared.Rules[0], opRevoke))
	if _, reason := v.check([]Change{one}); reason != "leaves the exposure open" {
		t.Errorf("revoking one of two groups: reason %q, want it rejected as leaving the exposure open", reason)
	}
}

// An NLB forwards 2222 to the backend's 22 and keeps the client address:
// the exposure shows 2222, the fix is on the backend's group, on 22.
func TestNLBTranslatedPort(t *testing.T) {
	back := sg("sg-backend", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"))
	lb := &exposure.Target{Scope: awsScope, ID: "nlb-1", Kind: exposure.KindLoadBalancer,
		Endpoints: []exposure.Endpoint{{IP: netip.MustParseAddr("203.0.113.50")}},
		Forwards: []exposure.Forward{{ID: "listener-2222", Protocol: exposure.ProtocolTCP, Frontend: exposure.Port(2222),
			BackendPort: 22, Backend: "i-ssh", BackendPath: exposure.Path{hop(back)}}}}
	inv := &exposure.Inventory{Targets: []*exposure.Target{lb}}
	id := find(t, inv, "nlb-1", exposure.ProtocolTCP, 2222)
	p := suggest(t, inv, id, Options{})
	best := p.Alternatives[0]
	if got := resources(best); !slices.Equal(got, []string{"revoke sg-backend inbound #1"}) {
		t.Fatalf("changes %v, want the backend group's rule", got)
	}
	if r := best.Changes[0].Rule; len(r.Ports) != 1 || r.Ports[0] != exposure.Port(22) {
		t.Errorf("revoked rule's ports %v, want the backend port 22", r.Ports)
	}
}

// A subnet NSG and a NIC NSG both admit RDP: closing either suffices.
// The subnet NSG also admits a neighbour's RDP, so the NIC change has
// the smaller blast radius and comes first.
func TestAzureSubnetAndNICNSG(t *testing.T) {
	subnet := nsg("nsg-subnet", allow(t, "Allow-RDP", 3389, 300, "0.0.0.0/0"))
	nic := nsg("nsg-nic", allow(t, "Allow-RDP-Nic", 3389, 200, "0.0.0.0/0"))
	nic2 := nsg("nsg-nic2", allow(t, "Allow-All", 0, 100, "0.0.0.0/0"))
	inv := &exposure.Inventory{Targets: []*exposure.Target{
		target(azureScope, "nic-1", "198.51.100.10", hop(subnet), hop(nic)),
		target(azureScope, "nic-2", "198.51.100.11", hop(subnet), hop(nic2)),
	}}
	id := find(t, inv, "nic-1", exposure.ProtocolTCP, 3389)
	neighbour := find(t, inv, "nic-2", exposure.ProtocolTCP, 3389)
	p := suggest(t, inv, id, Options{})
	var onNIC, onSubnet []Alternative
	for _, a := range p.Alternatives {
		switch a.Changes[0].Resource {
		case nic.ID:
			onNIC = append(onNIC, a)
		case subnet.ID:
			onSubnet = append(onSubnet, a)
		}
		if len(a.Changes) != 1 {
			t.Errorf("alternative %v changes both NSGs; one suffices", resources(a))
		}
	}
	if len(onNIC) == 0 || len(onSubnet) == 0 {
		t.Fatalf("want alternatives on both NSGs, got %d on the NIC's and %d on the subnet's", len(onNIC), len(onSubnet))
	}
	if p.Alternatives[0].Changes[0].Resource != nic.ID || p.Alternatives[0].Radius != 0 {
		t.Errorf("first alternative %v radius %d, want the NIC NSG with radius 0", resources(p.Alternatives[0]), p.Alternatives[0].Radius)
	}
	for _, a := range onSubnet {
		if !slices.Contains(a.AlsoCloses, neighbour) {
			t.Errorf("subnet alternative %v: alsoCloses %v lacks the neighbour's RDP", resources(a), a.AlsoCloses)
		}
	}
	var cmds []string
	for _, a := range p.Alternatives {
		cmds = append(cmds, a.Commands...)
	}
	all := strings.Join(cmds, "\n")
	for _, want := range []string{
		"az network nsg rule delete --subscription sub-1 --resource-group rg-1 --nsg-name nsg-nic --name Allow-RDP-Nic",
		"az network nsg rule create --subscription sub-1 --resource-group rg-1 --nsg-name nsg-nic --name portcullis-deny-tcp-3389 --priority 199 --direction Inbound --access Deny --protocol Tcp --destination-port-ranges 3389 --destination-address-prefixes '*' --source-address-prefixes 0.0.0.0/0",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("commands lack %q:\n%s", want, all)
		}
	}
}

// GCP: a high-priority allow shadows a lower one for the same traffic.
// Revoking the shadowed (lower-priority) rule changes nothing and must
// not be offered; the fix revokes both, or denies ahead of both.
func TestGCPShadowedRule(t *testing.T) {
	fw := func(name string, prio int) *exposure.Layer {
		return &exposure.Layer{Scope: gcpScope, ID: "projects/proj-1/global/firewalls/" + name, Kind: exposure.LayerFirewall, Name: name,
			Mode: exposure.Ordered, Latent: true, Tags: map[string]string{"network": "net-1"}, Rules: []exposure.Rule{allow(t, name, 22, prio, "0.0.0.0/0")}}
	}
	high, low := fw("allow-ssh-high", 100), fw("allow-ssh-low", 1000)
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(gcpScope, "vm-1/nic0", "192.0.2.31", hop(high, low))}}
	id := find(t, inv, "vm-1/nic0", exposure.ProtocolTCP, 22)
	p := suggest(t, inv, id, Options{})
	var sawDeny, sawBoth bool
	for _, a := range p.Alternatives {
		got := resources(a)
		if slices.Equal(got, []string{"revoke " + low.ID + " allow-ssh-low"}) {
			t.Errorf("revoking the shadowed rule alone is offered")
		}
		if slices.Equal(got, []string{"revoke " + high.ID + " allow-ssh-high", "revoke " + low.ID + " allow-ssh-low"}) {
			sawBoth = true
		}
		if a.Changes[0].Action == ActionInsertDeny {
			sawDeny = true
			if pr := a.Changes[0].Rule.Priority; pr != 99 {
				t.Errorf("deny priority %d, want 99 (ahead of 100)", pr)
			}
			want := "gcloud compute firewall-rules create portcullis-deny-tcp-22 --project proj-1 --network net-1 --direction INGRESS --action DENY --rules tcp:22 --source-ranges 0.0.0.0/0 --priority 99"
			if !slices.Contains(a.Commands, want) {
				t.Errorf("commands %q lack %q", a.Commands, want)
			}
		}
	}
	if !sawDeny || !sawBoth {
		t.Errorf("want a deny ahead of both and the revocation of both; got %+v", p.Alternatives)
	}
	v := newVerifier(inv, exposure.Analyze(inv), findExposure(exposure.Analyze(inv), id), Options{})
	r := &low.Rules[0]
	if _, reason := v.check([]Change{ruleChange(low, r, ActionRevoke, sgEdit(low, r, opRevoke))}); reason != "leaves the exposure open" {
		t.Errorf("revoking the shadowed rule: reason %q, want it rejected", reason)
	}
}

// Within one ordered layer, revoking the first allow lets the traffic
// fall to the next allow: both are revoked.
func TestOrderedLayerFallsThrough(t *testing.T) {
	n := nsg("nsg-1", allow(t, "Allow-SSH-1", 22, 100, "0.0.0.0/0"), allow(t, "Allow-SSH-2", 22, 200, "0.0.0.0/0"))
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(azureScope, "nic-1", "198.51.100.10", hop(n))}}
	p := suggest(t, inv, find(t, inv, "nic-1", exposure.ProtocolTCP, 22), Options{})
	var revokes [][]string
	for _, a := range p.Alternatives {
		if a.Changes[0].Action == ActionRevoke {
			revokes = append(revokes, resources(a))
		}
	}
	want := []string{"revoke " + n.ID + " Allow-SSH-1", "revoke " + n.ID + " Allow-SSH-2"}
	if len(revokes) != 1 || !slices.Equal(revokes[0], want) {
		t.Errorf("revocations %v, want %v", revokes, want)
	}
}

// --keep narrows the rule to the kept sources instead of revoking it.
func TestKeepNarrows(t *testing.T) {
	g := sg("sg-web", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"))
	nacl := &exposure.Layer{Scope: awsScope, ID: "acl-1", Kind: exposure.LayerNetworkACL, Mode: exposure.Ordered, Latent: true,
		Rules: []exposure.Rule{func() exposure.Rule {
			r := allow(t, "100", 0, 100, "0.0.0.0/0")
			r.Protocol = exposure.ProtocolAll
			return r
		}()}}
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(awsScope, "eni-1", "203.0.113.10", hop(nacl), hop(g))}}
	id := find(t, inv, "eni-1", exposure.ProtocolTCP, 22)
	keep, _ := exposure.ParseSources("198.51.100.0/24")
	p := suggest(t, inv, id, Options{Keep: keep})
	best := p.Alternatives[0]
	c := best.Changes[0]
	if c.Action != ActionNarrow || c.Resource != "sg-web" || !slices.Equal(c.Rule.NewSources, []string{"198.51.100.0/24"}) {
		t.Fatalf("best change %+v, want sg-web narrowed to 198.51.100.0/24", c)
	}
	want := []string{
		`aws ec2 authorize-security-group-ingress --region eu-west-1 --group-id sg-web --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"198.51.100.0/24"}]}]'`,
		`aws ec2 revoke-security-group-ingress --region eu-west-1 --group-id sg-web --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`,
	}
	if !slices.Equal(best.Commands, want) {
		t.Errorf("commands\n%q\nwant\n%q", best.Commands, want)
	}
	for _, a := range p.Alternatives {
		for _, c := range a.Changes {
			if c.Action == ActionInsertDeny || c.Action == ActionRevoke && c.Resource == "acl-1" {
				t.Errorf("with --keep, %v would cut the kept sources off too", c)
			}
		}
	}
	// A keep covering every source leaves nothing to do.
	if _, err := Suggest(inv, id, Options{Keep: exposure.AnySource()}); err == nil {
		t.Error("want an error when --keep covers every source")
	}
}

// The verification rejects a change that widens another exposure, and one
// that leaves a proxy's frontend answering with no backend.
func TestVerifierRejects(t *testing.T) {
	front := sg("sg-alb", allow(t, "inbound #1", 443, 0, "0.0.0.0/0"))
	back := sg("sg-app", allow(t, "inbound #1", 8080, 0, "10.0.0.0/16"))
	partner := sg("sg-partner", allow(t, "inbound #1", 22, 0, "198.51.100.0/24"))
	proxy, _ := exposure.ParseSources("10.0.1.5/32")
	alb := &exposure.Target{Scope: awsScope, ID: "alb-1", Kind: exposure.KindLoadBalancer,
		Endpoints: []exposure.Endpoint{{IP: netip.MustParseAddr("203.0.113.60")}}, Path: exposure.Path{hop(front)},
		Forwards: []exposure.Forward{{ID: "listener-443", Protocol: exposure.ProtocolTCP, Frontend: exposure.Port(443), BackendPort: 8080,
			Backend: "i-app", BackendPath: exposure.Path{hop(back)}, ProxySources: proxy, Terminates: true}}}
	inv := &exposure.Inventory{Targets: []*exposure.Target{alb, target(awsScope, "eni-p", "203.0.113.70", hop(partner))}}
	before := exposure.Analyze(inv)
	id := find(t, inv, "alb-1", exposure.ProtocolTCP, 443)
	x := findExposure(before, id)
	v := newVerifier(inv, before, x, Options{})

	p := suggest(t, inv, id, Options{})
	if got := resources(p.Alternatives[0]); !slices.Equal(got, []string{"revoke sg-alb inbound #1"}) {
		t.Errorf("best %v, want the ALB's own group", got)
	}
	rejected := false
	for _, r := range p.Rejected {
		if r.Changes[0].Resource == "sg-app" && strings.HasPrefix(r.Reason, "opens exposure alb-1 tcp/443") {
			rejected = true
		}
	}
	if !rejected {
		t.Errorf("revoking the backend's rule must be rejected (the ALB still answers on 443): %+v", p.Rejected)
	}

	// A change that would close the ALB but widen the partner's SSH to
	// the whole internet.
	r := &front.Rules[0]
	widen := edit{op: opNarrowSources, scope: awsScope, layerID: "sg-partner", kind: exposure.LayerSecurityGroup, ruleID: "inbound #1",
		sources: exposure.AnySource(), names: []string{"0.0.0.0/0"}}
	bad := []Change{ruleChange(front, r, ActionRevoke, sgEdit(front, r, opRevoke)), {Provider: "aws", Resource: "sg-partner", edit: widen}}
	if _, reason := v.check(bad); !strings.Contains(reason, "sg-partner would admit traffic") {
		t.Errorf("widening change: reason %q, want it rejected", reason)
	}
	// The same widening judged on the analysis alone (no layer check).
	clone := inv.Clone()
	for _, l := range allLayers(clone) {
		applyLayer(l, sgEdit(front, r, opRevoke))
		applyLayer(l, widen)
	}
	if _, reason := v.judge(bad, exposure.Analyze(clone), map[string]bool{}); !strings.HasPrefix(reason, "widens exposure eni-p tcp/22") {
		t.Errorf("judge of a widened exposure: reason %q", reason)
	}
}

// Clone is deep: editing the copy leaves the original's analysis alone.
func TestCloneIsDeep(t *testing.T) {
	g := sg("sg-1", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"))
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(awsScope, "eni-1", "203.0.113.10", hop(g)), target(awsScope, "eni-2", "203.0.113.11", hop(g))}, Layers: []*exposure.Layer{g}}
	c := inv.Clone()
	if c.Targets[0].Path[0].Layers[0] != c.Targets[1].Path[0].Layers[0] || c.Layers[0] != c.Targets[0].Path[0].Layers[0] {
		t.Error("a layer shared in the original is not shared in the copy")
	}
	c.Layers[0].Rules[0].Ports[0] = exposure.Port(23)
	c.Layers[0].Rules = nil
	if len(g.Rules) != 1 || g.Rules[0].Ports[0] != exposure.Port(22) {
		t.Error("editing the copy changed the original")
	}
}

// The demo estate: bastion-1's SSH is best closed on its own group; a
// NACL deny would also close grafana-1's partner SSH.
func TestDemoBastion(t *testing.T) {
	inv, _, err := audit.Normalize(demo.Estate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var id, grafana string
	for _, e := range exposure.Analyze(inv).Effective {
		if e.Protocol == exposure.ProtocolTCP && e.Ports.Contains(22) && e.Endpoint.String() == "203.0.113.30" {
			id = e.ID()
		}
		if e.Protocol == exposure.ProtocolTCP && e.Ports.Contains(22) && e.Endpoint.String() == "203.0.113.31" {
			grafana = e.ID()
		}
	}
	if id == "" || grafana == "" {
		t.Fatal("demo lacks bastion-1's or grafana-1's SSH")
	}
	p := suggest(t, inv, id, Options{})
	best := p.Alternatives[0]
	if best.Radius != 0 || len(best.Changes) != 1 || best.Changes[0].ResourceName != "bastion-ssh" || best.Changes[0].Action != ActionRevoke {
		t.Errorf("best %v radius %d, want bastion-ssh's rule alone", resources(best), best.Radius)
	}
	found := false
	for _, a := range p.Alternatives {
		if a.Changes[0].Action == ActionInsertDeny && a.Changes[0].Layer == exposure.LayerNetworkACL {
			found = true
			if !slices.Contains(a.AlsoCloses, grafana) {
				t.Errorf("NACL deny %v: alsoCloses %v lacks grafana-1's SSH", resources(a), a.AlsoCloses)
			}
		}
	}
	if !found {
		t.Error("no NACL deny alternative")
	}
}

// A group rule admits 20-30 and SSH is the exposure to close: narrowing
// the rule to 20-21 and 23-30 closes SSH alone, where revoking it would
// close the other ports too.
func TestNarrowPorts(t *testing.T) {
	wide := allow(t, "inbound #1", 0, 0, "0.0.0.0/0")
	wide.Ports = []exposure.PortRange{{From: 20, To: 30}}
	g := sg("sg-wide", wide)
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(awsScope, "eni-1", "203.0.113.10", hop(g, sg("sg-partner", allow(t, "inbound #1", 22, 0, "198.51.100.0/24"))))}}
	id := find(t, inv, "eni-1", exposure.ProtocolTCP, 22)
	p := suggest(t, inv, id, Options{})
	best := p.Alternatives[0]
	if best.Radius != 0 || len(best.Changes) != 2 {
		t.Fatalf("best %v radius %d, want the narrowed rule and the partner rule with radius 0", resources(best), best.Radius)
	}
	var narrowed *Change
	for i, c := range best.Changes {
		if c.Action == ActionNarrow {
			narrowed = &best.Changes[i]
		}
	}
	if narrowed == nil || !slices.Equal(narrowed.Rule.NewPorts, []exposure.PortRange{{From: 20, To: 21}, {From: 23, To: 30}}) {
		t.Fatalf("best %+v, want sg-wide narrowed to 20-21,23-30", best.Changes)
	}
	want := `aws ec2 authorize-security-group-ingress --region eu-west-1 --group-id sg-wide --ip-permissions '[{"IpProtocol":"tcp","FromPort":20,"ToPort":21,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]},{"IpProtocol":"tcp","FromPort":23,"ToPort":30,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`
	if !slices.Contains(best.Commands, want) {
		t.Errorf("commands %q lack %q", best.Commands, want)
	}
	for _, a := range p.Alternatives[1:] {
		if a.Radius < 2 {
			t.Errorf("alternative %v radius %d: revoking 20-30 closes 20-21 and 23-30 too", resources(a), a.Radius)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"sg-0123":         "sg-0123",
		"0.0.0.0/0":       "0.0.0.0/0",
		"*":               "'*'",
		"it's; rm -rf /":  `'it'\''s; rm -rf /'`,
		"$(touch x)":      "'$(touch x)'",
		"":                "''",
		"From=22,To=22":   "From=22,To=22",
		"a b":             "'a b'",
		"`id`":            "'`id`'",
		"name\nnext line": "'name\nnext line'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// A NACL deny takes the highest free rule number below the admitting
// entry, one entry per CIDR the entry names.
func TestNACLDenyNumber(t *testing.T) {
	denyUDP := allow(t, "99", 0, 99, "0.0.0.0/0")
	denyUDP.Action, denyUDP.Protocol = exposure.Deny, exposure.ProtocolUDP
	all := allow(t, "100", 0, 100, "0.0.0.0/0")
	all.Protocol = exposure.ProtocolAll
	nacl := &exposure.Layer{Scope: awsScope, ID: "acl-1", Kind: exposure.LayerNetworkACL, Name: "public", Mode: exposure.Ordered, Latent: true,
		Rules: []exposure.Rule{denyUDP, all}}
	g := sg("sg-1", allow(t, "inbound #1", 22, 0, "0.0.0.0/0"))
	inv := &exposure.Inventory{Targets: []*exposure.Target{target(awsScope, "eni-1", "203.0.113.10", hop(nacl), hop(g))}}
	p := suggest(t, inv, find(t, inv, "eni-1", exposure.ProtocolTCP, 22), Options{})
	want := "aws ec2 create-network-acl-entry --region eu-west-1 --network-acl-id acl-1 --ingress --rule-number 98 --protocol 6 --port-range From=22,To=22 --cidr-block 0.0.0.0/0 --rule-action deny"
	found := false
	for _, a := range p.Alternatives {
		found = found || slices.Contains(a.Commands, want)
	}
	if !found {
		t.Errorf("no alternative runs %q: %+v", want, p.Alternatives)
	}
}
