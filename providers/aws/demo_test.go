package aws_test

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers/aws"
)

// TestDemoEstate keeps the estate `make demo` audits (demo/estate/aws,
// described in demo/estate/README.md) valid and its answers the ones it
// was designed to give: two accounts, three regions, prod, staging and
// shared-services VPCs; an ALB, an NLB with port translation, a classic
// ELB, NAT gateways, an egress-only gateway, NACLs that deny RDP or break
// return traffic, and groups that are exposed, latent or safe.
func TestDemoEstate(t *testing.T) {
	inv, err := aws.Normalize(os.DirFS("../../demo/estate/aws"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		t.Errorf("normalize error: %v", e)
	}
	res := exposure.Analyze(inv)
	for _, e := range res.Errors {
		t.Errorf("analysis error: %v", e)
	}

	// Effective: "<name> <endpoints> <proto>/<ports> <sources> [-> <backend>:<port>]".
	// "any" is the whole public internet of the endpoint's family; a dual-
	// stack subnet's own IPv6 block is never an internet client (its
	// replies are routed locally), hence "any-2001:db8:…/56".
	const (
		edge   = "edge-prod 203.0.113.50,203.0.113.51,edge-prod-8a0bea4c1fbcf6b5.elb.eu-west-1.amazonaws.com"
		web4   = "web-prod web-prod-1234567890.eu-west-1.elb.amazonaws.com"
		web6   = "web-prod dualstack.web-prod-1234567890.eu-west-1.elb.amazonaws.com"
		prod6  = "any-2001:db8:1000::/56"
		staged = "staging-web-1 203.0.113.40"
	)
	wantEffective := []string{
		// Bastion with an Elastic IP and an IPv6 address: SSH from anyone
		// on both families (CIS AWS 5.2, 5.3), ping from anyone.
		"bastion-1 2001:db8:3000::10 tcp/22 any-2001:db8:3000::/56",
		"bastion-1 203.0.113.30 icmp/8 any",
		"bastion-1 203.0.113.30 tcp/22 any",
		// NLB without security groups, client IP preserved: 2222 serves
		// SSH of the gateway behind it, 443 the API servers' 8443.
		edge + " tcp/2222 any -> ssh-gateway-1:22",
		edge + " tcp/443 any -> api-1:8443",
		edge + " tcp/443 any -> api-2:8443",
		// Partner SSH and office-only Grafana (customer-managed prefix list).
		"grafana-1 203.0.113.31 tcp/22 198.51.100.0/24",
		"grafana-1 203.0.113.31 tcp/3000 192.0.2.128/27",
		// Second account: a notebook server from the launch wizard.
		"jupyter-sandbox 192.0.2.80 tcp/22 any",
		"jupyter-sandbox 192.0.2.80 tcp/8888 any",
		// Classic ELB: HTTP and HTTPS to the shop's 8080.
		"legacy-shop legacy-shop-1098765432.eu-west-1.elb.amazonaws.com tcp/443 any -> legacy-shop-1:8080",
		"legacy-shop legacy-shop-1098765432.eu-west-1.elb.amazonaws.com tcp/80 any -> legacy-shop-1:8080",
		// "All traffic" from anyone on a staging box: everything but the
		// RDP the subnet's NACL denies (rule 90 before the allow-all).
		staged + " all/0-65535 any",
		staged + " icmp/0-65535 any",
		staged + " tcp/0-79 any",
		staged + " tcp/3390-65535 any",
		staged + " tcp/443 any",
		staged + " tcp/444-3388 any",
		staged + " tcp/80 any",
		staged + " tcp/81-442 any",
		staged + " udp/0-65535 any",
		// Status page in us-east-1: HTTPS on both families, HTTP on IPv4.
		"status-1 192.0.2.10 tcp/443 any",
		"status-1 192.0.2.10 tcp/80 any",
		"status-1 2001:db8:2000::10 tcp/443 any-2001:db8:2000::/56",
		// OpenVPN over UDP works; its TCP 443 fallback does not (NACL).
		"vpn-1 203.0.113.32 udp/1194 any",
		// Dual-stack ALB: 80 and 443 to both web servers' 8080.
		web6 + " tcp/443 " + prod6 + " -> web-1:8080",
		web6 + " tcp/443 " + prod6 + " -> web-2:8080",
		web6 + " tcp/80 " + prod6 + " -> web-1:8080",
		web6 + " tcp/80 " + prod6 + " -> web-2:8080",
		web4 + " tcp/443 any -> web-1:8080",
		web4 + " tcp/443 any -> web-2:8080",
		web4 + " tcp/80 any -> web-1:8080",
		web4 + " tcp/80 any -> web-2:8080",
	}
	if got := demoEffective(res.Effective); !slices.Equal(got, wantEffective) {
		t.Errorf("effective exposures differ:\n%s", demoDiff(wantEffective, got))
	}

	// Latent: "<account> <region> <layer name> <proto>/<ports> <sources>",
	// any4/any6 being one family's whole internet.
	wantLatent := []string{
		// Forgotten, attached to nothing.
		"111122223333 eu-west-1 windows-migration-2021 tcp/22 any,any-2001:db8:1000::/56",
		"111122223333 eu-west-1 windows-migration-2021 tcp/3389 any,any-2001:db8:1000::/56",
		// Elastic IP on an instance in a subnet without an internet route.
		"111122223333 eu-west-1 redis-debug tcp/6379 any4",
		// The API servers' IPv6 addresses sit behind an egress-only gateway.
		"111122223333 eu-west-1 api-prod tcp/8443 any-2001:db8:1000::/56",
		// The VPN subnet's NACL lets TCP 443 in but drops the replies.
		"111122223333 eu-west-1 openvpn tcp/443 any4",
		"111122223333 eu-west-1 shared-vpn tcp/443 any4",
		"111122223333 eu-west-1 shared-vpn tcp/1024-65535 any4",
		// Return-traffic rule of the data subnets: only the route table
		// keeps 6379 and friends off the internet.
		"111122223333 eu-west-1 prod-data tcp/1024-65535 any4",
		// RDP denied by the staging NACL.
		"111122223333 eu-west-1 staging-web tcp/3389 any4",
		"111122223333 eu-west-1 staging-loadtest tcp/3389 any4",
		// The default NACLs admit everything; what no target receives is
		// latent, e.g. every port of the private app subnets.
		"111122223333 eu-west-1 prod-default udp/0-65535 any,any-2001:db8:1000::/56",
		"111122223333 eu-west-1 staging-default tcp/0-65535 any4",
		// Stopped instance (second account): FTP and SSH come back on start.
		"444455556666 us-east-1 launch-wizard-2 tcp/20-21 any4",
		"444455556666 us-east-1 launch-wizard-2 tcp/22 any4",
	}
	latent := demoLatent(res.Latent)
	for _, w := range wantLatent {
		if !slices.Contains(latent, w) {
			t.Errorf("latent %q missing", w)
		}
	}
	// Every latent security-group exposure must be one of the designed
	// ones. A VPC's own IPv6 block (a ::/0 rule matches it too) and the
	// members of a referenced group are never internet sources
	// (Layer.Internal), so they must not show up here.
	for _, e := range res.Latent {
		if e.Target.Kind != exposure.LayerSecurityGroup {
			continue
		}
		l := demoLatentLine(e)
		if !slices.Contains(wantLatent, l) {
			t.Errorf("unexpected latent exposure %q", l)
		}
	}
	if t.Failed() {
		t.Logf("latent exposures:\n  %s", strings.Join(latent, "\n  "))
	}

	// What is (and is not) a target: NAT gateways and load-balancer
	// interfaces never are, a stopped instance is not, instances without
	// a public address are not; cache-1 (Elastic IP) and the API servers
	// (IPv6) are targets without an effective exposure.
	var targets []string
	for _, tg := range inv.Targets {
		targets = append(targets, tg.Account+" "+tg.Name)
	}
	slices.Sort(targets)
	wantTargets := []string{
		"111122223333 api-1", "111122223333 api-2", "111122223333 bastion-1", "111122223333 cache-1",
		"111122223333 edge-prod", "111122223333 grafana-1", "111122223333 legacy-shop", "111122223333 staging-web-1",
		"111122223333 status-1", "111122223333 vpn-1", "111122223333 web-prod", "444455556666 jupyter-sandbox",
	}
	if !slices.Equal(targets, wantTargets) {
		t.Errorf("targets differ:\n%s", demoDiff(wantTargets, targets))
	}
	// Unattached means attached to nothing: the forgotten group and the
	// default groups nobody uses. The stopped instance's group stays
	// attached (and latent).
	var unattached []string
	for _, l := range inv.Layers {
		if l.Kind == exposure.LayerSecurityGroup && !l.Attached {
			unattached = append(unattached, l.Account+" "+l.Region+" "+l.Name)
		}
	}
	slices.Sort(unattached)
	wantUnattached := []string{
		"111122223333 eu-west-1 default", // prod VPC
		"111122223333 eu-west-1 windows-migration-2021",
		"111122223333 us-east-1 default",
		"444455556666 us-east-1 default",
	}
	if !slices.Equal(unattached, wantUnattached) {
		t.Errorf("unattached groups differ:\n%s", demoDiff(wantUnattached, unattached))
	}
}

// demoPublic is the public internet of each family.
var demoPublic = [2]*netipx.IPSet{
	exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("0.0.0.0/0"))),
	exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("::/0"))),
}

