package rules

import (
	"slices"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

func TestAdjust(t *testing.T) {
	eff, lat, behind := ReachEffective, ReachLatent, ReachLatentBehind
	tests := []struct {
		base, floor Severity
		b           exposure.Breadth
		r           Reach
		probe       exposure.ProbeState
		want        Severity
	}{
		{High, Info, exposure.BreadthAnyone, eff, "", High},
		{High, Info, exposure.BreadthBroad, eff, "", Medium},
		{High, Info, exposure.BreadthNarrow, eff, "", Low},
		{High, Info, exposure.BreadthAnyone, lat, "", Medium},
		{High, Info, exposure.BreadthAnyone, behind, "", Low},
		{High, Info, exposure.BreadthAnyone, eff, exposure.ProbeOpen, Critical},
		{Critical, Info, exposure.BreadthAnyone, eff, exposure.ProbeOpen, Critical},
		{High, Info, exposure.BreadthAnyone, eff, exposure.ProbeClosed, Medium},
		{High, Info, exposure.BreadthAnyone, eff, exposure.ProbeFiltered, Medium},
		{High, Info, exposure.BreadthAnyone, eff, exposure.ProbeError, High},
		{High, Info, exposure.BreadthAnyone, eff, exposure.ProbeSkipped, High},
		{Medium, Info, exposure.BreadthNarrow, lat, exposure.ProbeClosed, Info},
		// The floor holds against breadth and probes; reach applies after
		// it: an allow-all rule is critical where the internet reaches it,
		// high on a latent group, medium on a NACL in front of groups.
		{Critical, Critical, exposure.BreadthBroad, eff, "", Critical},
		{Critical, Critical, exposure.BreadthBroad, eff, exposure.ProbeClosed, Critical},
		{Critical, Critical, exposure.BreadthBroad, lat, "", High},
		{Critical, Critical, exposure.BreadthAnyone, behind, "", Medium},
		{Critical, Medium, exposure.BreadthNarrow, eff, "", Medium},
		{Critical, Medium, exposure.BreadthNarrow, lat, "", Low},
		{Low, Info, exposure.BreadthAnyone, behind, "", Info},
	}
	for _, tt := range tests {
		if got := Adjust(tt.base, tt.floor, tt.b, tt.r, tt.probe); got != tt.want {
			t.Errorf("Adjust(%s, floor %s, %s, reach %d, %q) = %s, want %s", tt.base, tt.floor, tt.b, tt.r, tt.probe, got, tt.want)
		}
	}
	// The ordering the docs promise, for every combination.
	breadths := []exposure.Breadth{exposure.BreadthAnyone, exposure.BreadthBroad, exposure.BreadthNarrow}
	reaches := []Reach{eff, lat, behind}
	probes := []exposure.ProbeState{exposure.ProbeOpen, "", exposure.ProbeClosed}
	for base := Info; base <= Critical; base++ {
		for floor := Info; floor <= base; floor++ {
			for bi, b := range breadths {
				for ri, r := range reaches {
					for pi, p := range probes {
						s := Adjust(base, floor, b, r, p)
						if bi > 0 && Adjust(base, floor, breadths[bi-1], r, p) < s { //nolint:gosec // G602: the index is one below a range index, guarded by > 0
							t.Errorf("%s/%s %s %d %q: wider source less severe", base, floor, b, r, p)
						}
						if ri > 0 && Adjust(base, floor, b, reaches[ri-1], p) < s { //nolint:gosec // G602: the index is one below a range index, guarded by > 0
							t.Errorf("%s/%s %s %d %q: nearer reach less severe", base, floor, b, r, p)
						}
						if ri > 0 && base > Info && Adjust(base, floor, b, reaches[ri-1], p) == s && s > Info { //nolint:gosec // G602: the index is one below a range index, guarded by > 0
							t.Errorf("%s/%s %s %d %q: latent as severe as nearer reach", base, floor, b, r, p)
						}
						if pi > 0 && Adjust(base, floor, b, r, probes[pi-1]) < s { //nolint:gosec // G602: the index is one below a range index, guarded by > 0
							t.Errorf("%s/%s %s %d %q: confirmed less severe", base, floor, b, r, p)
						}
					}
				}
			}
		}
	}
}

// TestSeverityFollowsReach: the same admitted traffic is less severe the
// further it is from the internet reaching it, whatever the rule's floor.
// An AWS default NACL (allow all from 0.0.0.0/0) in front of security
// groups is medium, as Security Hub rates EC2.21, and still carries CIS
// AWS 5.1 through the port rules it covers.
func TestSeverityFollowsReach(t *testing.T) {
	eng := mustEngine(t, Options{})
	type want struct{ eff, sg, nacl Severity }
	for _, tc := range []struct {
		rule, proto, ports string
		want               want
	}{
		{"STRUCT-ALL-TRAFFIC", "all", "0-65535", want{Critical, High, Medium}},
		{"STRUCT-ALL-PORTS", "tcp", "0-65535", want{Critical, High, Medium}},
		{"PORT-REDIS", "tcp", "6379", want{Critical, High, Medium}},
		{"PORT-SSH", "tcp", "22", want{High, Medium, Low}},
		{"STRUCT-ICMP-ANY", "icmp", "0-255", want{Low, Info, Info}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			for _, c := range []struct {
				level, kind string
				want        Severity
			}{
				{"effective", exposure.LayerSecurityGroup, tc.want.eff},
				{"latent", exposure.LayerSecurityGroup, tc.want.sg},
				{"latent", exposure.LayerNetworkACL, tc.want.nacl},
			} {
				e := expSpec{Level: c.level, LayerKind: c.kind, Layer: "layer-1", Protocol: tc.proto, Ports: tc.ports}.build(t)
				got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, nil), tc.rule)
				if len(got) != 1 || got[0].Severity != c.want {
					t.Errorf("%s on %s: %+v, want one finding at %s", c.level, c.kind, got, c.want)
				}
			}
		})
	}
	nacl := expSpec{Level: "latent", LayerKind: exposure.LayerNetworkACL, Layer: "acl-default", Protocol: "all", Ports: "0-65535"}.build(t)
	at := findingsOf(eng.Evaluate([]*exposure.Exposure{nacl}, nil), "STRUCT-ALL-TRAFFIC")
	if len(at) != 1 || !hasRef(at[0], "cis-aws", "5.1") {
		t.Errorf("default NACL allow-all: %+v, want one finding carrying cis-aws 5.1", at)
	}
}

