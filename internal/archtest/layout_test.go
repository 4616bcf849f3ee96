package archtest

import (
	"strings"
	"testing"
)

// Stages are the packages that data flows through, one way (STYLE.md):
// providers → exposure → rules → probe → state → reports/alerts. Only audit
// composes them; cmd/portcullis and functions/* are the faces that call it.
var stages = []string{"exposure/...", "providers/...", "rules/...", "reports/...", "probe/...", "state/...", "alerts/..."}

// testSuites are test-only packages whose job is to drive the provider
// drivers; they hold no code that ships.
var testSuites = []exception{
	{pkg: "providers/conformance", testOnly: true, why: "the conformance suite runs every driver on the same situations"},
	{pkg: "infra", testOnly: true, why: "checks that the member role grants exactly aws.Permissions"},
}

// layout is the README's "Layout" as facts. A new package needs no entry
// unless it is a stage; the last two rules bind every package.
var layout = []rule{
	{
		fact: "exposure imports no module package",
		from: []string{"exposure/..."}, mode: only,
	},
	{
		fact:   "providers/* import only exposure, providers and internal/*, and never each other",
		from:   []string{"providers", "providers/*/..."},
		except: testSuites[:1],
		mode:   only, paths: []string{"exposure", "providers", "internal/..."},
	},
	{
		fact: "rules imports only exposure",
		from: []string{"rules/..."}, mode: only, paths: []string{"exposure"},
	},
	{
		fact: "reports imports only exposure and rules",
		from: []string{"reports/..."}, mode: only, paths: []string{"exposure", "rules"},
	},
	{
		fact: "probe imports only exposure",
		from: []string{"probe/..."}, mode: only, paths: []string{"exposure"},
	},
	{
		fact: "state imports only exposure, rules, reports and internal/*",
		from: []string{"state/..."}, mode: only, paths: []string{"exposure", "rules", "reports", "internal/..."},
	},
	{
		fact: "alerts imports only exposure, rules and internal/*",
		from: []string{"alerts/..."}, mode: only, paths: []string{"exposure", "rules", "internal/..."},
	},
	{
		fact: "demo (the demo estate: data) imports no module package",
		from: []string{"demo/..."}, mode: only,
	},
	{
		fact:   "outside tests, only cmd/* and functions/* import demo",
		from:   []string{"..."},
		except: []exception{{pkg: "cmd/..."}, {pkg: "functions/..."}},
		mode:   never, paths: []string{"demo/..."},
		prodOnly: true,
	},
	{
		fact:   "nothing under a stage imports audit, cmd or functions",
		from:   stages,
		except: testSuites[:1],
		mode:   never, paths: []string{"audit/...", "cmd/...", "functions/..."},
	},
	{
		fact:   "only audit, cmd/* and functions/* import provider packages",
		from:   []string{"..."},
		except: append([]exception{{pkg: "audit"}, {pkg: "cmd/..."}, {pkg: "functions/..."}}, testSuites...),
		mode:   never, paths: []string{"providers/*/..."},
	},
}

// TestLayout checks every package of the module against the layout.
func TestLayout(t *testing.T) {
	_, pkgs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range check(pkgs, layout) {
		t.Error(v)
	}
}

// TestLoadSeesImports guards TestLayout against passing on an empty graph:
// the loader must see production imports, in-package test imports and
// external test imports, with the file that makes them.
func TestLoadSeesImports(t *testing.T) {
	modPath, pkgs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	if modPath != "github.com/portcullis-sec/portcullis" {
		t.Errorf("module path %q", modPath)
	}
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.path] = p
	}
	tests := []struct {
		from, imp, file string
		test            bool
	}{
		{"audit", "exposure", "audit/", false},
		{"audit", "demo", "audit/", true},
		{"probe", "probe/lab", "probe/", true},
		{"providers/aws", "providers/aws", "providers/aws/", true},
		{"internal/archtest", "", "", false},
	}
	for _, tt := range tests {
		p, ok := byPath[tt.from]
		if !ok {
			t.Errorf("package %s not loaded", tt.from)
			continue
		}
		if tt.imp == "" {
			continue
		}
		found := false
		for _, u := range p.uses {
			if u.path == tt.imp && u.test == tt.test && strings.HasPrefix(u.pos, tt.file) && strings.Contains(u.pos, ".go:") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no import of %s (test %v) seen in %v", tt.from, tt.imp, tt.test, p.uses)
		}
	}
	if p := byPath["providers/conformance"]; !p.testOnly {
		t.Errorf("providers/conformance not seen as test-only")
	}
	if p := byPath["audit"]; p.testOnly {
		t.Errorf("audit seen as test-only")
	}
}

