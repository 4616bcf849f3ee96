package state

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
)

func TestReportChanges(t *testing.T) {
	changes, err := DiffDocuments(readDoc(t, "old.json"), readDoc(t, "new.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	use := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "us-east-1"}
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rc := ReportChanges(changes, []exposure.Scope{use}, since, false)
	var got []string
	for _, it := range rc.Items {
		got = append(got, it.Kind+" "+it.Key.Target+" ports="+it.Ports+" added="+it.Added+" sev="+it.Severity.String())
	}
	want := []string{
		"widened eni-1 ports=22 added=sources on 22 sev=critical",
		"resolved eni-2 ports=3389 added= sev=critical",
		"new eni-4 ports=53 added= sev=info",
		"confirmed vm-1 ports=22 added= sev=info",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rc.Counts != (reports.ChangeCounts{New: 1, Widened: 1, Resolved: 1, Confirmed: 1}) {
		t.Errorf("counts %+v", rc.Counts)
	}
	if rc.Since != "2026-12-01T10:00:00Z" || rc.Initial || len(rc.Skipped) != 1 || rc.Skipped[0] != use {
		t.Errorf("since %q initial %v skipped %v", rc.Since, rc.Initial, rc.Skipped)
	}
	if ids := rc.Items[0].ExposureIDs; len(ids) != 1 || ids[0] != "e-ssh-wide" {
		t.Errorf("widened exposure IDs %v, want [e-ssh-wide]", ids)
	}
	if len(rc.Items[1].ExposureIDs) != 0 {
		t.Errorf("resolved item lists current exposures: %v", rc.Items[1].ExposureIDs)
	}
	if !rc.Items[0].HasFindings || rc.Items[2].HasFindings {
		t.Errorf("hasFindings: widened %v, new %v", rc.Items[0].HasFindings, rc.Items[2].HasFindings)
	}
	// The document marks its exposures from the items.
	doc := readDoc(t, "new.json")
	doc.AttachChanges(rc)
	marks := map[string]string{}
	for _, x := range doc.Exposures {
		marks[x.ID] = x.Change
	}
	if marks["e-ssh-wide"] != "widened" || marks["e-dns"] != "new" || marks["e-vm"] != "confirmed" {
		t.Errorf("exposure marks %v", marks)
	}
}

func TestAddedText(t *testing.T) {
	for _, tc := range []struct {
		before, added []exposure.PortRange
		want          string
	}{
		{[]exposure.PortRange{pr(22, 22)}, []exposure.PortRange{pr(23, 23)}, "23"},
		{[]exposure.PortRange{pr(22, 22)}, []exposure.PortRange{pr(22, 22)}, "sources on 22"},
		{[]exposure.PortRange{pr(22, 22)}, []exposure.PortRange{pr(22, 25)}, "23-25; sources on 22"},
		{[]exposure.PortRange{pr(80, 80), pr(443, 443)}, []exposure.PortRange{pr(80, 443)}, "81-442; sources on 80, 443"},
	} {
		if got := addedText(tc.before, tc.added); got != tc.want {
			t.Errorf("addedText(%v, %v) = %q, want %q", tc.before, tc.added, got, tc.want)
		}
	}
}