// TestPortTranslation: a rule is judged on the port a forward reaches.
func TestPortTranslation(t *testing.T) {
	eng := mustEngine(t, Options{})
	// NLB 2222 -> instance 22.
	e := expSpec{Ports: "2222", Backend: "22"}.build(t)
	res := eng.Evaluate([]*exposure.Exposure{e}, nil)
	ssh := findingsOf(res, "PORT-SSH")
	if len(ssh) != 1 || ssh[0].Port != 22 || ssh[0].MatchedBy != "backend-port" {
		t.Fatalf("SSH behind 2222: %+v", ssh)
	}
	// An LB range 10000-10099 forwarding to one port 3306.
	e = expSpec{Ports: "10000-10099", Backend: "3306"}.build(t)
	if got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, nil), "PORT-MYSQL"); len(got) != 1 || got[0].Port != 3306 {
		t.Fatalf("MySQL behind a range: %+v", got)
	}
	// Frontend 22 forwarding to 8080 is not SSH.
	e = expSpec{Ports: "22", Backend: "8080"}.build(t)
	res = eng.Evaluate([]*exposure.Exposure{e}, nil)
	if len(findingsOf(res, "PORT-SSH")) != 0 || len(findingsOf(res, "PORT-JENKINS")) != 1 {
		t.Fatalf("22->8080: %+v", res.Findings)
	}
	// A probe on the frontend confirms the backend service: 2222 open.
	e = expSpec{Ports: "2222", Backend: "22"}.build(t)
	obs := []exposure.Observation{{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 2222, State: exposure.ProbeOpen, Service: "ssh"}}
	ssh = findingsOf(eng.Evaluate([]*exposure.Exposure{e}, obs), "PORT-SSH")
	if len(ssh) != 1 || ssh[0].Severity != Critical || ssh[0].Probe == nil || ssh[0].Port != 22 {
		t.Fatalf("confirmed SSH behind 2222: %+v", ssh)
	}
}

