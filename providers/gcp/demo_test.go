package gcp

import (
	"os"
	"slices"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestDemoEstate keeps the `make demo` estate (demo/estate/gcp) valid and
// its answers stable: two projects, three networks, exposed, latent and
// safe resources, a proxy load balancer, a passthrough one and Cloud NAT.
func TestDemoEstate(t *testing.T) {
	inv, err := Normalize(os.DirFS("../../demo/estate/gcp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		t.Errorf("normalize error: %v", e)
	}
	res := exposure.Analyze(inv)
	wantEffective := []string{
		"api-v6-1 2001:db8:10::5 tcp/443 any",                             // IPv6-only instance
		"bastion-1 203.0.113.21 tcp/22 any",                               // CIS GCP 3.6
		"db-1 203.0.113.23 tcp/22 35.235.240.0/20",                        // IAP only; 5432 closed by the folder policy
		"etl-1 192.0.2.50 tcp/22 198.51.100.0/24",                         // office only
		"game-udp 203.0.113.90 udp/27015-27020 any -> game-1:27015-27020", // passthrough NLB
		"legacy-ftp-1 192.0.2.31 tcp/20-21 any",
		"legacy-ftp-1 192.0.2.31 tcp/22 any",
		"legacy-ftp-1 192.0.2.31 tcp/50000-50100 any",
		"legacy-ftp-1 192.0.2.31 tcp/990 any",
		"legacy-ftp-1 192.0.2.31 udp/161 any",
		"mongo-1 192.0.2.51 tcp/22 198.51.100.0/24", // 27017 closed by the folder policy
		"monitoring-1 203.0.113.22 tcp/22 35.235.240.0/20",
		"monitoring-1 203.0.113.22 tcp/3000 198.51.100.0/24",
		"monitoring-1 203.0.113.22 tcp/9100 198.51.100.10/32", // global network policy, by service account
		"search-1 192.0.2.52 tcp/22 198.51.100.0/24",
		"search-1 192.0.2.52 tcp/9200-9300 any",
		"shop-http-redirect 203.0.113.80 tcp/80 any", // proxy without backend: open anyway
		"shop-https 203.0.113.80 tcp/443 any -> web-1:8080",
		"shop-https 203.0.113.80 tcp/443 any -> web-2:8080",
	}
	if got := lines(res.Effective); !slices.Equal(got, wantEffective) {
		t.Errorf("effective exposures differ:\n%s", diffLines(wantEffective, got))
	}
	// Latent: what a rule admits that no path delivers today.
	wantLatent := []string{
		"projects/shop-data/global/firewalls/data-allow-mongo tcp/27017 any", // closed by the folder policy
		"projects/shop-prod/global/firewalls/allow-health-checks tcp/8080 35.191.0.0/16,130.211.0.0/22",
		"projects/shop-prod/global/firewalls/allow-postgres-debug tcp/5432 any", // closed by the folder policy
		"projects/shop-prod/global/firewalls/allow-rdp-anywhere tcp/3389 any",   // no instance with an external address (CIS GCP 3.7)
		"projects/shop-prod/global/firewalls/legacy-allow-ssh tcp/22 any",       // the ::/0 half: the instance has no IPv6 address
	}
	if got := lines(res.Latent); !slices.Equal(got, wantLatent) {
		t.Errorf("latent exposures differ:\n%s", diffLines(wantLatent, got))
	}
	var nat bool
	for _, tg := range inv.Targets {
		if tg.Name == "batch-1" || tg.Name == "web-1" || tg.Name == "shop-nat-router" {
			t.Errorf("%s must not be a target", tg.Name)
		}
		nat = nat || tg.Kind == "nat"
	}
	if nat {
		t.Error("Cloud NAT must not be an inbound target")
	}
}