// TestLayoutRulesBind: a rule whose patterns bind no package of the module
// is a typo (or names a package that moved).
func TestLayoutRulesBind(t *testing.T) {
	_, pkgs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range layout {
		bound := false
		for _, p := range pkgs {
			if matchAny(r.from, p.path) {
				bound = true
			}
		}
		if !bound {
			t.Errorf("rule %q binds no package", r.fact)
		}
	}
}

func TestCheck(t *testing.T) {
	prod := func(path, pos string) use { return use{path: path, pos: pos} }
	test := func(path, pos string) use { return use{path: path, pos: pos, test: true} }
	tests := []struct {
		name string
		pkgs []pkg
		want []string
	}{
		{
			name: "the layout as it should be",
			pkgs: []pkg{
				{path: "exposure"},
				{path: "providers", uses: []use{prod("exposure", "providers/provider.go:3")}},
				{path: "providers/aws", uses: []use{prod("exposure", "providers/aws/aws.go:3"), prod("providers", "providers/aws/aws.go:4"), test("internal/mototest", "providers/aws/moto_test.go:5"), test("providers/aws", "providers/aws/x_test.go:6")}},
				{path: "providers/conformance", testOnly: true, uses: []use{test("providers/aws", "providers/conformance/c_test.go:1"), test("audit", "providers/conformance/c_test.go:2")}},
				{path: "rules", uses: []use{prod("exposure", "rules/engine.go:7")}},
				{path: "reports", uses: []use{prod("exposure", "reports/report.go:1"), prod("rules", "reports/report.go:2")}},
				{path: "probe", uses: []use{prod("exposure", "probe/prober.go:1"), test("probe/lab", "probe/probe_test.go:2")}},
				{path: "probe/lab", uses: []use{prod("exposure", "probe/lab/lab.go:1")}},
				{path: "state", uses: []use{prod("reports", "state/state.go:1"), prod("internal/awsconf", "state/s3.go:1")}},
				{path: "alerts", uses: []use{prod("rules", "alerts/alerts.go:1")}},
				{path: "audit", uses: []use{prod("providers/aws", "audit/audit.go:1"), prod("probe", "audit/audit.go:2"), test("demo", "audit/demo_test.go:3")}},
				{path: "cmd/portcullis", uses: []use{prod("audit", "cmd/portcullis/main.go:1"), prod("providers/gcp", "cmd/portcullis/main.go:2"), prod("demo", "cmd/portcullis/demo_cmd.go:3")}},
				{path: "functions/internal/stages", uses: []use{prod("providers/azure", "functions/internal/stages/base.go:1"), test("demo", "functions/internal/stages/stages_test.go:4")}},
				{path: "infra", testOnly: true, uses: []use{test("providers/aws", "infra/infra_test.go:1")}},
				{path: "demo", uses: []use{test("demo", "demo/demo_test.go:1")}},
				{path: "fix", uses: []use{prod("exposure", "fix/fix.go:1"), test("demo", "fix/fix_test.go:2"), test("audit", "fix/fix_test.go:3")}},
			},
		},
		{
			name: "probe borrows a type from providers",
			pkgs: []pkg{{path: "probe", uses: []use{prod("exposure", "probe/prober.go:26"), prod("providers", "probe/prober.go:27")}}},
			want: []string{`probe/prober.go:27: probe imports providers, which breaks the rule "probe imports only exposure"`},
		},
		{
			name: "exposure imports anything of the module",
			pkgs: []pkg{{path: "exposure", uses: []use{test("rules", "exposure/x_test.go:9")}}},
			want: []string{`exposure/x_test.go:9: exposure imports rules (in a test), which breaks the rule "exposure imports no module package"`},
		},
		{
			name: "one provider imports another",
			pkgs: []pkg{{path: "providers/gcp", uses: []use{prod("providers/aws", "providers/gcp/collect.go:12")}}},
			want: []string{
				`providers/gcp/collect.go:12: providers/gcp imports providers/aws, which breaks the rule "only audit, cmd/* and functions/* import provider packages"`,
				`providers/gcp/collect.go:12: providers/gcp imports providers/aws, which breaks the rule "providers/* import only exposure, providers and internal/*, and never each other"`,
			},
		},
		{
			name: "a provider's subpackage is still a provider",
			pkgs: []pkg{{path: "providers/aws/internal/pager", uses: []use{prod("rules", "providers/aws/internal/pager/pager.go:3")}}},
			want: []string{`providers/aws/internal/pager/pager.go:3: providers/aws/internal/pager imports rules, which breaks the rule "providers/* import only exposure, providers and internal/*, and never each other"`},
		},
		{
			name: "rules and reports reach too far",
			pkgs: []pkg{
				{path: "rules", uses: []use{prod("reports", "rules/engine.go:1")}},
				{path: "reports", uses: []use{prod("probe", "reports/html.go:2")}},
			},
			want: []string{
				`reports/html.go:2: reports imports probe, which breaks the rule "reports imports only exposure and rules"`,
				`rules/engine.go:1: rules imports reports, which breaks the rule "rules imports only exposure"`,
			},
		},
		{
			name: "state and alerts",
			pkgs: []pkg{
				{path: "state", uses: []use{prod("probe", "state/state.go:1")}},
				{path: "alerts", uses: []use{prod("reports", "alerts/slack.go:2"), prod("state", "alerts/alerts.go:3")}},
			},
			want: []string{
				`alerts/alerts.go:3: alerts imports state, which breaks the rule "alerts imports only exposure, rules and internal/*"`,
				`alerts/slack.go:2: alerts imports reports, which breaks the rule "alerts imports only exposure, rules and internal/*"`,
				`state/state.go:1: state imports probe, which breaks the rule "state imports only exposure, rules, reports and internal/*"`,
			},
		},
		{
			name: "a stage imports the wiring or a face",
			pkgs: []pkg{{path: "state", uses: []use{prod("audit", "state/state.go:4"), prod("functions/internal/runstore", "state/state.go:5")}}},
			want: []string{
				`state/state.go:4: state imports audit, which breaks the rule "nothing under a stage imports audit, cmd or functions"`,
				`state/state.go:4: state imports audit, which breaks the rule "state imports only exposure, rules, reports and internal/*"`,
				`state/state.go:5: state imports functions/internal/runstore, which breaks the rule "nothing under a stage imports audit, cmd or functions"`,
				`state/state.go:5: state imports functions/internal/runstore, which breaks the rule "state imports only exposure, rules, reports and internal/*"`,
			},
		},
		{
			name: "a stage's test imports the module root",
			pkgs: []pkg{{path: "reports", uses: []use{test(".", "reports/demo_test.go:9")}}},
			want: []string{`reports/demo_test.go:9: reports imports the module root package (in a test), which breaks the rule "reports imports only exposure and rules"`},
		},
		{
			name: "the demo estate imports the model",
			pkgs: []pkg{{path: "demo", uses: []use{prod("exposure", "demo/demo.go:3")}}},
			want: []string{`demo/demo.go:3: demo imports exposure, which breaks the rule "demo (the demo estate: data) imports no module package"`},
		},
		{
			name: "shipped code outside the faces imports demo",
			pkgs: []pkg{
				{path: "audit", uses: []use{prod("demo", "audit/audit.go:9")}},
				{path: "fix", uses: []use{test("demo", "fix/fix_test.go:2")}},
				{path: "reports", uses: []use{test("demo", "reports/demo_test.go:9")}},
			},
			want: []string{
				`audit/audit.go:9: audit imports demo, which breaks the rule "outside tests, only cmd/* and functions/* import demo"`,
				`reports/demo_test.go:9: reports imports demo (in a test), which breaks the rule "reports imports only exposure and rules"`,
			},
		},
		{
			name: "a helper outside the faces imports a provider",
			pkgs: []pkg{{path: "internal/awsconf", uses: []use{prod("providers/aws", "internal/awsconf/conf.go:8")}}},
			want: []string{`internal/awsconf/conf.go:8: internal/awsconf imports providers/aws, which breaks the rule "only audit, cmd/* and functions/* import provider packages"`},
		},
		{
			name: "a test-only exception that gained production code",
			pkgs: []pkg{{path: "providers/conformance", uses: []use{prod("providers/aws", "providers/conformance/suite.go:1")}}},
			want: []string{
				`providers/conformance: excepted from the rule "nothing under a stage imports audit, cmd or functions" as a test-only package (the conformance suite runs every driver on the same situations), but it has non-test Go files`,
				`providers/conformance: excepted from the rule "only audit, cmd/* and functions/* import provider packages" as a test-only package (the conformance suite runs every driver on the same situations), but it has non-test Go files`,
				`providers/conformance: excepted from the rule "providers/* import only exposure, providers and internal/*, and never each other" as a test-only package (the conformance suite runs every driver on the same situations), but it has non-test Go files`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.pkgs, layout)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"exposure", "exposure", true},
		{"exposure", "exposure/x", false},
		{"exposure/...", "exposure", true},
		{"exposure/...", "exposure/x/y", true},
		{"exposure/...", "exposures", false},
		{"providers/*/...", "providers", false},
		{"providers/*/...", "providers/aws", true},
		{"providers/*/...", "providers/aws/internal/x", true},
		{"providers/*", "providers/aws/internal", false},
		{"cmd/...", "cmd/portcullis", true},
		{"...", ".", true},
		{"...", "audit", true},
		{".", ".", true},
		{"audit", ".", false},
		{"*", ".", false},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.path); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