// demoFamily describes the part of s in one family: "" when empty, "any"
// when it is the family's whole internet, "any-<p>" when a prefix or two
// are missing, else the prefixes.
func demoFamily(s *netipx.IPSet, fam int) string {
	in := exposure.Intersect(s, demoPublic[fam])
	if len(in.Prefixes()) == 0 {
		return ""
	}
	var b netipx.IPSetBuilder
	b.AddSet(demoPublic[fam])
	b.RemoveSet(in)
	missing, _ := b.IPSet()
	if n := len(missing.Prefixes()); n <= 2 && len(in.Prefixes()) > 8 {
		out := "any"
		for _, p := range missing.Prefixes() {
			out += "-" + p.String()
		}
		return out
	}
	return strings.Join(exposure.Addrs(in), ",")
}

// demoEffective prints effective exposures one line per target, protocol,
// ports, sources and backend, the endpoints joined.
func demoEffective(es []*exposure.Exposure) []string {
	var keys []string
	eps := map[string][]string{}
	for _, e := range es {
		fam := 0
		if e.Endpoint.Is6() {
			fam = 1
		}
		k := fmt.Sprintf("%s\x00%s/%s %s", e.Target.Name, e.Protocol, e.Ports, demoFamily(e.Sources, fam))
		if e.Backend != nil {
			k += fmt.Sprintf(" -> %s:%s", e.Backend.Name, e.Backend.Ports)
		}
		if _, ok := eps[k]; !ok {
			keys = append(keys, k)
		}
		eps[k] = append(eps[k], e.Endpoint.String())
	}
	var out []string
	for _, k := range keys {
		name, rest, _ := strings.Cut(k, "\x00")
		ep := eps[k]
		slices.Sort(ep)
		out = append(out, name+" "+strings.Join(slices.Compact(ep), ",")+" "+rest)
	}
	slices.Sort(out)
	return out
}

func demoLatentLine(e *exposure.Exposure) string {
	name := e.Target.Name
	if name == "" {
		name = e.Target.ID
	}
	v4, v6 := demoFamily(e.Sources, 0), demoFamily(e.Sources, 1)
	var src string
	switch {
	case v4 == "any" && v6 == "any":
		src = "any"
	case v4 == "any" && v6 == "":
		src = "any4"
	case v6 == "any" && v4 == "":
		src = "any6"
	default:
		src = strings.Trim(v4+","+v6, ",")
	}
	return fmt.Sprintf("%s %s %s %s/%s %s", e.Account, e.Region, name, e.Protocol, e.Ports, src)
}

func demoLatent(es []*exposure.Exposure) []string {
	var out []string
	for _, e := range es {
		out = append(out, demoLatentLine(e))
	}
	slices.Sort(out)
	return out
}

// demoDiff lists the lines only one side has.
func demoDiff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "  missing: %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "  unexpected: %s\n", g)
		}
	}
	return b.String()
}