func TestProbeMerge(t *testing.T) {
	eng := mustEngine(t, Options{})
	e := expSpec{Ports: "6379"}.build(t)
	for _, tt := range []struct {
		state   exposure.ProbeState
		service string
		want    Severity
	}{
		{"", "", Critical},
		{exposure.ProbeOpen, "redis", Critical},
		{exposure.ProbeClosed, "", High},
		{exposure.ProbeFiltered, "", High},
		{exposure.ProbeError, "", Critical},
	} {
		var obs []exposure.Observation
		if tt.state != "" {
			obs = []exposure.Observation{{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 6379, State: tt.state, Service: tt.service}}
		}
		got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, obs), "PORT-REDIS")
		if len(got) != 1 {
			t.Fatalf("probe %s removed or duplicated the finding: %+v", tt.state, got)
		}
		if got[0].Severity != tt.want {
			t.Errorf("probe %s: severity %s, want %s", tt.state, got[0].Severity, tt.want)
		}
	}
	// An observation on another endpoint or port says nothing.
	obs := []exposure.Observation{
		{Endpoint: "192.0.2.99", Protocol: exposure.ProtocolTCP, Port: 6379, State: exposure.ProbeClosed},
		{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolUDP, Port: 6379, State: exposure.ProbeClosed},
	}
	if got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, obs), "PORT-REDIS"); got[0].Probe != nil || got[0].Severity != Critical {
		t.Errorf("unrelated observations used: %+v", got[0])
	}
	// Open but fingerprinted as another service: no confirmation bonus.
	e = expSpec{Ports: "22"}.build(t)
	obs = []exposure.Observation{{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 22, State: exposure.ProbeOpen, Service: "http"}}
	if got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, obs), "PORT-SSH"); len(got) != 1 || got[0].Severity != High {
		t.Errorf("http on 22: %+v", got)
	}
}

