package gcp

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

const (
	tNet  = "https://www.googleapis.com/compute/v1/projects/p/global/networks/n"
	tInst = `{"name":"vm","zone":"https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b","status":"RUNNING",
	"selfLink":"https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b/instances/vm",
	"networkInterfaces":[{"name":"nic0","network":"` + tNet + `","networkIP":"10.0.0.2","accessConfigs":[{"type":"ONE_TO_ONE_NAT","natIP":"203.0.113.5"}]}]}`
	goodRule = `{"name":"good","network":"` + tNet + `","direction":"INGRESS","priority":1000,"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp","ports":["22"]}]}`
)

// smallEstate is project p with network n, instance vm (203.0.113.5) and
// the given files.
func smallEstate(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{
		"p/networks.json":                        {Data: []byte(`[{"name":"n","selfLink":"` + tNet + `"}]`)},
		"p/instances.json":                       {Data: []byte("[" + tInst + "]")},
		"p/" + FileFirewallRules:                 {Data: []byte("[]")},
		"p/" + FileNetworkFirewallPolicies:       {Data: []byte("[]")},
		"p/" + FileForwardingRules:               {Data: []byte("[]")},
		"p/" + DirEffectiveFirewalls + "/n.json": {Data: []byte("{}")},
	}
	for k, v := range files {
		m["p/"+k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func rule(name, body string) string {
	return `{"name":"` + name + `","network":"` + tNet + `","direction":"INGRESS",` + body + `}`
}

func TestNormalizeBadInput(t *testing.T) {
	tests := []struct {
		name         string
		files        map[string]string
		wantResource string
		wantMessage  string
		// wantExposed is an exposure that must survive the bad input.
		wantExposed string
	}{
		{"malformed JSON", map[string]string{FileFirewallRules: "[\n" + goodRule + ",\n{\"name\": \"x\",,}]"},
			"p/firewall-rules.json", "line 3 column", ""},
		{"not an array", map[string]string{FileFirewallRules: `{"items":[` + goodRule + `]}`},
			"p/firewall-rules.json", "want a JSON array", ""},
		{"wrong field type", map[string]string{FileFirewallRules: "[" + goodRule + `,{"name":"typo","priority":"high"}]`},
			"p/firewall-rules.json[1] typo", "cannot unmarshal string", ""},
		{"bad CIDR", map[string]string{FileFirewallRules: "[" + rule("bad-cidr", `"sourceRanges":["10.0.0/8"],"allowed":[{"IPProtocol":"tcp"}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] bad-cidr", `sourceRanges: invalid CIDR "10.0.0/8"`, "vm 203.0.113.5 tcp/22 any"},
		{"bad port", map[string]string{FileFirewallRules: "[" + rule("bad-port", `"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp","ports":["80","22-x"]}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] bad-port", `allowed: entry 0 (tcp): invalid port range "22-x"`, "vm 203.0.113.5 tcp/22 any"},
		{"port out of range", map[string]string{FileFirewallRules: "[" + rule("big-port", `"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"udp","ports":["70000"]}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] big-port", "out of range 0-65535", "vm 203.0.113.5 tcp/22 any"},
		{"unknown protocol", map[string]string{FileFirewallRules: "[" + rule("bad-proto", `"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcpx"}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] bad-proto", `allowed: entry 0: unknown protocol "tcpx"`, "vm 203.0.113.5 tcp/22 any"},
		{"ports on icmp", map[string]string{FileFirewallRules: "[" + rule("icmp-ports", `"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"icmp","ports":["8"]}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] icmp-ports", "only tcp, udp and sctp have ports", "vm 203.0.113.5 tcp/22 any"},
		{"priority out of range", map[string]string{FileFirewallRules: "[" + rule("prio", `"priority":70000,"sourceRanges":["0.0.0.0/0"],"denied":[{"IPProtocol":"all"}]`) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] prio", "priority: 70000 out of range", ""},
		{"unknown direction", map[string]string{FileFirewallRules: "[" + strings.Replace(rule("dir", `"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"all"}]`), `"INGRESS"`, `"INBOUND"`, 1) + "," + goodRule + "]"},
			"p/firewall-rules.json[0] dir", `direction: unknown value "INBOUND"`, "vm 203.0.113.5 tcp/22 any"},
		{"bad natIP", map[string]string{FileFirewallRules: "[" + goodRule + "]",
			FileInstances: "[" + strings.Replace(tInst, "203.0.113.5", "203.0.113.300", 1) + "," + strings.NewReplacer(`"vm"`, `"vm2"`, "instances/vm", "instances/vm2", "203.0.113.5", "203.0.113.6").Replace(tInst) + "]"},
			"p/instances.json[0] vm networkInterfaces[0].accessConfigs[0].natIP", `invalid IP address "203.0.113.300"`, "vm2 203.0.113.6 tcp/22 any"},
		{"bad forwarding rule ports", map[string]string{FileFirewallRules: "[" + goodRule + "]",
			FileForwardingRules: `[{"name":"fr","IPAddress":"198.51.100.1","IPProtocol":"TCP","portRange":"90-80","loadBalancingScheme":"EXTERNAL","target":"projects/p/regions/r/targetPools/x"}]`},
			"p/forwarding-rules.json[0] fr", "portRange: port range 90-80 is reversed", "vm 203.0.113.5 tcp/22 any"},
		{"unknown policy action", map[string]string{FileFirewallRules: "[" + goodRule + "]",
			FileNetworkFirewallPolicies: `[{"name":"pol","selfLink":"projects/p/global/firewallPolicies/pol","associations":[{"attachmentTarget":"` + tNet + `"}],
			"rules":[{"priority":10,"action":"reject","direction":"INGRESS","match":{"srcIpRanges":["0.0.0.0/0"],"layer4Configs":[{"ipProtocol":"tcp","ports":["22"]}]}}]}]`},
			"p/network-firewall-policies.json[0] pol rules[0] priority 10", `action: unknown value "reject"`, ""},
		{"policy rule with a bad source", map[string]string{FileFirewallRules: "[" + goodRule + "]",
			FileNetworkFirewallPolicies: `[{"name":"pol","associations":[{"attachmentTarget":"` + tNet + `"}],
			"rules":[{"priority":10,"action":"allow","direction":"INGRESS","match":{"srcIpRanges":["::/0x"],"layer4Configs":[{"ipProtocol":"udp"}]}}]}]`},
			"p/network-firewall-policies.json[0] pol rules[0] priority 10", `match.srcIpRanges: invalid CIDR "::/0x"`, "vm 203.0.113.5 tcp/22 any"},
		{"effective firewalls not an object", map[string]string{FileFirewallRules: "[" + goodRule + "]", DirEffectiveFirewalls + "/n.json": `[1,2]`},
			"p/effective-firewalls/n.json", "decode effective firewalls", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Normalize(smallEstate(tc.files))
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			var found bool
			for _, e := range inv.Errors {
				if e.Resource == tc.wantResource && strings.Contains(e.Message, tc.wantMessage) {
					found = true
				}
				if e.Provider != Provider || e.Account != "p" || e.Stage != "normalize" {
					t.Errorf("error scope %+v", e)
				}
			}
			if !found {
				b, _ := json.MarshalIndent(inv.Errors, "", "  ")
				t.Fatalf("no error on %q containing %q; errors: %s", tc.wantResource, tc.wantMessage, b)
			}
			if tc.wantExposed != "" {
				got := lines(exposure.Analyze(inv).Effective)
				if !slices.Contains(got, tc.wantExposed) {
					t.Errorf("exposures %q lack %q", got, tc.wantExposed)
				}
			}
		})
	}
}

func TestNormalizeEmptyAndMissing(t *testing.T) {
	inv, err := Normalize(fstest.MapFS{})
	if err != nil || len(inv.Targets) != 0 || len(inv.Errors) != 0 {
		t.Fatalf("empty snapshot: %v %+v", err, inv)
	}
	// A network of a Shared VPC host project that was not collected.
	inv, err = Normalize(fstest.MapFS{"svc/instances.json": {Data: []byte("[" + tInst + "]")}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range inv.Errors {
		msgs = append(msgs, e.Resource+": "+e.Message)
	}
	slices.Sort(msgs)
	want := []string{
		"projects/p/global/networks/n: network of instance vm is not in the snapshot (Shared VPC host project not collected?): its firewall rules are unknown and nothing is inferred through them",
		"svc/firewall-rules.json: required file not in snapshot: what it holds is unknown and nothing is inferred through it",
		"svc/forwarding-rules.json: required file not in snapshot: what it holds is unknown and nothing is inferred through it",
		"svc/network-firewall-policies.json: required file not in snapshot: what it holds is unknown and nothing is inferred through it",
		"svc/networks.json: required file not in snapshot: what it holds is unknown and nothing is inferred through it",
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("errors\n got  %q\n want %q", msgs, want)
	}
	// The uncollected network's firewall is unknown: neither open nor
	// closed, and the analysis says the target was not analysed.
	if len(inv.Targets) != 1 || len(inv.Targets[0].Path) != 1 || len(inv.Targets[0].Path[0].Layers) != 1 || inv.Targets[0].Path[0].Layers[0].Unknown == "" {
		t.Fatalf("target of an uncollected network should have an unknown hop: %+v", inv.Targets)
	}
	res := exposure.Analyze(inv)
	if len(res.Effective) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "not analysed") {
		t.Errorf("effective %d, analysis errors %v", len(res.Effective), res.Errors)
	}
}

// TestConservativeSources checks the documented treatment of sources that
// cannot be resolved offline.
func TestConservativeSources(t *testing.T) {
	pol := `[{"name":"pol","associations":[{"attachmentTarget":"` + tNet + `"}],"rules":[
	 {"priority":10,"action":"deny","direction":"INGRESS","match":{"srcRegionCodes":["XX"],"layer4Configs":[{"ipProtocol":"tcp","ports":["22"]}]}},
	 {"priority":20,"action":"allow","direction":"INGRESS","match":{"srcFqdns":["example.com"],"layer4Configs":[{"ipProtocol":"tcp","ports":["443"]}]}},
	 {"priority":30,"action":"allow","direction":"INGRESS","match":{"srcIpRanges":["0.0.0.0/0"],"srcNetworkType":"NON_INTERNET","layer4Configs":[{"ipProtocol":"tcp","ports":["8080"]}]}},
	 {"priority":40,"action":"allow","direction":"INGRESS","targetSecureTags":[{"name":"tagValues/1"}],"match":{"srcNetworkType":"INTERNET","layer4Configs":[{"ipProtocol":"udp","ports":["500"]}]}},
	 {"priority":50,"action":"deny","direction":"INGRESS","targetSecureTags":[{"name":"tagValues/1"}],"match":{"srcIpRanges":["0.0.0.0/0"],"layer4Configs":[{"ipProtocol":"all"}]}}]}]`
	inv, err := Normalize(smallEstate(map[string]string{FileFirewallRules: "[" + goodRule + "]", FileNetworkFirewallPolicies: pol}))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Fatalf("errors %+v", inv.Errors)
	}
	got := lines(exposure.Analyze(inv).Effective)
	want := []string{
		"vm 203.0.113.5 tcp/22 any",  // the geo deny is taken to match nothing
		"vm 203.0.113.5 tcp/443 any", // the FQDN allow is taken to match anything
		"vm 203.0.113.5 udp/500 any", // allow on a secure tag applies, the deny does not
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestIsLoopbackHTTP(t *testing.T) {
	for in, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "http://[::1]:9": true,
		"https://127.0.0.1": false, "http://10.0.0.1": false, "https://compute.googleapis.com": false, "::": false,
	} {
		if got := isLoopbackHTTP(in); got != want {
			t.Errorf("isLoopbackHTTP(%q) = %v", in, got)
		}
	}
}

// TestNetworksListMissing: when networks.list failed (its error is in the
// snapshot's errors.json), the firewall rules still apply to the network's
// instances.
func TestNetworksListMissing(t *testing.T) {
	fsys := smallEstate(map[string]string{FileFirewallRules: "[" + goodRule + "]"})
	delete(fsys, "p/networks.json")
	inv, err := Normalize(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 1 || inv.Errors[0].Resource != "p/networks.json" {
		t.Errorf("errors %+v, want one naming p/networks.json", inv.Errors)
	}
	if got := lines(exposure.Analyze(inv).Effective); !slices.Equal(got, []string{"vm 203.0.113.5 tcp/22 any"}) {
		t.Errorf("exposures %q", got)
	}
}
