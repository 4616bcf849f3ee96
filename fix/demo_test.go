package fix_test

import (
	"encoding/json"
	"os"
	"testing"

	portcullis "github.com/portcullis-sec/portcullis"
	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/fix"
)

func demoInventory(t *testing.T) *exposure.Inventory {
	t.Helper()
	inv, _, err := audit.Normalize(portcullis.DemoEstate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestDemoDump(t *testing.T) {
	if os.Getenv("FIXDUMP") == "" {
		t.Skip()
	}
	inv := demoInventory(t)
	res := exposure.Analyze(inv)
	for _, e := range res.Effective {
		p, err := fix.Suggest(inv, e.ID(), fix.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(p, "", " ")
		t.Logf("%s %s %s %s/%s: %s", e.ID(), e.Target.ID, e.Endpoint, e.Protocol, e.Ports, b)
	}
}
