package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portcullis-sec/portcullis/exposure"
)

type probeSpec struct {
	Port    uint16 `yaml:"port"`
	State   string `yaml:"state"`
	Service string `yaml:"service"`
}

type ruleCase struct {
	expSpec   `yaml:",inline"`
	Probe     *probeSpec `yaml:"probe"`
	Severity  string     `yaml:"severity"`
	Port      uint16     `yaml:"port"`
	MatchedBy string     `yaml:"matchedBy"`
}

type ruleCases struct {
	Positive []ruleCase `yaml:"positive"`
	Negative []ruleCase `yaml:"negative"`
}

// TestCatalogCases runs the positive and negative cases of every catalog
// rule. A rule without both fails, so no rule enters the catalog untested.
func TestCatalogCases(t *testing.T) {
	data, err := os.ReadFile("testdata/catalog_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]ruleCases
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("catalog_cases.yaml: %v", err)
	}
	c := mustCatalog(t)
	eng := mustEngine(t, Options{})
	for id := range cases {
		if _, ok := c.Rule(id); !ok {
			t.Errorf("catalog_cases.yaml has cases for %s, which is not a catalog rule", id)
		}
	}
	for _, r := range c.Rules() {
		rc := cases[r.ID]
		if len(rc.Positive) == 0 || len(rc.Negative) == 0 {
			t.Errorf("rule %s needs at least one positive and one negative case in testdata/catalog_cases.yaml (has %d/%d)", r.ID, len(rc.Positive), len(rc.Negative))
			continue
		}
		run := func(kind string, i int, tc ruleCase, want bool) {
			t.Run(r.ID+"/"+kind+"/"+strings.TrimSpace(tc.Protocol+" "+tc.Ports+" "+tc.Backend), func(t *testing.T) {
				e := tc.build(t)
				var obs []exposure.Observation
				if tc.Probe != nil {
					obs = append(obs, exposure.Observation{
						Endpoint: e.Endpoint.String(), Protocol: e.Protocol, Port: tc.Probe.Port,
						State: exposure.ProbeState(tc.Probe.State), Service: tc.Probe.Service,
					})
				}
				got := findingsOf(eng.Evaluate([]*exposure.Exposure{e}, obs), r.ID)
				if !want {
					if len(got) > 0 {
						t.Fatalf("%s case %d: rule matched (severity %s, port %d, by %s), want no match", kind, i, got[0].Severity, got[0].Port, got[0].MatchedBy)
					}
					return
				}
				if len(got) == 0 {
					t.Fatalf("%s case %d: rule did not match", kind, i)
				}
				f := got[0]
				if tc.Severity != "" && f.Severity.String() != tc.Severity {
					t.Errorf("severity = %s, want %s", f.Severity, tc.Severity)
				}
				if tc.Port != 0 && f.Port != tc.Port {
					t.Errorf("port = %d, want %d", f.Port, tc.Port)
				}
				if tc.MatchedBy != "" && f.MatchedBy != tc.MatchedBy {
					t.Errorf("matchedBy = %s, want %s", f.MatchedBy, tc.MatchedBy)
				}
				if f.Exposure != e {
					t.Error("finding does not point at the matched exposure")
				}
				if f.Remediation == "" {
					t.Error("finding has no remediation")
				}
			})
		}
		for i, tc := range rc.Positive {
			run("positive", i, tc, true)
		}
		for i, tc := range rc.Negative {
			run("negative", i, tc, false)
		}
	}
}

// TestFoundationRules checks that the rule set the foundation issue asked
// for is present, with the ports it named.
func TestFoundationRules(t *testing.T) {
	c := mustCatalog(t)
	risky := c.RiskyPorts()
	for _, p := range []uint16{22, 3389, 23, 5985, 5986, 5900, 3306, 5432, 1433, 1521, 27017, 6379, 9200, 11211, 2375} {
		if !slices.Contains(risky[exposure.ProtocolTCP], p) {
			t.Errorf("RiskyPorts has no tcp/%d", p)
		}
	}
	for _, p := range []uint16{69, 123, 161, 11211, 53} {
		if !slices.Contains(risky[exposure.ProtocolUDP], p) {
			t.Errorf("RiskyPorts has no udp/%d", p)
		}
	}
	if !slices.IsSorted(risky[exposure.ProtocolTCP]) {
		t.Error("RiskyPorts not sorted")
	}
	if c.WideRangeThreshold() != 100 {
		t.Errorf("wide range threshold = %d, want 100", c.WideRangeThreshold())
	}
	for _, r := range c.Rules() {
		if r.Match.Kind == KindPorts {
			for _, p := range []string{"aws", "gcp", "azure"} {
				if r.Remediation[p] == "" {
					t.Errorf("rule %s has no %s remediation", r.ID, p)
				}
			}
		}
	}
}

