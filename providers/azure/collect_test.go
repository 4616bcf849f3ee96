package azure

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

const (
	subA = "11111111-1111-1111-1111-111111111111"
	subB = "22222222-2222-2222-2222-222222222222"
	subC = "33333333-3333-3333-3333-333333333333"
)

// quiet discards the collector's warnings about the failures tests provoke.
var quiet = slog.New(slog.DiscardHandler)

// recordingProgress counts progress units.
type recordingProgress struct {
	mu    sync.Mutex
	added int
	done  []string
}

func (p *recordingProgress) Add(n int) { p.mu.Lock(); p.added += n; p.mu.Unlock() }
func (p *recordingProgress) Done(what string) {
	p.mu.Lock()
	p.done = append(p.done, what)
	p.mu.Unlock()
}

// collectEstate runs the real collector against the ARM test server
// serving testdata/estate, with subscription B's NIC list refused.
func collectEstate(t *testing.T, subs []string) (*providers.Snapshot, *armServer, *recordingProgress) {
	t.Helper()
	srv := newARMServer(t, "testdata/estate")
	srv.deny[subB+"/networkinterfaces"] = true
	srv.disabled = []string{"44444444-4444-4444-4444-444444444444"}
	c, err := NewCollector(context.Background(), Config{Endpoint: srv.URL, Subscriptions: subs, Concurrency: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	snap := providers.NewSnapshot()
	prog := &recordingProgress{}
	if err := c.Collect(context.Background(), snap, prog); err != nil {
		t.Fatalf("collect: %v", err)
	}
	return snap, srv, prog
}

func TestCollectPagesAndPartialFailure(t *testing.T) {
	snap, _, prog := collectEstate(t, nil)

	// Only subscription B's NIC list failed, and it is named precisely.
	errs := snap.Errors()
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want exactly subscription B's networkInterfaces", errs)
	}
	e := errs[0]
	if e.Provider != "azure" || e.Account != subB || e.Resource != "networkInterfaces" || e.Stage != "collect" ||
		!strings.Contains(e.Message, "AuthorizationFailed") || !strings.Contains(e.Message, "403") {
		t.Errorf("error = %+v", e)
	}
	// The disabled subscription is skipped; one progress unit each.
	if prog.added != 3 || len(prog.done) != 3 {
		t.Errorf("progress added %d, done %v; want 3 subscriptions", prog.added, prog.done)
	}
	names := snap.Names()
	if slices.Contains(names, "azure/"+subB+"/"+fileNICs) {
		t.Errorf("subscription B's refused NIC list was written")
	}
	for _, want := range []string{"azure/" + subB + "/" + fileNSGs, "azure/" + subC + "/" + fileNICs} {
		if !slices.Contains(names, want) {
			t.Errorf("missing %s; have %v", want, names)
		}
	}

	// Every collected file holds exactly the items of the fixture, all
	// pages merged (the server answers two items per page).
	got := snap.FS()
	err := fs.WalkDir(os.DirFS("testdata/estate"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(p, subB+"/"+fileNICs) {
			return nil
		}
		want, _ := os.ReadFile(path.Join("testdata/estate", p))
		have, err := fs.ReadFile(got, "azure/"+p)
		if err != nil {
			t.Errorf("%s not collected: %v", p, err)
			return nil
		}
		if !jsonEqual(t, want, have) {
			t.Errorf("%s: collected JSON differs from the API's", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return reflect.DeepEqual(x, y)
}

// TestPermissions checks Permissions against the requests the collector
// sends: every request needs a listed action and every action is used.
func TestPermissions(t *testing.T) {
	_, srv, _ := collectEstate(t, nil)
	used := map[string]bool{}
	for _, p := range srv.paths() {
		a := rbacAction(p)
		if a == "" {
			t.Errorf("request %s maps to no RBAC action", p)
			continue
		}
		used[strings.ToLower(a)] = true
	}
	listed := map[string]bool{}
	for _, p := range Permissions {
		listed[strings.ToLower(p)] = true
		if !used[strings.ToLower(p)] {
			t.Errorf("permission %s is listed but never used", p)
		}
	}
	for a := range used {
		if !listed[a] {
			t.Errorf("request needs %s, which Permissions lacks", a)
		}
	}
}

// rbacAction maps an ARM request path to the RBAC action it needs
// (https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations#microsoftnetwork).
func rbacAction(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "subscriptions":
		return "Microsoft.Resources/subscriptions/read"
	case len(parts) == 5 && parts[3] == "Microsoft.Network":
		return "Microsoft.Network/" + parts[4] + "/read"
	case len(parts) == 5 && parts[3] == "Microsoft.Compute":
		return "Microsoft.Compute/" + parts[4] + "/read"
	case len(parts) == 9 && strings.EqualFold(parts[5], "Microsoft.Compute"):
		return "Microsoft.Compute/virtualMachineScaleSets/" + parts[8] + "/read"
	case len(parts) == 7 && parts[4] == "locations":
		return "Microsoft.Network/locations/" + parts[6] + "/read"
	case len(parts) == 9 && parts[6] == "firewallPolicies":
		return "Microsoft.Network/firewallPolicies/" + parts[8] + "/read"
	}
	return ""
}

// describe names a source set: the public internet of one or both
// families, or its prefixes.
func describe(s *netipx.IPSet) string {
	v4 := exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("0.0.0.0/0")))
	v6 := exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("::/0")))
	switch {
	case setsEqual(s, exposure.PublicInternet()):
		return "internet"
	case setsEqual(s, v4):
		return "internet4"
	case setsEqual(s, v6):
		return "internet6"
	}
	return strings.Join(exposure.Addrs(s), ",")
}

