package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCustomRules(t *testing.T) {
	path := writeFile(t, "custom.yaml", `rules:
  - id: DEV-PORTS
    title: dev ports open to anyone, not tagged public
    severity: high
    condition: |
      exposure.overlaps(8000, 8999) && exposure.breadth == "anyone" &&
      exposure.tags.?public.orValue("") != "true"
    compliance: ["nist-800-53:CM-7"]
  - id: TAG-LOOKUP
    title: strict tag lookup fails at run time on untagged targets
    severity: low
    condition: exposure.tags["team"] == "payments"
  - id: TRANSLATED
    title: translated to 22
    severity: medium
    remediation: {default: fix it, aws: fix it in aws}
    condition: exposure.translated && exposure.covers(22) && exposure.backendPort == 22 && exposure.fromPort == 2222
`)
	eng := mustEngine(t, Options{CustomRulesFile: path})
	if got := len(eng.CustomRules()); got != 3 {
		t.Fatalf("%d custom rules loaded", got)
	}
	exps := []*exposure.Exposure{
		expSpec{Ports: "8080", Target: "eni-dev"}.build(t),
		expSpec{Ports: "8080", Target: "eni-public", Tags: map[string]string{"public": "true", "team": "web"}}.build(t),
		expSpec{Ports: "8080", Target: "eni-partner", Sources: []string{"198.51.100.0/24"}, Tags: map[string]string{"team": "payments"}}.build(t),
		expSpec{Ports: "2222", Backend: "22", Target: "eni-lb", Tags: map[string]string{"team": "x"}}.build(t),
	}
	res := eng.Evaluate(exps, nil)
	dev := findingsOf(res, "DEV-PORTS")
	if len(dev) != 1 || dev[0].Exposure.Target.ID != "eni-dev" || !dev[0].Custom || dev[0].Severity != High || !hasRef(dev[0], "nist-800-53", "CM-7") {
		t.Errorf("DEV-PORTS: %+v", dev)
	}
	if tag := findingsOf(res, "TAG-LOOKUP"); len(tag) != 1 || tag[0].Exposure.Target.ID != "eni-partner" || tag[0].Severity != Info {
		t.Errorf("TAG-LOOKUP: %+v", tag)
	}
	if tr := findingsOf(res, "TRANSLATED"); len(tr) != 1 || tr[0].Remediation != "fix it in aws" || tr[0].Port != 22 {
		t.Errorf("TRANSLATED: %+v", tr)
	}
	// eni-dev has no tags at all: the strict lookup is a runtime error,
	// reported, not a panic and not a finding.
	if len(res.RuleErrors) != 1 || res.RuleErrors[0].RuleID != "TAG-LOOKUP" || res.RuleErrors[0].Target != "eni-dev" ||
		!strings.Contains(res.RuleErrors[0].Message, "no such key") || !strings.Contains(res.RuleErrors[0].Error(), "custom.yaml:") {
		t.Errorf("rule errors: %+v", res.RuleErrors)
	}
	// Custom findings count for the controls they name.
	for _, c := range res.Compliance {
		if c.Framework == "nist-800-53" && c.Control == "CM-7" && c.Status != StatusFail {
			t.Errorf("CM-7 = %s with a custom finding", c.Status)
		}
	}
}

func TestCustomRulesRejected(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"undeclared field, block scalar", `rules:
  - id: A
    title: a
    severity: high
    condition: |
      exposure.breadth == "anyone" &&
        exposure.fromport == 22
`, []string{"custom.yaml:7:17: rule A: condition: undefined field 'fromport'"}},
		{"syntax error, plain scalar", `rules:
  - id: B
    title: b
    severity: high
    condition: exposure.fromPort == == 22
`, []string{"custom.yaml:5:", "rule B: condition: Syntax error"}},
		{"not bool", `rules:
  - id: C
    title: c
    severity: high
    condition: exposure.fromPort + 1
`, []string{"custom.yaml:5: rule C: condition must be a bool expression, not int"}},
		{"type error", `rules:
  - id: D
    title: d
    severity: high
    condition: "exposure.fromPort == 'x'"
`, []string{"custom.yaml:5:", "rule D: condition: found no matching overload for '_==_'"}},
		{"missing fields, catalog ID, unknown control, bad severity", `rules:
  - id: PORT-SSH
    title: clash
    severity: high
    condition: "true"
  - id: E
    severity: high
  - id: F
    title: f
    severity: high
    condition: "true"
    compliance: ["cis-aws:9.9"]
`, []string{
			"custom.yaml:2: rule PORT-SSH: the ID is a catalog rule's",
			"custom.yaml:6: rule E: title is required",
			"custom.yaml:6: rule E: condition (a CEL expression) is required",
			`custom.yaml:12: rule F: compliance "cis-aws:9.9": unknown control`,
		}},
		{"unknown field", `rules:
  - id: G
    title: g
    severity: high
    when: "true"
`, []string{"custom.yaml:5: field when not found"}},
		{"empty", "", []string{"custom.yaml: file is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "custom.yaml", tt.content)
			_, err := NewEngine(mustCatalog(t), Options{CustomRulesFile: path})
			if err == nil {
				t.Fatal("accepted")
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	if _, err := NewEngine(mustCatalog(t), Options{CustomRulesFile: "/nonexistent/custom.yaml"}); err == nil || !strings.Contains(err.Error(), "read custom rules") {
		t.Errorf("missing file: %v", err)
	}
}

func TestExamplesLoad(t *testing.T) {
	eng := mustEngine(t, Options{CustomRulesFile: "../examples/custom-rules.yaml", ExceptionsFile: "../examples/exceptions.yaml"})
	if len(eng.CustomRules()) != 3 || len(eng.exceptions) != 3 {
		t.Fatalf("examples: %d rules, %d exceptions", len(eng.CustomRules()), len(eng.exceptions))
	}
	exps := []*exposure.Exposure{
		expSpec{Ports: "8000-8080", Target: "eni-dev"}.build(t),
		expSpec{Ports: "22", Layer: "sg-0bastion01", Target: "eni-bastion"}.build(t),
	}
	res := eng.Evaluate(exps, nil)
	if len(findingsOf(res, "ORG-DEV-PORTS")) != 1 || len(findingsOf(res, "ORG-PROD-ADMIN")) != 1 {
		t.Errorf("example rules: %+v", res.Findings)
	}
	ssh := findingsOf(res, "PORT-SSH")
	if len(ssh) != 1 || ssh[0].Suppressed == nil || !strings.Contains(ssh[0].Suppressed.Source, "exceptions.yaml:11") {
		t.Errorf("bastion exception: %+v", ssh)
	}
	if len(res.RuleErrors) != 0 {
		t.Errorf("example rules fail at run time: %v", res.RuleErrors)
	}
}
