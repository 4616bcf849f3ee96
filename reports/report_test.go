package reports

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenName maps a format to its golden file.
var goldenName = map[string]string{
	"table": "report.txt", "json": "report.json", "csv": "report.csv", "markdown": "report.md",
	"html": "report.html", "sarif": "report.sarif", "ocsf": "report.ocsf.json", "asff": "report.asff.json",
}

func render(t *testing.T, format string, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, r); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			name, ok := goldenName[format]
			if !ok {
				t.Fatalf("format %s has no golden file name", format)
			}
			got := render(t, format, fixtureReport())
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./reports -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s output differs from %s (review and run go test ./reports -update):\n%s", format, path, firstDiff(got, want))
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n got: " + a + "\nwant: " + b
		}
	}
	return "(lengths differ)"
}

func TestFormatsAndUnknown(t *testing.T) {
	want := []string{"asff", "csv", "html", "json", "markdown", "ocsf", "sarif", "table"}
	if got := Formats(); !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	err := Write(&bytes.Buffer{}, "xml", fixtureReport())
	if err == nil || !strings.Contains(err.Error(), `unknown report format "xml"`) {
		t.Errorf("Write(xml) error = %v, want unknown format", err)
	}
	if err := Write(&bytes.Buffer{}, "json", nil); err == nil {
		t.Error("Write(nil report) succeeded")
	}
	if err := Write(&bytes.Buffer{}, " JSON ", fixtureReport()); err != nil {
		t.Errorf("format names are case-insensitive: %v", err)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse report: %v", err)
	}
	return s.Validate(inst)
}

func TestJSONMatchesSchema(t *testing.T) {
	s := compileSchema(t)
	for name, r := range map[string]*Report{
		"fixture": fixtureReport(),
		"hostile": hostileReport(),
		"empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			if err := validate(t, s, render(t, "json", r)); err != nil {
				t.Errorf("report does not match the schema: %v", err)
			}
		})
	}
}

// TestSchemaRejects proves the schema is not vacuous: each edit of a valid
// report breaks one documented constraint.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	base := render(t, "json", fixtureReport())
	for name, edit := range map[string]func(m map[string]any){
		"missing exposureId":   func(m map[string]any) { delete(finding(m, 0), "exposureId") },
		"unknown severity":     func(m map[string]any) { finding(m, 0)["severity"] = "severe" },
		"unknown level":        func(m map[string]any) { exposureAt(m, 0)["level"] = "maybe" },
		"port out of range":    func(m map[string]any) { exposureAt(m, 0)["toPort"] = 70000 },
		"effective no address": func(m map[string]any) { delete(exposureAt(m, 0), "address") },
		"bad CIDR":             func(m map[string]any) { table(m, "sourceSets")["s1"] = []any{"anyone"} },
		"unknown field":        func(m map[string]any) { m["extra"] = true },
		"suppressed no reason": func(m map[string]any) { delete(suppressedFinding(m), "suppression") },
		"wrong version":        func(m map[string]any) { m["schemaVersion"] = "1.1" },
		// The compact form's references and tables.
		"inline target":      func(m map[string]any) { exposureAt(m, 0)["target"] = map[string]any{"kind": "k", "id": "i"} },
		"inline sources":     func(m map[string]any) { exposureAt(m, 0)["sources"] = []any{"0.0.0.0/0"} },
		"inline evidence":    func(m map[string]any) { exposureAt(m, 0)["evidence"] = []any{map[string]any{"layer": "sg-1"}} },
		"bad target ref":     func(m map[string]any) { exposureAt(m, 0)["target"] = "x1" },
		"bad table key":      func(m map[string]any) { table(m, "targets")["target-1"] = table(m, "targets")["t1"] },
		"target without id":  func(m map[string]any) { delete(table(m, "targets")["t1"].(map[string]any), "id") },
		"evidence no action": func(m map[string]any) { delete(table(m, "evidence")["e1"].(map[string]any), "action") },
		"rule without title": func(m map[string]any) { delete(table(m, "rules")["ssh-public"].(map[string]any), "title") },
		"no rules table":     func(m map[string]any) { delete(m, "rules") },
		"no targets table":   func(m map[string]any) { delete(m, "targets") },
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			b, _ := json.Marshal(m)
			if err := validate(t, s, b); err == nil {
				t.Error("schema accepted an invalid report")
			}
		})
	}
}

func finding(m map[string]any, i int) map[string]any {
	return m["findings"].([]any)[i].(map[string]any)
}

func table(m map[string]any, name string) map[string]any {
	return m[name].(map[string]any)
}

func exposureAt(m map[string]any, i int) map[string]any {
	return m["exposures"].([]any)[i].(map[string]any)
}

func suppressedFinding(m map[string]any) map[string]any {
	for _, f := range m["findings"].([]any) {
		if f.(map[string]any)["suppressed"] == true {
			return f.(map[string]any)
		}
	}
	panic("fixture has no suppressed finding")
}

