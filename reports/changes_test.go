package reports

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// fixtureChanges attaches a realistic changes section to the fixture's
// document: its first exposure is new, its second widened, and a key that
// no longer exists is resolved.
func fixtureChanges(t *testing.T) *Document {
	t.Helper()
	d := NewDocument(fixtureReport())
	if len(d.Exposures) < 2 {
		t.Fatal("fixture has fewer than two exposures")
	}
	first, second := d.Exposures[0], d.Exposures[1]
	gone := exposure.Key{Scope: exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		Level: exposure.Effective, Target: "eni-gone", Endpoint: "203.0.113.99", Protocol: exposure.ProtocolTCP}
	d.AttachChanges(&Changes{
		Since:  "2026-11-30T06:00:00Z",
		Counts: ChangeCounts{New: 1, Widened: 1, Resolved: 1},
		Items: []ChangeItem{
			{Kind: ChangeNew, Key: first.Key, ExposureIDs: []string{first.ID}, Ports: "22", Severity: rules.Critical, HasFindings: true,
				FirstSeen: "2026-12-01T06:00:00Z", Target: first.Target.ID},
			{Kind: ChangeWidened, Key: second.Key, ExposureIDs: []string{second.ID}, Ports: "80, 443", Added: "443", Severity: rules.High, HasFindings: true},
			{Kind: ChangeResolved, Key: gone, Ports: "3389", Severity: rules.High, HasFindings: true},
		},
		Skipped: []exposure.Scope{{Provider: "aws", Account: "111122223333", Region: "us-east-1"}},
		Trend: []TrendPoint{{RunID: "r1", At: "2026-11-30T06:00:00Z", Effective: 3, BySeverity: SeverityCounts{High: 2}},
			{RunID: "r2", At: "2026-12-01T06:00:00Z", Effective: 4, Latent: 1, BySeverity: SeverityCounts{Critical: 1, High: 2}}},
	})
	return d
}

func TestAttachChangesMarksExposures(t *testing.T) {
	d := fixtureChanges(t)
	if got := d.Exposures[0].Change; got != ChangeNew {
		t.Errorf("first exposure marked %q, want new", got)
	}
	if got := d.Exposures[1].Change; got != ChangeWidened {
		t.Errorf("second exposure marked %q, want widened", got)
	}
	for _, x := range d.Exposures[2:] {
		if x.Change != "" {
			t.Errorf("unchanged exposure %s marked %q", x.ID, x.Change)
		}
	}
	d.AttachChanges(nil)
	for _, x := range d.Exposures {
		if x.Change != "" || d.Changes != nil {
			t.Fatalf("AttachChanges(nil) left %s marked %q", x.ID, x.Change)
		}
	}
}

// TestChangesRoundTrip: the changes section is part of the contract — it
// matches the schema, survives Read, and every format renders the same
// from the read document as from the built one.
func TestChangesRoundTrip(t *testing.T) {
	d := fixtureChanges(t)
	var js bytes.Buffer
	if err := Render(&js, "json", d); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t), js.Bytes()); err != nil {
		t.Fatalf("a report with changes does not match the schema: %v", err)
	}
	back, err := Read(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Changes, d.Changes) {
		t.Errorf("changes after Read:\n%+v\nwant\n%+v", back.Changes, d.Changes)
	}
	if back.Exposures[0].Change != ChangeNew {
		t.Errorf("exposure mark lost in Read: %q", back.Exposures[0].Change)
	}
	for _, format := range Formats() {
		var a, b bytes.Buffer
		if err := Render(&a, format, d); err != nil {
			t.Fatal(err)
		}
		if err := Render(&b, format, back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s differs after Read:\n%s", format, firstDiff(b.Bytes(), a.Bytes()))
		}
	}
}
