package reports

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestASFFClipsIdentifiers: Id, GeneratorId and Resources[].Id stay
// within ASFF's 512 characters, and two long identifiers that differ only
// past the cut stay different (an Id is BatchImportFindings' upsert key).
// ASFFID gives the Id ASFFFindingID gives, long or not.
func TestASFFClipsIdentifiers(t *testing.T) {
	r := fixtureReport()
	r.Findings = r.Findings[:2]
	longRule := strings.Repeat("r", 600)
	longTarget := "i-" + strings.Repeat("é", 700)
	for i := range r.Findings {
		f := &r.Findings[i]
		f.RuleID = longRule + string(rune('a'+i))
		f.ID = strings.Repeat("f", 600) + string(rune('a'+i))
		f.Exposure.Target.ID = longTarget + string(rune('a'+i))
	}
	batches, _ := asffOfReport(t, r, ASFFOptions{Account: acct})
	var got []asffFinding
	for _, b := range batches {
		got = append(got, decodeFindings(t, b)...)
	}
	if len(got) != 2 {
		t.Fatalf("%d findings, want 2", len(got))
	}
	d := NewDocument(r)
	want := map[string]bool{}
	for _, f := range d.Findings {
		e := f.Exposure
		if id := ASFFID(e.Provider, e.Account, e.Region, f.ID); id != ASFFFindingID(f) {
			t.Errorf("ASFFID %q, ASFFFindingID %q", id, ASFFFindingID(f))
		}
		want[ASFFFindingID(f)] = true
	}
	for i, f := range got {
		for name, v := range map[string]string{"Id": f.ID, "GeneratorId": f.GeneratorID, "Resources[0].Id": f.Resources[0].ID} {
			if n := utf8.RuneCountInString(v); n > 512 || n < 500 {
				t.Errorf("finding %d: %s has %d characters, want 500 to 512", i, name, n)
			}
		}
		if !want[f.ID] {
			t.Errorf("finding %d: Id %q is no finding's ASFFFindingID", i, f.ID)
		}
	}
	if got[0].ID == got[1].ID || got[0].GeneratorID == got[1].GeneratorID || got[0].Resources[0].ID == got[1].Resources[0].ID {
		t.Error("two identifiers that differ past the cut were clipped into one")
	}
	// Short identifiers are left as they are.
	if id := ASFFID("aws", acct, "eu-west-1", "0123456789abcdef"); id != "eu-west-1/"+acct+"/portcullis/0123456789abcdef" {
		t.Errorf("short Id = %q", id)
	}
}