// decode reads the JSON report of r back (resolving its tables).
func decode(t *testing.T, r *Report) *Document {
	t.Helper()
	d, err := Read(bytes.NewReader(render(t, "json", r)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestJSONContent checks the values users script against, independently of
// the golden file.
func TestJSONContent(t *testing.T) {
	r := fixtureReport()
	d := decode(t, r)

	ids := map[string]*Exposure{}
	for _, e := range d.Exposures {
		ids[e.ID] = e
	}
	for _, e := range r.Exposures {
		if ids[e.ID()] == nil {
			t.Errorf("exposure %s (%s) missing from the report", e.ID(), e.Target.ID)
		}
	}
	for _, f := range d.Findings {
		if ids[f.ExposureID] == nil {
			t.Errorf("finding %s points at unknown exposure %s", f.RuleID, f.ExposureID)
		}
	}

	// Findings: severity first, then effective before latent.
	var got []string
	for _, f := range d.Findings {
		got = append(got, f.Severity.String()+" "+f.RuleID)
	}
	// Within a severity: effective before latent, then provider, account,
	// region and target ID (the load balancer's ARN sorts before "eni-").
	want := []string{"critical rdp-public", "critical telnet-public", "high postgres-public", "high ssh-public",
		"high mysql-public", "medium wide-port-range"}
	if !slices.Equal(got, want) {
		t.Errorf("finding order = %q, want %q", got, want)
	}

	byRule := map[string]*Finding{}
	for _, f := range d.Findings {
		byRule[f.RuleID] = f
	}
	pg := ids[byRule["postgres-public"].ExposureID]
	if pg.Address != nlbHost || pg.AddressFamily != "ipv4" || pg.FromPort != 15432 || pg.Backend == nil ||
		pg.Backend.FromPort != 5432 || pg.Backend.Forward != lstARN || byRule["postgres-public"].Port != 5432 {
		t.Errorf("translated exposure = %+v backend %+v", pg, pg.Backend)
	}
	if !slices.Equal(pg.Sources, []string{"198.51.100.0/24"}) || pg.SourceBreadth != exposure.BreadthNarrow {
		t.Errorf("postgres sources = %v %s", pg.Sources, pg.SourceBreadth)
	}
	rdp := ids[byRule["rdp-public"].ExposureID]
	if rdp.AddressFamily != "ipv6" || rdp.SourceBreadth != exposure.BreadthAnyone || rdp.Probe == nil ||
		rdp.Probe.State != exposure.ProbeFiltered {
		t.Errorf("ipv6 exposure = %+v probe %+v", rdp, rdp.Probe)
	}
	ssh := ids[byRule["ssh-public"].ExposureID]
	if ssh.Probe == nil || ssh.Probe.State != exposure.ProbeOpen || ssh.Probe.Service != "ssh" || ssh.Probe.RTTMs != 12.5 {
		t.Errorf("ssh probe = %+v", ssh.Probe)
	}
	if len(ssh.Evidence) != 3 || ssh.Evidence[1].Layer != "acl-0b1c2d3e4f5a6b7c8" || ssh.Evidence[1].Rule != "100" {
		t.Errorf("ssh evidence = %+v", ssh.Evidence)
	}
	my := ids[byRule["mysql-public"].ExposureID]
	if my.Level != exposure.Latent || my.Address != "" || my.Probe != nil {
		t.Errorf("latent exposure = %+v", my)
	}
	tel := byRule["telnet-public"]
	if !tel.Suppressed || tel.Suppression == nil || tel.Suppression.Owner != "secops@example.com" {
		t.Errorf("suppressed finding = %+v", tel)
	}
	if f := byRule["ssh-public"]; f.ID != "5f1d0c3b9a7e2468" || f.MatchedBy != "port" || f.Probe == nil || f.Probe.Product != "OpenSSH_9.6" {
		t.Errorf("the rules engine's finding ID, match and probe are kept: %+v", f)
	}
	if f := byRule["rdp-public"]; f.ExpiredException == nil || f.ExpiredException.Source != "exceptions.yaml:4" || f.Suppressed {
		t.Errorf("expired exception = %+v", f.ExpiredException)
	}
	if c := byRule["ssh-public"].Compliance; len(c) != 2 || c[0].Framework != "cis-aws" {
		t.Errorf("compliance refs not sorted: %+v", c)
	}

	s := d.Summary
	if s.Exposures != (ExposureCounts{Total: 7, Effective: 5, Latent: 2, Targets: 3}) {
		t.Errorf("exposure counts = %+v", s.Exposures)
	}
	if s.Findings.Total != 6 || s.Findings.Active != 5 || s.Findings.Suppressed != 1 ||
		s.Findings.BySeverity != (SeverityCounts{Critical: 1, High: 3, Medium: 1}) ||
		s.Findings.ByLevel != (LevelCounts{Effective: 3, Latent: 2}) {
		t.Errorf("finding counts = %+v", s.Findings)
	}
	if s.Failing != 4 || s.FailOn != rules.High || !s.Partial || s.Errors != 1 {
		t.Errorf("summary = %+v", s)
	}
	if s.Compliance != (ComplianceCounts{Pass: 1, Fail: 2, NotApplicable: 1}) {
		t.Errorf("compliance counts = %+v", s.Compliance)
	}
	var ctl []string
	for _, c := range d.Compliance {
		ctl = append(ctl, c.ID)
	}
	if !slices.Equal(ctl, []string{"5.1", "5.2", "5.3", "5.10"}) {
		t.Errorf("controls not in natural order: %v", ctl)
	}
}

// TestDeterministic shuffles every input list: the output must not change.
func TestDeterministic(t *testing.T) {
	want := map[string][]byte{}
	for _, f := range Formats() {
		want[f] = render(t, f, fixtureReport())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		r := fixtureReport()
		rng.Shuffle(len(r.Exposures), func(i, j int) { r.Exposures[i], r.Exposures[j] = r.Exposures[j], r.Exposures[i] })
		rng.Shuffle(len(r.Findings), func(i, j int) { r.Findings[i], r.Findings[j] = r.Findings[j], r.Findings[i] })
		rng.Shuffle(len(r.Observations), func(i, j int) {
			r.Observations[i], r.Observations[j] = r.Observations[j], r.Observations[i]
		})
		rng.Shuffle(len(r.Compliance), func(i, j int) { r.Compliance[i], r.Compliance[j] = r.Compliance[j], r.Compliance[i] })
		rng.Shuffle(len(r.Exceptions), func(i, j int) { r.Exceptions[i], r.Exceptions[j] = r.Exceptions[j], r.Exceptions[i] })
		for _, f := range Formats() {
			if got := render(t, f, r); !bytes.Equal(got, want[f]) {
				t.Fatalf("shuffle %d: %s output changed:\n%s", i, f, firstDiff(got, want[f]))
			}
		}
	}
}

func TestWriteDoesNotModifyReport(t *testing.T) {
	r := fixtureReport()
	before := make([]string, len(r.Exposures))
	for i, e := range r.Exposures {
		before[i] = e.ID()
	}
	for _, f := range Formats() {
		render(t, f, r)
	}
	for i, e := range r.Exposures {
		if e.ID() != before[i] {
			t.Fatalf("Write reordered or modified Report.Exposures")
		}
	}
}

func TestFindingWithoutExposure(t *testing.T) {
	r := fixtureReport()
	r.Findings = append(r.Findings, rules.Finding{RuleID: "broken", Severity: rules.Critical})
	d := decode(t, r)
	if len(d.Findings) != 6 {
		t.Errorf("findings = %d, want the 6 valid ones", len(d.Findings))
	}
	if !slices.ContainsFunc(d.Errors, func(e exposure.Error) bool {
		return e.Stage == "report" && strings.Contains(e.Resource, "rule broken")
	}) {
		t.Errorf("broken finding not reported as an error: %+v", d.Errors)
	}
}

func TestFindingOnUnlistedExposure(t *testing.T) {
	r := fixtureReport()
	r.Exposures = r.Exposures[:1] // the other findings' exposures are not listed
	d := decode(t, r)
	if len(d.Exposures) != 6 {
		t.Errorf("exposures = %d, want the listed one and every exposure a finding points at (6)", len(d.Exposures))
	}
}

func TestTableWidth(t *testing.T) {
	for _, width := range []int{80, 120, 160} {
		var buf bytes.Buffer
		if err := WriteTable(&buf, fixtureReport(), TableOptions{Width: width}); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(buf.String(), "\n") {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: line %d has %d runes: %q", width, i+1, n, line)
			}
		}
	}
}

func TestTableColor(t *testing.T) {
	plain := render(t, "table", fixtureReport())
	if bytes.Contains(plain, []byte("\x1b[")) {
		t.Error("Write(table) emits ANSI escapes; colour must be opt-in")
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, fixtureReport(), TableOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\x1b[1;31mCRITICAL\x1b[0m") {
		t.Errorf("coloured table lacks a red CRITICAL:\n%s", buf.String())
	}
	// Colour must not change the layout: stripping it gives the plain table.
	stripped := strings.NewReplacer("\x1b[1;31m", "", "\x1b[31m", "", "\x1b[33m", "", "\x1b[36m", "", "\x1b[2m", "", "\x1b[0m", "").Replace(buf.String())
	if stripped != string(plain) {
		t.Errorf("coloured table differs from the plain one once colours are removed:\n%s", firstDiff([]byte(stripped), plain))
	}
}

func TestCSVExposureRows(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, fixtureReport(), CSVOptions{Exposures: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 8 { // header + 7 exposures, including the HTTPS one no rule matched
		t.Errorf("exposure CSV has %d lines, want 8:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "exposure_id,level,max_severity,rules,") {
		t.Errorf("header = %s", lines[0])
	}
}
