package runstore

import (
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
)

// TestValidateFollowsDriverTable: a work item is valid exactly when its
// provider is in audit's table and that driver's ValidScope accepts it, with
// the driver's reason, so the run store accepts the table's names and
// nothing else. Validate restates the drivers' checks (the plan and notify
// functions must not link audit); this test is what keeps them one.
func TestValidateFollowsDriverTable(t *testing.T) {
	accounts := []string{"123456789012", "acme-prod", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "../x", ""}
	regions := []string{"", "eu-west-1", "../x"}
	for _, d := range audit.Drivers() {
		accepted := 0
		for _, a := range accounts {
			for _, r := range regions {
				it := Item{Provider: d.Name, Account: a, Region: r}
				err, want := it.Validate(), d.ValidScope(a, r)
				if (err == nil) != (want == nil) {
					t.Errorf("%+v: Validate %v, the driver's ValidScope %v", it, err, want)
				}
				if err == nil {
					accepted++
				} else if want != nil && err.Error() != "work item: "+want.Error() {
					t.Errorf("%+v: %q, want the driver's reason %q", it, err, "work item: "+want.Error())
				}
			}
		}
		if accepted == 0 {
			t.Errorf("%s: no candidate item accepted; add a valid %s scope to the candidates", d.Name, d.Name)
		}
	}
	for _, p := range []string{"oci", "", "AWS", "aws/.."} {
		err := (Item{Provider: p, Account: "123456789012", Region: "eu-west-1"}).Validate()
		if err == nil {
			t.Errorf("provider %q accepted", p)
			continue
		}
		if want := "want one of " + strings.Join(audit.Providers(), ", "); !strings.Contains(err.Error(), want) {
			t.Errorf("provider %q: %q, want it to list the table (%s)", p, err, want)
		}
	}
}
