package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/rules"
)

// TestJSONLayout checks the layout of the compact form on the fixture, a
// document with changes, an empty report, a document with nil lists and
// one whose cloud-provided strings need escaping: valid JSON whose
// top-level fields are indented as json.Encoder would, every element of
// a list or table on a line of its own (so the file reads, greps and
// diffs line by line), strings escaped as encoding/json does, and the
// document read back equal to the one written. json.Marshal of a
// Document is the same JSON.
func TestJSONLayout(t *testing.T) {
	withChanges := fixtureChanges(t)
	empty := NewDocument(&Report{})
	nilLists := &Document{SchemaVersion: SchemaVersion}
	escaped := NewDocument(fixtureReport())
	escaped.Tool.Name = `<script>&"x"</script>` + "\u2028"
	escaped.Errors = append(escaped.Errors, escaped.Errors...)
	for name, d := range map[string]*Document{
		"fixture":   NewDocument(fixtureReport()),
		"changes":   withChanges,
		"empty":     empty,
		"nil lists": nilLists,
		"escaped":   escaped,
	} {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			if err := writeJSON(&got, d); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got.Bytes()) {
				t.Fatalf("not JSON:\n%s", got.Bytes())
			}
			lines := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
			if lines[0] != "{" || lines[len(lines)-1] != "}" || lines[1] != `  "schemaVersion": "`+SchemaVersion+`",` {
				t.Errorf("document does not open with the version:\n%s", strings.Join(lines[:min(3, len(lines))], "\n"))
			}
			inList := false
			for i, l := range lines {
				switch {
				case strings.HasPrefix(l, "  \"") && (strings.HasSuffix(l, ": [") || strings.HasSuffix(l, ": {")) && !strings.HasPrefix(l, "    "):
					inList = strings.Contains(topListNames, strings.Fields(l)[0])
				case l == "  ]," || l == "  }," || l == "  ]" || l == "  }":
					inList = false
				case inList:
					// One element a line: a whole JSON value after an
					// optional table key.
					el := strings.TrimSuffix(strings.TrimPrefix(l, "    "), ",")
					if _, v, ok := strings.Cut(el, `": `); ok && strings.HasPrefix(el, `"`) {
						el = v
					}
					if !json.Valid([]byte(el)) {
						t.Errorf("line %d is not one whole element: %s", i+1, l)
					}
				}
			}
			back, err := Read(bytes.NewReader(got.Bytes()))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if back.Tool != d.Tool || len(back.Exposures) != len(d.Exposures) || len(back.Findings) != len(d.Findings) ||
				len(back.Errors) != len(d.Errors) || (back.Changes == nil) != (d.Changes == nil) {
				t.Errorf("read back %+v, wrote %+v", back.Tool, d.Tool)
			}
			m, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got.Bytes()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, compact.Bytes()) {
				t.Errorf("json.Marshal of the Document differs from writeJSON:\n%s", firstDiff(m, compact.Bytes()))
			}
		})
	}
	var b bytes.Buffer
	if err := writeJSON(&b, escaped); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"name": "\u003cscript\u003e\u0026\"x\"\u003c/script\u003e\u2028"`) {
		t.Errorf("tool name not escaped as encoding/json does:\n%s", b.String()[:300])
	}
}

// topListNames are the top-level lists and tables written one element a
// line.
const topListNames = `"rules": "findings": "targets": "sourceSets": "evidence": "exposures": "compliance": "exceptions": "misconfigurations": "errors":`

// TestJSONShares checks what the compact form is for: each target, source
// set, evidence step and rule text is listed once however many exposures
// and findings use it, and the references point at equal content.
func TestJSONShares(t *testing.T) {
	r := largeReport(300) // 300 targets, 100 groups, one source set, one rule
	d := NewDocument(r)
	var js bytes.Buffer
	if err := writeJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	var w documentV2
	if err := json.Unmarshal(js.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	distinct := func(f func(x *Exposure) []string) int {
		seen := map[string]bool{}
		for _, x := range d.Exposures {
			for _, k := range f(x) {
				seen[k] = true
			}
		}
		return len(seen)
	}
	wantTargets := distinct(func(x *Exposure) []string { return []string{fmt.Sprint(x.Target)} })
	wantSources := distinct(func(x *Exposure) []string { return []string{strings.Join(x.Sources, " ")} })
	wantEvidence := distinct(func(x *Exposure) []string {
		var ks []string
		for _, ev := range x.Evidence {
			ks = append(ks, fmt.Sprint(ev))
		}
		return ks
	})
	wantRules := map[string]bool{}
	for _, f := range d.Findings {
		wantRules[f.RuleID] = true
	}
	if len(w.Targets) != wantTargets || len(w.SourceSets) != wantSources || len(w.Evidence) != wantEvidence || len(w.Rules) != len(wantRules) {
		t.Errorf("tables: %d targets, %d source sets, %d evidence, %d rules; want %d, %d, %d, %d",
			len(w.Targets), len(w.SourceSets), len(w.Evidence), len(w.Rules), wantTargets, wantSources, wantEvidence, len(wantRules))
	}
	if wantTargets < 300 || wantEvidence < 100 || wantEvidence >= len(d.Exposures) {
		t.Fatalf("the large report does not exercise sharing: %d targets, %d evidence for %d exposures", wantTargets, wantEvidence, len(d.Exposures))
	}
	for i, x := range w.Exposures {
		want := d.Exposures[i]
		if fmt.Sprint(w.Targets[x.Target]) != fmt.Sprint(want.Target) || !slices.Equal(w.SourceSets[x.Sources], want.Sources) || len(x.Evidence) != len(want.Evidence) {
			t.Fatalf("exposure %s: references %s %s %v do not resolve to its target, sources, evidence", x.ID, x.Target, x.Sources, x.Evidence)
		}
		for j, ref := range x.Evidence {
			if fmt.Sprint(w.Evidence[ref]) != fmt.Sprint(want.Evidence[j]) {
				t.Fatalf("exposure %s: evidence %s = %+v, want %+v", x.ID, ref, w.Evidence[ref], want.Evidence[j])
			}
		}
		if x.Key != nil {
			t.Errorf("exposure %s writes its key, which the other fields give", x.ID)
		}
	}
	// A finding carries a text field only where it differs from its
	// rule's entry (the fixture's ssh-public has other text than the
	// large report's).
	overrides := 0
	for i, f := range w.Findings {
		r, orig := w.Rules[f.RuleID], d.Findings[i]
		for _, c := range []struct {
			name        string
			has, differ bool
		}{
			{"title", f.Title != nil, orig.Title != r.Title},
			{"service", f.Service != nil, orig.Service != r.Service},
			{"remediation", f.Remediation != nil, orig.Remediation != r.Remediation},
			{"compliance", f.Compliance != nil, !slices.Equal(orig.Compliance, r.Compliance)},
		} {
			if c.has != c.differ {
				t.Errorf("finding %s: %s written %v, differs from its rule's %v", f.ID, c.name, c.has, c.differ)
			}
			if c.has {
				overrides++
			}
		}
	}
	if overrides == 0 || overrides > 4 {
		t.Errorf("%d text fields written on findings, want those of the one fixture finding whose rule text differs", overrides)
	}
	// Against the 1.1 form of the same document: at most half the bytes.
	if v1 := writeV1(t, d); js.Len()*2 > len(v1) {
		t.Errorf("compact form is %d bytes, the 1.1 form %d: want at most half", js.Len(), len(v1))
	}
}

// TestJSONRuleTextOverride: findings of one rule ID with different text
// (a report merged from two catalogs) keep their own text: it is written
// on the finding, and read back in place of the rule's.
func TestJSONRuleTextOverride(t *testing.T) {
	d := NewDocument(fixtureReport())
	var a, b *Finding
	for _, f := range d.Findings {
		if f.RuleID == "ssh-public" {
			a = f
		}
	}
	if a == nil {
		t.Fatal("fixture has no ssh-public finding")
	}
	c := *a
	b = &c
	b.ID, b.Title, b.Service, b.Remediation, b.Compliance = a.ID+"-b", "", "sftp", "other", []rules.ComplianceRef{}
	d.Findings = append(d.Findings, b)
	var js bytes.Buffer
	if err := writeJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"ruleId":"ssh-public","title":"","severity"`) || !strings.Contains(js.String(), `"compliance":[],"remediation":"other"`) {
		t.Errorf("the differing text is not written on the finding:\n%s", js.String())
	}
	back, err := Read(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range back.Findings {
		var want *Finding
		switch f.ID {
		case a.ID:
			want = a
		case b.ID:
			want = b
		default:
			continue
		}
		if f.Title != want.Title || f.Service != want.Service || f.Remediation != want.Remediation || !slices.Equal(f.Compliance, want.Compliance) {
			t.Errorf("finding %s read back with %q %q %q %v, want %q %q %q %v", f.ID, f.Title, f.Service, f.Remediation, f.Compliance,
				want.Title, want.Service, want.Remediation, want.Compliance)
		}
	}
}

// failingWriter accepts n bytes, then fails every write.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestJSONStreamReturnsWriteError checks that the first write error is
// returned, whether it comes while streaming (a document larger than the
// 64 KiB buffer) or at the final flush.
func TestJSONStreamReturnsWriteError(t *testing.T) {
	big := NewDocument(fixtureReport())
	for len(big.Errors) < 4096 {
		big.Errors = append(big.Errors, big.Errors...)
	}
	var full bytes.Buffer
	if err := writeJSON(&full, big); err != nil {
		t.Fatal(err)
	}
	if full.Len() <= 2*(64<<10) {
		t.Fatalf("document is %d bytes, want more than two buffers", full.Len())
	}
	for _, n := range []int{0, 100, 64 << 10, full.Len() - 1} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			if err := writeJSON(&failingWriter{n: n}, big); !errors.Is(err, errDiskFull) {
				t.Errorf("writeJSON after %d bytes = %v, want %v", n, err, errDiskFull)
			}
		})
	}
	if err := writeJSON(&failingWriter{n: full.Len()}, big); err != nil {
		t.Errorf("writeJSON with room for the whole document = %v, want nil", err)
	}
}