// TestWideRangeSubsumes: an all-ports exposure is one finding that lists
// the port rules it covers and carries their controls; a probe that finds
// a risky service open inside it reports that service too.
func TestWideRangeSubsumes(t *testing.T) {
	eng := mustEngine(t, Options{})
	e := expSpec{Ports: "0-65535"}.build(t)
	res := eng.Evaluate([]*exposure.Exposure{e}, nil)
	all := findingsOf(res, "STRUCT-ALL-PORTS")
	if len(all) != 1 {
		t.Fatalf("all ports: %+v", res.Findings)
	}
	if !slices.Contains(all[0].Subsumes, "PORT-SSH") || !slices.Contains(all[0].Subsumes, "PORT-REDIS") || slices.Contains(all[0].Subsumes, "PORT-NTP") {
		t.Errorf("subsumes = %v", all[0].Subsumes)
	}
	if !hasRef(all[0], "cis-aws", "5.2") || hasRef(all[0], "cis-aws", "5.3") || hasRef(all[0], "cis-aws", "5.1") {
		t.Errorf("all-ports compliance = %v", all[0].Compliance)
	}
	if len(findingsOf(res, "PORT-SSH")) != 0 {
		t.Error("port rules reported one by one inside a wide range")
	}
	obs := []exposure.Observation{
		{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 22, State: exposure.ProbeOpen, Service: "ssh"},
		{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 3306, State: exposure.ProbeClosed},
		{Endpoint: "192.0.2.10", Protocol: exposure.ProtocolTCP, Port: 9999, State: exposure.ProbeOpen, Service: "redis"},
	}
	res = eng.Evaluate([]*exposure.Exposure{e}, obs)
	if got := findingsOf(res, "PORT-SSH"); len(got) != 1 || got[0].Port != 22 || got[0].Severity != Critical {
		t.Errorf("confirmed SSH inside all ports: %+v", got)
	}
	if len(findingsOf(res, "PORT-MYSQL")) != 0 {
		t.Error("closed MySQL inside all ports reported on its own")
	}
	if got := findingsOf(res, "PORT-REDIS"); len(got) != 1 || got[0].Port != 9999 || got[0].MatchedBy != "service" {
		t.Errorf("redis on 9999: %+v", got)
	}
	if got := findingsOf(res, "SERVICE-NONSTANDARD-PORT"); len(got) != 1 || got[0].Service != "redis" {
		t.Errorf("nonstandard: %+v", got)
	}
	// All protocols covers UDP: the CIS Azure UDP control comes with it.
	az := expSpec{Provider: "azure", Protocol: "all", Ports: "0-65535", Sources: []string{"0.0.0.0/0"}, EvidenceSources: []string{"Internet"}, LayerKind: exposure.LayerNSG}.build(t)
	res = eng.Evaluate([]*exposure.Exposure{az}, nil)
	at := findingsOf(res, "STRUCT-ALL-TRAFFIC")
	if len(at) != 1 {
		t.Fatalf("azure all traffic: %+v", res.Findings)
	}
	for _, ctl := range []string{"6.1", "6.2", "6.3", "6.4"} {
		if !hasRef(at[0], "cis-azure", ctl) {
			t.Errorf("allow-all NSG rule lacks cis-azure %s: %v", ctl, at[0].Compliance)
		}
	}
	if hasRef(at[0], "cis-aws", "5.2") {
		t.Error("azure finding carries a cis-aws control")
	}
	// Protocol "all" is the bucket of protocols the analysis does not list
	// separately: no port rule judges it one by one.
	if got := findingsOf(res, "PORT-SSH"); len(got) != 0 {
		t.Errorf("port rule matched a protocol-all exposure: %+v", got)
	}
}

