package state

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// as20 rewrites a document as a report of schema 2.0 (the compact form)
// and reads it back.
func as20(t *testing.T, d *reports.Document) *reports.Document {
	t.Helper()
	var b bytes.Buffer
	if err := reports.Render(&b, "json", d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte(`"schemaVersion": "2.0"`)) || !bytes.Contains(b.Bytes(), []byte(`"targets": {`)) {
		t.Fatalf("not the 2.0 form:\n%.300s", b.Bytes())
	}
	back, err := reports.Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// TestDiffDocumentsAcrossSchemas: the testdata reports are 1.1 (written
// by hand); diffing them rewritten as 2.0, or one of each (a state
// directory that holds a 1.x report from before the upgrade), gives the
// same changes with the same keys.
func TestDiffDocumentsAcrossSchemas(t *testing.T) {
	want, err := DiffDocuments(readDoc(t, "old.json"), readDoc(t, "new.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		old, new *reports.Document
	}{
		{"2.0 to 2.0", as20(t, readDoc(t, "old.json")), as20(t, readDoc(t, "new.json"))},
		{"1.1 to 2.0", readDoc(t, "old.json"), as20(t, readDoc(t, "new.json"))},
		{"2.0 to 1.1", as20(t, readDoc(t, "old.json")), readDoc(t, "new.json")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DiffDocuments(c.old, c.new, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d changes, want %d", len(got), len(want))
			}
			for i := range got {
				if g, w := changeSummary(got[i]), changeSummary(want[i]); g != w {
					t.Errorf("change %d: %s, want %s", i, g, w)
				}
			}
		})
	}
	a, err := FromDocument(as20(t, readDoc(t, "new.json")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromDocument(readDoc(t, "new.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the audit read from the 2.0 report differs from the 1.1 one's:\n%+v\n%+v", a, b)
	}
}

// changeSummary is what a diff says about one change: kind, key, the
// severities before and after, and how many report rows it leads to.
func changeSummary(c Change) string {
	sev := func(s *Entry) string {
		if s == nil {
			return "-"
		}
		return s.Severity.String()
	}
	return fmt.Sprintf("%s %s %s→%s observed %d", c.Kind, c.Key, sev(c.Before), sev(c.After), len(c.Observed))
}

func readDoc(t *testing.T, name string) *reports.Document {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := reports.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDiffDocuments is `portcullis diff old.json new.json`: eu-west-1
// widens SSH from an office range to the world, resolves RDP and opens
// DNS; us-east-1 failed to collect, so its web exposure is unverified, not
// resolved; the GCP project (one baseline for the project, whatever the
// region) is newly confirmed by a probe.
func TestDiffDocuments(t *testing.T) {
	changes, err := DiffDocuments(readDoc(t, "old.json"), readDoc(t, "new.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind)+" "+c.Key.Target)
	}
	want := []string{"widened eni-1", "resolved eni-2", "new eni-4", "unverified eni-3", "confirmed vm-1"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("changes:\n got %v\nwant %v", got, want)
	}
	ssh := changes[0]
	if ssh.After.Severity != rules.Critical || ssh.Before.Severity != rules.High {
		t.Errorf("severity %s → %s, want high → critical", ssh.Before.Severity, ssh.After.Severity)
	}
	if len(ssh.Observed) != 1 || ssh.Observed[0].Exposure == nil || ssh.Observed[0].Exposure.ID != "e-ssh-wide" {
		t.Errorf("widened change does not lead back to the report row: %+v", ssh.Observed)
	}
	if !ssh.After.FirstSeen.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) || !ssh.After.LastSeen.Equal(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("first/last seen %v %v, want the reports' times", ssh.After.FirstSeen, ssh.After.LastSeen)
	}
	if vm := changes[4]; vm.Key.Scope != (exposure.Scope{Provider: "gcp", Account: "demo-project", Region: "us-central1"}) {
		t.Errorf("gcp key scope %v: the key keeps the region, only the baseline is per project", vm.Key.Scope)
	}
}

func TestFromDocument(t *testing.T) {
	a, err := FromDocument(readDoc(t, "new.json"))
	if err != nil {
		t.Fatal(err)
	}
	euw := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	use := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "us-east-1"}
	gcp := exposure.Scope{Provider: "gcp", Account: "demo-project"}
	if r := a.Run(euw); r == nil || r.Incomplete || len(r.Exposures) != 2 {
		t.Errorf("eu-west-1 run: %+v", r)
	}
	if r := a.Run(use); r == nil || !r.Incomplete || len(r.Exposures) != 0 {
		t.Errorf("us-east-1 (failed, nothing seen) run: %+v; want an empty incomplete run", r)
	}
	if r := a.Run(gcp); r == nil || len(r.Exposures) != 1 || r.Exposures[0].Probe != exposure.ProbeOpen {
		t.Errorf("gcp run: %+v", r)
	}
	// Covered but nothing seen: an empty complete run, which resolves.
	// The report lists providers, accounts and regions apart, so coverage
	// is their cross product (see Audit.Audited).
	if r := a.Run(exposure.Scope{Provider: "gcp", Account: "111122223333"}); r == nil || r.Incomplete || len(r.Exposures) != 0 {
		t.Errorf("covered empty scope: %+v", r)
	}
	// Not covered at all: leave the baseline alone.
	for _, s := range []exposure.Scope{
		{Provider: "aws", Account: "999999999999", Region: "eu-west-1"},
		{Provider: "aws", Account: "111122223333", Region: "ap-south-1"},
		{Provider: "azure", Account: "sub"},
	} {
		if r := a.Run(s); r != nil {
			t.Errorf("Run(%v) = %+v for a scope the report did not cover", s, r)
		}
	}
	d := readDoc(t, "new.json")
	d.Exposures[0].Sources = []string{"not-an-address"}
	if _, err := FromDocument(d); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("bad source: %v", err)
	}
	d.Exposures[0].Sources = []string{"203.0.113.7"}
	a, err = FromDocument(d)
	if err != nil {
		t.Fatalf("a bare address as source: %v", err)
	}
	if got := a.Run(euw).Exposures[0].Sources[0].String(); got != "203.0.113.7/32" {
		t.Errorf("bare address read as %s", got)
	}
}
