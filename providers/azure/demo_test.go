package azure

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestDemoEstate checks the estate `make demo` audits: it normalizes
// without errors and exposes exactly what its story says.
func TestDemoEstate(t *testing.T) {
	inv, err := Normalize(os.DirFS("../../demo/estate/azure"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		t.Errorf("demo estate: %v", e)
	}
	res := exposure.Analyze(inv)
	want := []string{
		// Firewall DNAT to an API VM: partners only on 8443, but a debug
		// SSH rule open to everyone.
		"fw-hub (fw-hub-pip) 203.0.113.150 tcp 2222 from internet4 -> vm-app-01 tcp 22",
		"fw-hub (fw-hub-pip) 203.0.113.150 tcp 8443 from 198.51.100.0/24 -> vm-app-01 tcp 443",
		// The public load balancer: web rules to both backends, SSH NAT
		// rules limited by the NIC NSG, RDP NAT stopped by the subnet NSG.
		"lb-prod-web/fe-public 203.0.113.120 tcp 443 from internet4 -> vm-web-01 tcp 8443",
		"lb-prod-web/fe-public 203.0.113.120 tcp 443 from internet4 -> vm-web-02 tcp 8443",
		"lb-prod-web/fe-public 203.0.113.120 tcp 50022 from 203.0.113.0/24 -> vm-web-01 tcp 22",
		"lb-prod-web/fe-public 203.0.113.120 tcp 50023 from 203.0.113.0/24 -> vm-web-02 tcp 22",
		"lb-prod-web/fe-public 203.0.113.120 tcp 80 from internet4 -> vm-web-01 tcp 8080",
		"lb-prod-web/fe-public 203.0.113.120 tcp 80 from internet4 -> vm-web-02 tcp 8080",
		// A database VM given a public IP, in the ASG a subnet rule opens.
		"vm-db-01 (vm-db-01-nic/ipconfig1) 203.0.113.140 tcp 5432 from internet4",
		// Dual-stack DNS server.
		"vm-dns-01 (vm-dns-01-nic/ipconfig-v6) 2001:db8:100::30 icmpv6 0-65535 from internet6",
		"vm-dns-01 (vm-dns-01-nic/ipconfig-v6) 2001:db8:100::30 tcp 53 from internet6",
		"vm-dns-01 (vm-dns-01-nic/ipconfig-v6) 2001:db8:100::30 udp 53 from internet6",
		"vm-dns-01 (vm-dns-01-nic/ipconfig1) 198.51.100.30 icmp 0-65535 from internet4",
		"vm-dns-01 (vm-dns-01-nic/ipconfig1) 198.51.100.30 tcp 53 from internet4",
		"vm-dns-01 (vm-dns-01-nic/ipconfig1) 198.51.100.30 udp 53 from internet4",
		// Jump host with SSH and RDP open to the internet.
		"vm-jump-01 (vm-jump-01-nic/ipconfig1) 198.51.100.10 tcp 22 from internet4",
		"vm-jump-01 (vm-jump-01-nic/ipconfig1) 198.51.100.10 tcp 3389 from internet4",
		// Basic SKU public IP, no NSG anywhere: everything open.
		"vm-legacy-ftp (vm-legacy-ftp-nic/ipconfig1) 198.51.100.20 all 0-65535 from internet4",
		"vm-legacy-ftp (vm-legacy-ftp-nic/ipconfig1) 198.51.100.20 icmp 0-65535 from internet4",
		"vm-legacy-ftp (vm-legacy-ftp-nic/ipconfig1) 198.51.100.20 tcp 0-65535 from internet4",
		"vm-legacy-ftp (vm-legacy-ftp-nic/ipconfig1) 198.51.100.20 udp 0-65535 from internet4",
		// Safe: vm-app-02 (default rules on its NIC), vm-batch-01
		// (Standard SKU, no NSG), the NAT gateway.
	}
	if got := render(res.Effective); !slices.Equal(got, want) {
		t.Errorf("effective:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	latent := render(res.Latent)
	for _, w := range []string{
		"nsg-legacy-unused tcp 3389 from internet",
		"nsg-legacy-unused tcp 445 from internet",
		"nsg-snet-app tcp 6379 from internet",
		"nsg-web-nic tcp 3389 from internet",
	} {
		if !slices.Contains(latent, w) {
			t.Errorf("latent %q missing; have:\n  %s", w, strings.Join(latent, "\n  "))
		}
	}
}