func TestWriteListAndRule(t *testing.T) {
	c := mustCatalog(t)
	var tbl bytes.Buffer
	if err := c.WriteList(&tbl, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tbl.String()), "\n")
	if len(lines) != len(c.Rules())+1 {
		t.Errorf("table has %d lines, want header + %d rules", len(lines), len(c.Rules()))
	}
	// Every reference names the benchmark version whose numbering it uses.
	for _, want := range []string{"cis-aws@v3.0.0:5.2", "cis-gcp@v3.0.0:3.6", "cis-azure@v2.0.0:6.1", "pci-dss@v4.0.1:1.3.1", "nist-800-53@Rev.5:SC-7"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %s", want)
		}
	}
	var js bytes.Buffer
	if err := c.WriteList(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rules []struct {
			ID         string          `json:"id"`
			Severity   string          `json:"severity"`
			Compliance []ComplianceRef `json:"compliance"`
		} `json:"rules"`
		Frameworks []Framework `json:"frameworks"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rules) != len(c.Rules()) || doc.Rules[0].ID != "PORT-SSH" || doc.Rules[0].Severity != "high" || len(doc.Rules[0].Compliance) == 0 {
		t.Errorf("json list: %+v", doc.Rules[0])
	}
	if len(doc.Frameworks) != len(Frameworks()) {
		t.Errorf("json list has %d frameworks, want %d", len(doc.Frameworks), len(Frameworks()))
	}
	if err := c.WriteList(&js, "xml"); err == nil {
		t.Error("WriteList accepted format xml")
	}
	var show bytes.Buffer
	if err := c.WriteRule(&show, "PORT-RDP", "table"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PORT-RDP", "cis-aws v3.0.0 5.2", "(6.3 in v6.0.0-v7.0.0)", "cis-azure v2.0.0 6.1", "(7.1 in v3.0.0)", "Basis:", "aws:", "azure:"} {
		if !strings.Contains(show.String(), want) {
			t.Errorf("rules show lacks %q:\n%s", want, show.String())
		}
	}
	show.Reset()
	if err := c.WriteRule(&show, "PORT-RDP", "json"); err != nil || !json.Valid(show.Bytes()) {
		t.Errorf("show json: %v", err)
	}
	if err := c.WriteRule(&show, "NOPE", "table"); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("show unknown rule: %v", err)
	}
}

// TestMalformedCatalog feeds broken catalogs and mappings and expects
// every problem reported with file:line.
func TestMalformedCatalog(t *testing.T) {
	goodComp := complianceYAML
	tests := []struct {
		name, cat string
		comp      []byte
		want      []string
	}{
		{"unknown field", "bad_catalog_field.yaml", goodComp, []string{"bad_catalog_field.yaml:8: field prots not found"}},
		{"bad values", "bad_catalog_values.yaml", goodComp, []string{
			"bad_catalog_values.yaml:5: rule X-1: match: invalid port range \"22-\"",
			"bad_catalog_values.yaml:5: rule X-1: basis (why the rule has its severity) is required",
			"bad_catalog_values.yaml:14: rule X-2: title is required",
			"bad_catalog_values.yaml:14: rule X-2: match: unknown breadth \"everyone\"",
			"bad_catalog_values.yaml:25: rule X-1: duplicate ID (first at bad_catalog_values.yaml:5)",
		}},
		{"bad severity", "bad_catalog_severity.yaml", goodComp, []string{"bad_catalog_severity.yaml:", "unknown severity \"severe\""}},
		{"bad yaml", "bad_catalog_syntax.yaml", goodComp, []string{"bad_catalog_syntax.yaml:3: did not find expected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tt.cat)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseCatalog(tt.cat, data, "compliance.yaml", tt.comp)
			if err == nil {
				t.Fatal("malformed catalog accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("compliance references unknown rule", func(t *testing.T) {
		comp := bytes.Replace(complianceYAML, []byte("rules: {ids: [PORT-SSH]}"), []byte("rules: {ids: [PORT-SHH]}"), 1)
		_, err := parseCatalog("catalog.yaml", catalogYAML, "compliance.yaml", comp)
		if err == nil || !strings.Contains(err.Error(), "compliance.yaml:") || !strings.Contains(err.Error(), "unknown rule PORT-SHH") {
			t.Errorf("got %v", err)
		}
	})
}

// TestPeerPortsHaveFindings: every port of Security Hub EC2.19's high-risk
// list, Prowler's per-port checks, CloudSploit's open-port plugins and GCP
// Security Health Analytics' OPEN_*_PORT detectors gets a finding from a
// port rule that names its service and says why it has its severity, so
// that it counts for --fail-on, SARIF, ASFF and CSV.
func TestPeerPortsHaveFindings(t *testing.T) {
	eng, cat := mustEngine(t, Options{}), mustCatalog(t)
	tcp := []uint16{
		20, 21, 22, 23, 25, 88, 110, 111, 135, 137, 138, 139, 143, 389, 445, 464, 636, 749, 750,
		1433, 1434, 1521, 1522, 2049, 2375, 2376, 2483, 2484, 3000, 3306, 3389, 4333, 4505, 4506,
		5000, 5432, 5500, 5601, 5900, 6379, 7000, 7001, 7199, 8020, 8080, 8088, 8888, 9042, 9090,
		9092, 9160, 9200, 9300, 11211, 11214, 11215, 27017, 27018, 27019, 50070, 50470, 61620, 61621,
	}
	udp := []uint16{53, 88, 137, 138, 139, 161, 389, 445, 464, 1434, 2483, 2484, 3389, 5432, 11211}
	check := func(proto string, p uint16) {
		t.Run(fmt.Sprintf("%s/%d", proto, p), func(t *testing.T) {
			e := expSpec{Protocol: proto, Ports: fmt.Sprint(p)}.build(t)
			for _, f := range eng.Evaluate([]*exposure.Exposure{e}, nil).Findings {
				r, _ := cat.Rule(f.RuleID)
				if r.Match.Kind == KindPorts && f.Service != "" && r.Basis != "" && f.Port == p {
					return
				}
			}
			t.Errorf("%s %d reaches an exposure but no port rule with a service and a severity basis", proto, p)
		})
	}
	for _, p := range tcp {
		check("tcp", p)
	}
	for _, p := range udp {
		check("udp", p)
	}
}
