package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// documentV1 is the Document without its MarshalJSON: encoded with a
// two-space indent it is the JSON report of schema 1.x, byte for byte
// what the releases before 2.0 wrote (their writer was tested against
// exactly this encoding).
type documentV1 Document

// writeV1 writes d as a release of schema 1.1 did.
func writeV1(t testing.TB, d *Document) []byte {
	t.Helper()
	v1 := *d
	v1.SchemaVersion = "1.1"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode((*documentV1)(&v1)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// assertRoundTrip checks the contract of the JSON report: everything any
// format shows is derivable from the JSON. For every format, rendering
// the document read back from the JSON gives the bytes of the direct
// render of the Report: from the JSON this release writes (2.0), and
// from the JSON a 1.1 release wrote for the same report.
func assertRoundTrip(t *testing.T, r *Report) {
	t.Helper()
	var js bytes.Buffer
	if err := Write(&js, "json", r); err != nil {
		t.Fatal(err)
	}
	t.Run("2.0", func(t *testing.T) { assertRendersAsDirect(t, r, js.Bytes()) })
	t.Run("1.1", func(t *testing.T) { assertRendersAsDirect(t, r, writeV1(t, NewDocument(r))) })
}

// assertRendersAsDirect reads js and renders it in every format, each
// compared with the direct render of r.
func assertRendersAsDirect(t *testing.T, r *Report, js []byte) {
	t.Helper()
	d, err := Read(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, format := range Formats() {
		var direct, again bytes.Buffer
		if err := Write(&direct, format, r); err != nil {
			t.Fatal(err)
		}
		if err := Render(&again, format, d); err != nil {
			t.Fatalf("Render(%s) of the read document: %v", format, err)
		}
		if !bytes.Equal(again.Bytes(), direct.Bytes()) {
			t.Errorf("%s rendered from the JSON differs from the direct render:\n%s", format, firstDiff(again.Bytes(), direct.Bytes()))
		}
	}
	// The options writers too: the coloured table, CSV by exposure.
	var direct, again bytes.Buffer
	if err := WriteTable(&direct, r, TableOptions{Color: true, Width: 80}); err != nil {
		t.Fatal(err)
	}
	if err := RenderTable(&again, d, TableOptions{Color: true, Width: 80}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), direct.Bytes()) {
		t.Errorf("coloured table from the JSON differs:\n%s", firstDiff(again.Bytes(), direct.Bytes()))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		r    *Report
	}{
		{"fixture", fixtureReport()},
		{"hostile", hostileReport()},
		{"empty", &Report{}},
		{"large", largeReport(300)},
	} {
		t.Run(c.name, func(t *testing.T) { assertRoundTrip(t, c.r) })
	}
}

// TestReadLinksAndLabels checks what Read recomputes, independently of the
// writers: every finding points at the exposure its exposureId names, and
// the labels equal the built document's.
func TestReadLinksAndLabels(t *testing.T) {
	built := NewDocument(fixtureReport())
	d, err := Read(bytes.NewReader(render(t, "json", fixtureReport())))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Exposures) != len(built.Exposures) || len(d.Findings) != len(built.Findings) {
		t.Fatalf("read %d exposures, %d findings; built %d, %d", len(d.Exposures), len(d.Findings), len(built.Exposures), len(built.Findings))
	}
	for i, x := range d.Exposures {
		b := built.Exposures[i]
		if x.SourcesLabel != b.SourcesLabel || x.MaxSeverity != b.MaxSeverity || x.HasFindings != b.HasFindings || x.Matched != b.Matched {
			t.Errorf("exposure %s: labels %q %v %v %v, built %q %v %v %v", x.ID, x.SourcesLabel, x.MaxSeverity, x.HasFindings, x.Matched,
				b.SourcesLabel, b.MaxSeverity, b.HasFindings, b.Matched)
		}
		if x.Key != b.Key {
			t.Errorf("exposure %s: key %+v, built %+v", x.ID, x.Key, b.Key)
		}
	}
	for _, f := range d.Findings {
		if f.Exposure == nil || f.Exposure.ID != f.ExposureID {
			t.Errorf("finding %s not linked to exposure %s", f.ID, f.ExposureID)
		}
	}
	if got := d.Summary.Failing; got != 4 {
		t.Errorf("Summary.Failing = %d, want 4", got)
	}
}

// TestKeyIsTheModelKey: the JSON key is exposure.Key, and keyOf (what Read
// derives for a 1.0 report) agrees with it.
func TestKeyIsTheModelKey(t *testing.T) {
	r := fixtureReport()
	d := NewDocument(r)
	byID := map[string]*Exposure{}
	for _, x := range d.Exposures {
		byID[x.ID] = x
	}
	for _, e := range r.Exposures {
		x := byID[e.ID()]
		if x.Key != e.Key() {
			t.Errorf("exposure %s: key %+v, want e.Key() %+v", x.ID, x.Key, e.Key())
		}
		if k := keyOf(x); k != e.Key() {
			t.Errorf("exposure %s: keyOf %+v, want %+v", x.ID, k, e.Key())
		}
	}
}

// TestReadGolden11 reads the fixture's JSON report as the last 1.x
// release wrote it (testdata/report-1.1.json, checked in, never
// rewritten) and renders every format: each equals this release's golden
// file, the JSON included (the migration to 2.0).
func TestReadGolden11(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "report-1.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(old, []byte(`"schemaVersion": "1.1"`)) {
		t.Fatal("testdata/report-1.1.json is not a 1.1 report")
	}
	d, err := Read(bytes.NewReader(old))
	if err != nil {
		t.Fatalf("Read of the 1.1 golden: %v", err)
	}
	if d.SchemaVersion != SchemaVersion {
		t.Errorf("read document has schema %s, want it migrated to %s", d.SchemaVersion, SchemaVersion)
	}
	for _, format := range Formats() {
		want, err := os.ReadFile(filepath.Join("testdata", goldenName[format]))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := Render(&got, format, d); err != nil {
			t.Fatalf("Render(%s): %v", format, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s rendered from the 1.1 golden differs from testdata/%s:\n%s", format, goldenName[format], firstDiff(got.Bytes(), want))
		}
	}
}

// TestReadSchema10 reads a report written before the key existed: the
// key is derived from the other fields.
func TestReadSchema10(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(writeV1(t, NewDocument(fixtureReport())), &m); err != nil {
		t.Fatal(err)
	}
	m["schemaVersion"] = "1.0"
	for _, x := range m["exposures"].([]any) {
		delete(x.(map[string]any), "key")
	}
	old, _ := json.Marshal(m)
	d, err := Read(bytes.NewReader(old))
	if err != nil {
		t.Fatalf("Read of a 1.0 report: %v", err)
	}
	built := NewDocument(fixtureReport())
	for i, x := range d.Exposures {
		if x.Key != built.Exposures[i].Key {
			t.Errorf("exposure %s: derived key %+v, want %+v", x.ID, x.Key, built.Exposures[i].Key)
		}
	}
	var got bytes.Buffer
	if err := Render(&got, "table", d); err != nil {
		t.Fatal(err)
	}
	if want := render(t, "table", fixtureReport()); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("table of the 1.0 report differs:\n%s", firstDiff(got.Bytes(), want))
	}
}