// TestComplianceScope: controls that judge one layer kind and one family.
func TestComplianceScope(t *testing.T) {
	eng := mustEngine(t, Options{})
	tests := []struct {
		name    string
		spec    expSpec
		want    []string
		notWant []string
	}{
		{"sg ipv4", expSpec{Ports: "22"}, []string{"cis-aws:5.2", "nist-800-53:SC-7", "soc2:CC6.6", "pci-dss:1.4.2"}, []string{"cis-aws:5.1", "cis-aws:5.3", "cis-gcp:3.6"}},
		{"sg ipv6", expSpec{Ports: "3389", Sources: []string{"::/0"}}, []string{"cis-aws:5.3"}, []string{"cis-aws:5.2"}},
		{"nacl latent", expSpec{Ports: "22", Level: "latent", LayerKind: exposure.LayerNetworkACL, Layer: "acl-1"}, []string{"cis-aws:5.1"}, []string{"cis-aws:5.2"}},
		{"sg rule 0.0.0.0/0 narrowed by nacl", expSpec{Ports: "22", Sources: []string{"198.51.100.0/24"}, EvidenceSources: []string{"0.0.0.0/0"}}, []string{"cis-aws:5.2"}, []string{"soc2:CC6.6"}},
		{"partner range", expSpec{Ports: "22", Sources: []string{"198.51.100.0/24"}}, nil, []string{"cis-aws:5.2", "soc2:CC6.6", "pci-dss:1.4.2"}},
		{"gcp firewall", expSpec{Provider: "gcp", Ports: "22", LayerKind: exposure.LayerFirewall}, []string{"cis-gcp:3.6"}, []string{"cis-aws:5.2", "cis-gcp:3.7"}},
		{"azure nsg star", expSpec{Provider: "azure", Ports: "3389", LayerKind: exposure.LayerNSG, EvidenceSources: []string{"*"}}, []string{"cis-azure:6.1"}, []string{"cis-azure:6.2"}},
		{"database latent", expSpec{Ports: "5432", Level: "latent"}, []string{"pci-dss:1.3.1"}, []string{"pci-dss:1.4.4"}},
		{"database effective", expSpec{Ports: "5432"}, []string{"pci-dss:1.4.4", "nist-800-53:AC-4"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := eng.Evaluate([]*exposure.Exposure{tt.spec.build(t)}, nil)
			var refs []string
			for _, f := range res.Findings {
				for _, r := range f.Compliance {
					refs = append(refs, r.Framework+":"+r.Control)
				}
			}
			for _, w := range tt.want {
				if !slices.Contains(refs, w) {
					t.Errorf("missing %s in %v", w, refs)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(refs, w) {
					t.Errorf("unexpected %s in %v", w, refs)
				}
			}
		})
	}
}

func TestFrameworkScope(t *testing.T) {
	eng := mustEngine(t, Options{Framework: "cis-aws"})
	exps := []*exposure.Exposure{
		expSpec{Ports: "22"}.build(t),
		expSpec{Ports: "6379", Target: "eni-2"}.build(t),
	}
	res := eng.Evaluate(exps, nil)
	if len(res.Findings) != 1 || res.Findings[0].RuleID != "PORT-SSH" {
		t.Fatalf("cis-aws findings: %+v", res.Findings)
	}
	for _, r := range res.Findings[0].Compliance {
		if r.Framework != "cis-aws" {
			t.Errorf("scoped finding carries %v", r)
		}
	}
	for _, c := range res.Compliance {
		if c.Framework != "cis-aws" {
			t.Errorf("compliance for %s in a cis-aws run", c.Framework)
		}
	}
	if _, err := NewEngine(mustCatalog(t), Options{Framework: "iso27001"}); err == nil {
		t.Error("unknown framework accepted")
	}
}

func TestFindingIDsStable(t *testing.T) {
	eng := mustEngine(t, Options{})
	a := eng.Evaluate([]*exposure.Exposure{expSpec{Ports: "22"}.build(t)}, nil)
	b := eng.Evaluate([]*exposure.Exposure{expSpec{Ports: "22"}.build(t)}, nil)
	if a.Findings[0].ID == "" || a.Findings[0].ID != b.Findings[0].ID {
		t.Errorf("finding IDs %q, %q", a.Findings[0].ID, b.Findings[0].ID)
	}
	c := eng.Evaluate([]*exposure.Exposure{expSpec{Ports: "22", Target: "eni-2"}.build(t)}, nil)
	if c.Findings[0].ID == a.Findings[0].ID {
		t.Error("different exposures share a finding ID")
	}
}

// TestBreadthRefinement: the internet minus a few denied hosts is still
// anyone; minus a /8 it is broad.
func TestBreadthRefinement(t *testing.T) {
	eng := mustEngine(t, Options{})
	minus := func(cidrs ...string) []string {
		// 0.0.0.0/0 minus the given prefixes, as prefixes.
		all, _ := exposure.ParseSources("0.0.0.0/0")
		rm, _ := exposure.ParseSources(cidrs...)
		var out []string
		for _, p := range exposure.Intersect(all, complementOf(rm)).Prefixes() {
			out = append(out, p.String())
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		sources []string
		want    Severity
	}{
		{"all", []string{"0.0.0.0/0"}, Critical},
		{"minus two hosts", minus("203.0.113.5/32", "198.51.100.0/24"), Critical},
		{"minus a /8", minus("11.0.0.0/8"), High},
	} {
		got := findingsOf(eng.Evaluate([]*exposure.Exposure{expSpec{Ports: "6379", Sources: tt.sources}.build(t)}, nil), "PORT-REDIS")
		if len(got) != 1 || got[0].Severity != tt.want {
			t.Errorf("%s: %+v, want %s", tt.name, got, tt.want)
		}
	}
}
