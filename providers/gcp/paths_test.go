package gcp

import (
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// The path situations of testdata/estate, collected through the real
// compute clients from the fake server and analyzed with exposure.Analyze.
// Every effective exposure of the estate is listed in exactly one
// situation, so an extra or a missing one fails.
var situations = []struct {
	name    string
	targets []string // target names the situation owns
	want    []string
}{
	{"tag targeting, Google proxy ranges, hierarchical allow for one network, regional policy", []string{"web-1"}, []string{
		"web-1 203.0.113.10 tcp/10250 203.0.113.0/24", // regional network policy (after VPC rules)
		"web-1 203.0.113.10 tcp/443 any",
		"web-1 203.0.113.10 tcp/80 any",
		"web-1 203.0.113.10 tcp/8080 35.191.0.0/16,130.211.0.0/22",
		"web-1 203.0.113.10 tcp/9443 192.0.2.0/24", // org policy allow targeting prod-vpc only
	}},
	{"regional policy applies in its region only", []string{"us-web-1"}, []string{
		"us-web-1 203.0.113.19 tcp/443 any",
		"us-web-1 203.0.113.19 tcp/80 any",
		"us-web-1 203.0.113.19 tcp/8080 35.191.0.0/16,130.211.0.0/22",
		"us-web-1 203.0.113.19 tcp/9443 192.0.2.0/24",
	}},
	{"service-account targeting", []string{"bastion-1"}, []string{
		"bastion-1 203.0.113.11 tcp/10250 203.0.113.0/24",
		"bastion-1 203.0.113.11 tcp/22 any",
		"bastion-1 203.0.113.11 tcp/9443 192.0.2.0/24",
	}},
	{"priority, deny wins at equal priority, disabled rule, egress rule ignored", []string{"app-1"}, []string{
		// 8080: allow and deny at 1000, deny wins; 9000: allow 500 before
		// deny 1000; 9100: deny 500 before allow 1000; 3389: disabled;
		// egress-all: not ingress.
		"app-1 203.0.113.12 tcp/10250 203.0.113.0/24",
		"app-1 203.0.113.12 tcp/9000 any",
		"app-1 203.0.113.12 tcp/9443 192.0.2.0/24",
	}},
	{"goto_next skips the organization's deny", []string{"cache-1"}, []string{
		"cache-1 203.0.113.16 tcp/10250 203.0.113.0/24",
		"cache-1 203.0.113.16 tcp/6379 any",
		"cache-1 203.0.113.16 tcp/9443 192.0.2.0/24",
	}},
	{"hierarchical deny overrides a VPC allow", []string{"win-1"}, []string{
		"win-1 203.0.113.15 tcp/10250 203.0.113.0/24",
		"win-1 203.0.113.15 tcp/9443 192.0.2.0/24",
	}},
	{"source tags resolve to internal addresses only", []string{"db-1"}, []string{
		"db-1 203.0.113.17 tcp/10250 203.0.113.0/24",
		"db-1 203.0.113.17 tcp/9443 192.0.2.0/24",
	}},
	{"port lists and ranges, udp", []string{"ranges-1"}, []string{
		"ranges-1 203.0.113.14 tcp/10250 203.0.113.0/24",
		"ranges-1 203.0.113.14 tcp/2222 198.51.100.0/24",
		"ranges-1 203.0.113.14 tcp/8000-8010 198.51.100.0/24",
		"ranges-1 203.0.113.14 tcp/9443 192.0.2.0/24",
		"ranges-1 203.0.113.14 udp/53 198.51.100.0/24",
	}},
	{"IPv6 external address and an IPv6-only rule; a destination range selecting one instance", []string{"v6-1"}, []string{
		"v6-1 2001:db8:1::10 tcp/443 any",
		"v6-1 203.0.113.13 tcp/8443 any", // allow-8443-to-one: destinationRanges 10.0.0.14/32
		"v6-1 203.0.113.13 tcp/10250 203.0.113.0/24",
		"v6-1 203.0.113.13 tcp/9443 192.0.2.0/24",
	}},
	{"all protocols in another network, network policy before VPC rules, org and folder denies", []string{"other-1"}, []string{
		// tcp/22: global network policy deny (BEFORE_CLASSIC_FIREWALL);
		// 3389, 11211: org deny; 6379 delegated by goto_next; 9200: folder
		// deny; prod-vpc's rules (allow-web for tag web) do not apply.
		"other-1 198.51.100.20 all/0-65535 any",
		"other-1 198.51.100.20 icmp/0-65535 any",
		"other-1 198.51.100.20 tcp/0-21 any",
		"other-1 198.51.100.20 tcp/11212-65535 any",
		"other-1 198.51.100.20 tcp/23-3388 any",
		"other-1 198.51.100.20 tcp/3390-9199 any",
		"other-1 198.51.100.20 tcp/9201-9443 any",
		"other-1 198.51.100.20 tcp/9444 any",
		"other-1 198.51.100.20 tcp/9445-11210 any",
		"other-1 198.51.100.20 udp/0-65535 any",
	}},
	{"passthrough forwarding rule keeps the port; the backends' rules decide", []string{"web-nlb"}, []string{
		// 8443 is forwarded but no backend admits it.
		"web-nlb 203.0.113.50 tcp/443 any -> web-1:443",
		"web-nlb 203.0.113.50 tcp/443 any -> web-2:443",
	}},
	{"passthrough backend service, allPorts, zonal GCE_VM_IP endpoint group", []string{"app-nlb"}, []string{
		"app-nlb 203.0.113.51 tcp/10250 203.0.113.0/24 -> app-1:10250",
		"app-nlb 203.0.113.51 tcp/9000 any -> app-1:9000",
		"app-nlb 203.0.113.51 tcp/9443 192.0.2.0/24 -> app-1:9443",
	}},
	{"proxy load balancer, IPv4 and IPv6, backend on the named port", []string{"web-https", "web-https-v6"}, []string{
		"web-https 198.51.100.60 tcp/443 any -> web-2:8080",
		"web-https-v6 2001:db8:2::60 tcp/443 any -> web-2:8080",
	}},
	{"second project complete despite a forbidden API", []string{"dev-1"}, []string{
		"dev-1 192.0.2.40 tcp/22 any",
	}},
	{"no external address, stopped instance, internal load balancer: not targets", []string{"web-2", "stopped-1", "internal-ilb"}, nil},
}

func TestPathSituations(t *testing.T) {
	snap, _, _ := collectEstate(t)
	inv := normalizeSnapshot(t, snap)
	res := exposure.Analyze(inv)
	for _, e := range res.Errors {
		t.Errorf("analyze error: %v", e)
	}
	owned := map[string]bool{}
	for _, s := range situations {
		for _, n := range s.targets {
			owned[n] = true
		}
		t.Run(s.name, func(t *testing.T) {
			var got []string
			for _, e := range res.Effective {
				if slices.Contains(s.targets, e.Target.Name) {
					got = append(got, line(e))
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(s.want))
			if !slices.Equal(got, want) {
				t.Errorf("exposures differ:\n%s", diffLines(want, got))
			}
		})
	}
	for _, e := range res.Effective {
		if !owned[e.Target.Name] {
			t.Errorf("unexpected exposure %s", line(e))
		}
	}
	for _, tg := range inv.Targets {
		if tg.Name == "web-2" || tg.Name == "stopped-1" || tg.Name == "internal-ilb" {
			t.Errorf("%s is a target", tg.Name)
		}
	}

	t.Run("latent", func(t *testing.T) {
		got := lines(res.Latent)
		for _, want := range []string{
			"projects/acme-prod/global/firewalls/allow-legacy-ftp tcp/21 any",                   // tag no instance has
			"projects/acme-prod/global/firewalls/allow-rdp tcp/3389 any",                        // closed by the org deny
			"projects/acme-prod/global/firewalls/allow-app-8080 tcp/8080 any",                   // loses to the deny at equal priority
			"projects/acme-prod/global/firewalls/allow-app-9100 tcp/9100 any",                   // shadowed by a higher-priority deny
			"projects/acme-prod/global/firewallPolicies/unattached-policy/rules/100 tcp/23 any", // policy on no network
		} {
			if !slices.Contains(got, want) {
				t.Errorf("missing latent %s", want)
			}
		}
		for _, l := range got {
			for _, never := range []string{"/allow-web ", "/allow-bastion-ssh ", "/allow-app-rdp-disabled ", "/egress-all ",
				"/allow-internal ", "/allow-from-web-tag ", "/allow-redis ", "/dev-allow-ssh ", "/rules/400 "} {
				if strings.Contains(l, never) {
					t.Errorf("unexpected latent %s", l)
				}
			}
		}
	})

	t.Run("layers shared between interfaces with the same rules", func(t *testing.T) {
		// web-1's hop is also web-nlb's backend hop for web-1: one set of
		// layer pointers.
		var direct, backend []*exposure.Layer
		for _, tg := range inv.Targets {
			switch tg.Name {
			case "web-1":
				direct = tg.Path[0].Layers
			case "web-nlb":
				for _, f := range tg.Forwards {
					if f.BackendName == "web-1" {
						backend = f.BackendPath[0].Layers
					}
				}
			}
		}
		if len(direct) == 0 || !slices.Equal(direct, backend) {
			t.Errorf("web-1 layers %p, web-nlb backend layers %p", direct, backend)
		}
		for _, l := range direct {
			if l.Mode != exposure.Ordered || l.Default != exposure.Deny || l.Kind == "" {
				t.Errorf("layer %s: mode %v default %v kind %q", l.ID, l.Mode, l.Default, l.Kind)
			}
		}
	})
}