func TestReadRejects(t *testing.T) {
	good := string(render(t, "json", fixtureReport()))
	goodV1 := string(writeV1(t, NewDocument(fixtureReport())))
	firstExposure := NewDocument(fixtureReport()).Exposures[0].ID
	for _, c := range []struct {
		name, in, want string
	}{
		{"empty input", "", "not JSON"},
		{"truncated", good[:len(good)/2], "not JSON"},
		{"not an object", `[1,2,3]`, "not a JSON report object"},
		{"a string", `"report"`, "not a JSON report object"},
		{"null", `null`, "no schemaVersion"},
		{"no version", `{"tool":{"name":"x"}}`, "no schemaVersion"},
		{"other major", strings.Replace(good, `"schemaVersion": "2.0"`, `"schemaVersion": "3.0"`, 1),
			"schemaVersion 3.0 is not supported: this release reads 1.x and 2.x (writes " + SchemaVersion + ")"},
		{"major zero", `{"schemaVersion":"0.9"}`, "schemaVersion 0.9 is not supported"},
		{"not a version", `{"schemaVersion":"one"}`, `schemaVersion "one" is not a version`},
		{"version not a string", `{"schemaVersion":1}`, "not a JSON report object"},
		{"trailing data", good + `{}`, "data after the report object"},
		{"1.x wrong type", `{"schemaVersion":"1.1","exposures":{"a":1}}`, "cannot unmarshal"},
		{"bad severity", `{"schemaVersion":"1.1","summary":{"failOn":"severe"}}`, "severe"},
		{"bad protocol", `{"schemaVersion":"1.1","exposures":[{"id":"a","protocol":"tcpp"}]}`, "tcpp"},
		{"null exposure", `{"schemaVersion":"1.1","exposures":[null]}`, "exposures[0] is null"},
		{"exposure without id", `{"schemaVersion":"1.1","exposures":[{"sources":[]}]}`, "exposures[0] has no id"},
		{"duplicate exposure", `{"schemaVersion":"1.1","exposures":[{"id":"a"},{"id":"a"}]}`, "id a appears twice"},
		{"bad source", `{"schemaVersion":"1.1","exposures":[{"id":"a","sources":["300.0.0.0/8"]}]}`, "exposure a: sources"},
		{"null finding", `{"schemaVersion":"1.1","findings":[null]}`, "findings[0] is null"},
		{"1.x finding without exposure", strings.Replace(goodV1, `"exposureId": "`+firstExposure+`"`, `"exposureId": "0000000000000000"`, 1),
			`exposure "0000000000000000" is not in the report`},
		// The compact form: every reference must resolve.
		{"2.0 finding without exposure", strings.Replace(good, `"exposureId":"`+firstExposure+`"`, `"exposureId":"0000000000000000"`, 1),
			`exposure "0000000000000000" is not in the report`},
		{"2.0 inline target", `{"schemaVersion":"2.0","exposures":[{"id":"a","target":{"id":"i-1"}}]}`, "cannot unmarshal"},
		{"2.0 unknown target", `{"schemaVersion":"2.0","targets":{"t1":{"kind":"k","id":"i"}},"sourceSets":{"s1":[]},"exposures":[{"id":"a","target":"t2","sources":"s1"}]}`,
			`exposure a: target "t2" is not in targets`},
		{"2.0 unknown sources", `{"schemaVersion":"2.0","targets":{"t1":{"kind":"k","id":"i"}},"exposures":[{"id":"a","target":"t1","sources":"s1"}]}`,
			`exposure a: sources "s1" is not in sourceSets`},
		{"2.0 unknown evidence", `{"schemaVersion":"2.0","targets":{"t1":{"kind":"k","id":"i"}},"sourceSets":{"s1":[]},"evidence":{"e1":{"layer":"sg-1"}},"exposures":[{"id":"a","target":"t1","sources":"s1","evidence":["e1","e2"]}]}`,
			`exposure a: evidence "e2" is not in evidence`},
		{"2.0 exposure without id", `{"schemaVersion":"2.0","targets":{"t1":{"kind":"k","id":"i"}},"sourceSets":{"s1":[]},"exposures":[{"target":"t1","sources":"s1"}]}`,
			"exposures[0] has no id"},
		{"2.0 null exposure", `{"schemaVersion":"2.0","exposures":[null]}`, "exposures[0] is null"},
		{"2.0 null finding", `{"schemaVersion":"2.0","findings":[null]}`, "findings[0] is null"},
		{"2.0 unknown rule", `{"schemaVersion":"2.1","rules":{"a":{"title":"A"}},"findings":[{"id":"f","ruleId":"b","exposureId":"x"}]}`,
			`finding f: rule "b" is not in rules`},
		{"2.0 bad source", `{"schemaVersion":"2.0","targets":{"t1":{"kind":"k","id":"i"}},"sourceSets":{"s1":["300.0.0.0/8"]},"exposures":[{"id":"a","target":"t1","sources":"s1"}]}`,
			"exposure a: sources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := Read(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("Read accepted it: %+v", d)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "read report: ") {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// FuzzRead: whatever the input, Read returns a document or an error, and
// a document it returns renders in every format without panicking.
func FuzzRead(f *testing.F) {
	var seed bytes.Buffer
	if err := Write(&seed, "json", fixtureReport()); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Bytes())
	f.Add([]byte(`{"schemaVersion":"1.0"}`))
	f.Add(writeV1(f, NewDocument(fixtureReport())))
	f.Add([]byte(`{"schemaVersion":"2.0","rules":{"r":{"title":"T"}},"targets":{"t1":{"kind":"k","id":"i"}},"sourceSets":{"s1":["0.0.0.0/0"]},` +
		`"evidence":{"e1":{"layer":"sg-1","layerKind":"security-group","action":"allow"}},` +
		`"exposures":[{"id":"a","target":"t1","sources":"s1","evidence":["e1"]}],"findings":[{"id":"f","ruleId":"r","exposureId":"a","severity":"high"}]}`))
	f.Add([]byte(`{"schemaVersion":"1.1","exposures":[{"id":"a","sources":["0.0.0.0/0"]}],"findings":[{"exposureId":"a","severity":"high"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, format := range Formats() {
			var buf bytes.Buffer
			if err := Render(&buf, format, d); err != nil {
				t.Fatalf("Render(%s): %v", format, err)
			}
		}
	})
}

// The fixtures use rules types as the engine returns them; the JSON shape
// of compliance, exceptions and misconfigurations is the builder's.
func TestShapingOfRulesTypes(t *testing.T) {
	r := &Report{
		Compliance: []rules.ControlResult{{Framework: "cis-aws", Control: "5.2", Title: "t", Status: rules.StatusFail,
			Reason: "2 findings", Evidence: []rules.ControlEvidence{
				{FindingID: "f1", ExposureID: "e1", Resource: "sg-1", Detail: "tcp/22"},
				{ExposureID: "e2", Resource: "sg-2"},
				{Resource: "acl-3", Detail: "rule 100"},
			}}},
		Exceptions: []rules.ExceptionStatus{{State: rules.ExceptionExpired, Matched: 2, Exception: rules.Exception{
			Rule: "ssh-public", Resource: "sg-1", Port: "22", Reason: "r", Owner: "o", Expires: "2026-01-01", Source: "x.yaml:3"}}},
		Misconfigurations: []rules.Misconfiguration{
			{Kind: "nacl-return", Title: "t", Severity: rules.Medium, Scope: exposure.Scope{Provider: "aws", Account: "1"},
				Layer: "acl-1", LayerName: "edge", Message: "m", Remediation: "fix"},
			{Kind: "default-sg", Title: "t2", Layer: "sg-9", LayerName: "sg-9", Message: "m2"},
		},
	}
	d := NewDocument(r)
	if got, want := d.Compliance[0].Evidence, []string{"2 findings", "f1: tcp/22", "e2", "acl-3: rule 100"}; !slices.Equal(got, want) {
		t.Errorf("control evidence = %q, want %q", got, want)
	}
	if x := d.Exceptions[0]; x != (ExceptionEntry{Kind: rules.ExceptionExpired, Rule: "ssh-public", Resource: "sg-1", Reason: "r",
		Owner: "o", Expires: "2026-01-01", Source: "x.yaml:3"}) {
		t.Errorf("exception = %+v", x)
	}
	var res []string
	for _, m := range d.Misconfigurations {
		res = append(res, m.ID+" "+m.Resource)
	}
	if want := []string{"default-sg sg-9", "nacl-return acl-1 (edge)"}; !slices.Equal(res, want) {
		t.Errorf("misconfigurations = %q, want %q", res, want)
	}
	if d.Summary.Compliance.Fail != 1 || d.Summary.Exceptions.Expired != 1 || d.Summary.Misconfigurations != 2 {
		t.Errorf("summary = %+v", d.Summary)
	}
}