func setsEqual(a, b *netipx.IPSet) bool {
	return reflect.DeepEqual(a.Prefixes(), b.Prefixes())
}

// render is one line per exposure: target, endpoint, protocol, ports,
// sources and the backend of a translation.
func render(es []*exposure.Exposure) []string {
	var out []string
	for _, e := range es {
		s := e.Target.Name
		if e.Level == exposure.Effective {
			s += " " + e.Endpoint.String()
		}
		s += " " + e.Protocol.String() + " " + e.Ports.String() + " from " + describe(e.Sources)
		if e.Backend != nil {
			s += " -> " + e.Backend.Name + " " + e.Backend.Protocol.String() + " " + e.Backend.Ports.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// wantEffective is what the test estate exposes, worked out by hand from
// the fixtures (see testdata/estate and the situations named below). Every
// protocol is reported as "all" plus TCP, UDP and ICMP, as Analyze does.
var wantEffective = []string{
	// Azure Firewall DNAT: the firewall SNATs to its subnet, which the
	// backend's AllowVnetInBound admits (the VNets are peered).
	"fw-hub (pip-fw-hub) 203.0.113.90 tcp 3389 from internet4 -> vm-asg-db tcp 3389",
	"fw-hub (pip-fw-hub) 203.0.113.90 tcp 8080 from 198.51.100.0/24 -> vm-asg-cache tcp 80",
	// Application gateway: a proxy (the backends see its subnet, which
	// AllowVnetInBound admits); the redirect-only HTTP listener is open on
	// its own.
	"appgw-web/fe-public 203.0.113.95 tcp 443 from internet4 -> vm-lb-a tcp 8443",
	"appgw-web/fe-public 203.0.113.95 tcp 443 from internet4 -> vm-lb-b tcp 8443",
	"appgw-web/fe-public 203.0.113.95 tcp 80 from internet4",
	// DNAT from an IP group.
	"fw-hub (pip-fw-hub) 203.0.113.90 tcp 2222 from 198.51.100.64/26 -> vm-asg-db tcp 22",
	// LB rule 443→8443 to two backends with different NIC NSGs, inbound
	// NAT 50022→22 (v1) and a NAT rule v2 port range over the pool.
	"lb-web/fe-web 203.0.113.80 tcp 443 from 198.51.100.0/24 -> vm-lb-b tcp 8443",
	"lb-web/fe-web 203.0.113.80 tcp 443 from internet4 -> vm-lb-a tcp 8443",
	"lb-web/fe-web 203.0.113.80 tcp 50022 from 203.0.113.0/24 -> vm-lb-a tcp 22",
	"lb-web/fe-web 203.0.113.80 tcp 50100-50199 from 203.0.113.0/24 -> vm-lb-a tcp 22",
	// Floating IP: the NSG sees the frontend address, so the rule for the
	// backend's private address (1433) does not apply and 1434 does; the
	// backend is an IP-based pool member resolved to its NIC.
	"lb-dsr/fe-dsr 203.0.113.82 tcp 1434 from internet4 -> vm-lb-a tcp 1434",
	"lb-dsr/fe-dsr 203.0.113.82 udp 9000 from internet4 -> vm-lb-a udp 9000",
	// A Uniform scale set: NICs and instance public IPs listed under the
	// scale set, NAT rules derived from a NAT pool.
	"lb-vmss/fe-vmss 203.0.113.84 tcp 50000 from 198.51.100.0/24 -> vmss-api_0 tcp 22",
	"lb-vmss/fe-vmss 203.0.113.84 tcp 50001 from 198.51.100.0/24 -> vmss-api_1 tcp 22",
	"lb-vmss/fe-vmss 203.0.113.84 tcp 80 from internet4 -> vmss-api_0 tcp 8080",
	"lb-vmss/fe-vmss 203.0.113.84 tcp 80 from internet4 -> vmss-api_1 tcp 8080",
	"vmss-api_1 (vmss-api-nic/ipconfig1) 203.0.113.86 tcp 22 from 198.51.100.0/24",
	"vmss-api_1 (vmss-api-nic/ipconfig1) 203.0.113.86 tcp 8080 from internet4",
	// `*` protocol from Internet on the NIC NSG.
	"vm-any (nic-vm-any/ipconfig1) 203.0.113.70 all 0-65535 from internet4",
	"vm-any (nic-vm-any/ipconfig1) 203.0.113.70 icmp 0-65535 from internet4",
	"vm-any (nic-vm-any/ipconfig1) 203.0.113.70 tcp 0-65535 from internet4",
	"vm-any (nic-vm-any/ipconfig1) 203.0.113.70 udp 0-65535 from internet4",
	// Destination ASGs and destination prefixes select per NIC; a public
	// IP as destination never matches (rules see the private address).
	"vm-asg-cache (nic-vm-asg-cache/ipconfig1) 203.0.113.31 tcp 6379 from internet4",
	"vm-asg-db (nic-vm-asg-db/ipconfig1) 203.0.113.30 tcp 1433 from internet4",
	"vm-asg-db (nic-vm-asg-db/ipconfig1) 203.0.113.30 tcp 5432 from internet4",
	// Basic SKU public IP without any NSG: open.
	"vm-basic (nic-vm-basic/ipconfig1) 203.0.113.40 all 0-65535 from internet4",
	"vm-basic (nic-vm-basic/ipconfig1) 203.0.113.40 icmp 0-65535 from internet4",
	"vm-basic (nic-vm-basic/ipconfig1) 203.0.113.40 tcp 0-65535 from internet4",
	"vm-basic (nic-vm-basic/ipconfig1) 203.0.113.40 udp 0-65535 from internet4",
	// Subscription C completes although B failed.
	"vm-c (nic-vm-c/ipconfig1) 198.51.100.7 tcp 22 from internet4",
	// Priorities, service tags (resolved, unresolved, VirtualNetwork), a
	// deny limited to source ports, ESP and ICMP.
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 esp 0-65535 from internet4",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 icmp 0-65535 from internet4",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 tcp 22 from 198.51.100.0/24",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 tcp 7000 from internet4",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 tcp 7001 from internet4",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 tcp 8080 from internet4",
	"vm-prio (nic-vm-prio/ipconfig1) 203.0.113.20 tcp 9443 from 192.0.2.128/25",
	// A 0.0.0.0/0 user-defined route widens VirtualNetwork: the default
	// AllowVnetInBound admits the IPv4 internet.
	"vm-udr (nic-vm-udr/ipconfig1) 203.0.113.60 all 0-65535 from internet4",
	"vm-udr (nic-vm-udr/ipconfig1) 203.0.113.60 icmp 0-65535 from internet4",
	"vm-udr (nic-vm-udr/ipconfig1) 203.0.113.60 tcp 0-65535 from internet4",
	"vm-udr (nic-vm-udr/ipconfig1) 203.0.113.60 udp 0-65535 from internet4",
	// Subnet deny over NIC allow (22), NIC deny over subnet allow (3389),
	// port range lists, IPv4 and IPv6 through the same NSGs.
	"vm-web (nic-vm-web/ipconfig-v6) 2001:db8::10 tcp 3390 from internet6",
	"vm-web (nic-vm-web/ipconfig-v6) 2001:db8::10 tcp 443 from internet6",
	"vm-web (nic-vm-web/ipconfig-v6) 2001:db8::10 tcp 80 from internet6",
	"vm-web (nic-vm-web/ipconfig-v6) 2001:db8::10 tcp 8000-8100 from internet6",
	"vm-web (nic-vm-web/ipconfig1) 203.0.113.10 tcp 3390 from internet4",
	"vm-web (nic-vm-web/ipconfig1) 203.0.113.10 tcp 443 from internet4",
	"vm-web (nic-vm-web/ipconfig1) 203.0.113.10 tcp 80 from internet4",
	"vm-web (nic-vm-web/ipconfig1) 203.0.113.10 tcp 8000-8100 from internet4",
	// Not exposed: vm-standard (Standard SKU, no NSG), vm-default (default
	// rules only), vm-stopped (no address), lb-empty (no rule), the NAT
	// gateway (outbound only), vm-lb-b's SSH (its NSG does not allow 22).
}

func TestCollectNormalizeAnalyze(t *testing.T) {
	snap, _, _ := collectEstate(t, nil)
	sub, err := fs.Sub(snap.FS(), "azure")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Normalize(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		// subB's NICs were denied (collectEstate): the missing file is
		// reported, not read as "no interfaces".
		if e.Account == subB && e.Resource == "azure/"+subB+"/"+fileNICs && strings.Contains(e.Message, "required file not in snapshot") {
			continue
		}
		t.Errorf("unexpected normalize error: %v", e)
	}
	res := exposure.Analyze(inv)
	got := render(res.Effective)
	wantEffective := slices.Sorted(slices.Values(wantEffective))
	if !slices.Equal(got, wantEffective) {
		t.Errorf("effective exposures:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(wantEffective, "\n  "))
	}
	latent := render(res.Latent)
	for _, want := range []string{
		// An unattached NSG's rule.
		"nsg-orphan tcp 22 from internet",
		// Subscription B's NSG: its NIC could not be collected.
		"nsg-b tcp 3389 from internet",
		// The subnet NSG admits 3389 but the NIC NSG denies it, and the
		// NIC NSG admits 22 but the subnet NSG denies it.
		"nsg-web-subnet tcp 3389 from internet",
		"nsg-web-nic tcp 22 from internet",
	} {
		if !slices.Contains(latent, want) {
			t.Errorf("latent exposure %q missing; have:\n  %s", want, strings.Join(latent, "\n  "))
		}
	}
	// The subnet NSG denies 22 before a later allow of 22: NSG rules are
	// judged one by one (CIS Azure 6.2; exposure.Layer.LatentByRule), so
	// the shadowed allow is latent: deleting the deny would open SSH.
	if !slices.Contains(latent, "nsg-web-subnet tcp 22 from internet") {
		t.Errorf("the shadowed allow of 22 in nsg-web-subnet is not latent; have:\n  %s", strings.Join(latent, "\n  "))
	}

	// The snapshot on disk normalizes to the same inventory as the live
	// run, apart from subscription B's NICs that the live run lacked.
	fromDisk, err := Normalize(os.DirFS("testdata/estate"))
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(wantEffective), "vm-b (nic-vm-b/ipconfig1) 198.51.100.20 tcp 3389 from internet4")
	sort.Strings(want)
	if got := render(exposure.Analyze(fromDisk).Effective); !slices.Equal(got, want) {
		t.Errorf("snapshot on disk:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestLayersShared checks that identical NSG selections share one layer and
// that every NSG appears whole in Inventory.Layers.
func TestLayersShared(t *testing.T) {
	inv, err := Normalize(os.DirFS("testdata/estate"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*exposure.Target{}
	for _, tg := range inv.Targets {
		byName[tg.Name] = tg
	}
	v4, v6 := byName["vm-web (nic-vm-web/ipconfig1)"], byName["vm-web (nic-vm-web/ipconfig-v6)"]
	if v4 == nil || v6 == nil {
		t.Fatal("vm-web targets missing")
	}
	if len(v4.Path) != 2 || v4.Path[0].Layers[0] != v6.Path[0].Layers[0] || v4.Path[1].Layers[0] != v6.Path[1].Layers[0] {
		t.Errorf("vm-web's IPv4 and IPv6 configurations should share the subnet and NIC NSG layers")
	}
	db, cache := byName["vm-asg-db (nic-vm-asg-db/ipconfig1)"], byName["vm-asg-cache (nic-vm-asg-cache/ipconfig1)"]
	if db.Path[0].Layers[0] == cache.Path[0].Layers[0] {
		t.Errorf("ASG destinations select different rules: the layers must differ")
	}
	if db.Path[0].Layers[0].ID != cache.Path[0].Layers[0].ID {
		t.Errorf("variants of one NSG must share its ID")
	}
	whole := map[string]*exposure.Layer{}
	for _, l := range inv.Layers {
		if l.Kind == exposure.LayerNSG {
			whole[l.Name] = l
		}
	}
	if len(whole) != 14 {
		t.Errorf("got %d whole NSG layers, want 14", len(whole))
	}
	if o := whole["nsg-orphan"]; o == nil || o.Attached || !o.Latent {
		t.Errorf("nsg-orphan: %+v, want unattached and latent", o)
	}
	if w := whole["nsg-web-subnet"]; w == nil || !w.Attached || w.Mode != exposure.Ordered || w.Default != exposure.Deny {
		t.Errorf("nsg-web-subnet: %+v", w)
	}
	// Default rules added to an NSG whose snapshot lacks them.
	d := whole["nsg-default-only"]
	var ids []string
	for _, r := range d.Rules {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound"}) {
		t.Errorf("nsg-default-only rules = %v", ids)
	}
}

// TestCollectNothingCollected: when every call fails (bad credentials, no
// access at all) Collect says so instead of returning a snapshot of errors.
func TestCollectNothingCollected(t *testing.T) {
	srv := newARMServer(t, "testdata/estate")
	for coll := range armFiles {
		srv.deny[subB+"/"+coll] = true
	}
	srv.deny[subB+"/virtualmachinescalesets"] = true
	c, err := NewCollector(context.Background(), Config{Endpoint: srv.URL, Subscriptions: []string{subB}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	snap := providers.NewSnapshot()
	err = c.Collect(context.Background(), snap, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing could be collected") || !strings.Contains(err.Error(), "AuthorizationFailed") {
		t.Errorf("Collect = %v, want a nothing-collected error naming AuthorizationFailed", err)
	}
	if n := len(snap.Errors()); n != len(armFiles)+1 {
		t.Errorf("%d snapshot errors, want one per API (%d)", n, len(armFiles)+1)
	}
}
