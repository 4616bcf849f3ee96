package fix

import (
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
)

// Every exposure of the demo estate gets a plan, and every alternative,
// applied again on its own, leaves no exposure of that ID: a check of the
// verifier's port-and-source arithmetic by the plainest means.
func TestDemoEveryExposure(t *testing.T) {
	inv, _, err := audit.Normalize(demo.Estate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := exposure.Analyze(inv)
	withFix, total := 0, 0
	for _, list := range [][]*exposure.Exposure{res.Effective, res.Latent} {
		for _, e := range list {
			total++
			id := e.ID()
			p, err := Suggest(inv, id, Options{})
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			if len(p.Alternatives) > 0 {
				withFix++
			}
			for _, a := range p.Alternatives {
				if len(a.Closes) != 1 || a.Closes[0] != id || len(a.Commands) < len(a.Changes) {
					t.Errorf("%s: alternative %s: closes %v, %d commands for %d changes", id, changesKey(a.Changes), a.Closes, len(a.Commands), len(a.Changes))
				}
				clone := inv.Clone()
				for _, l := range allLayers(clone) {
					for _, c := range a.Changes {
						applyLayer(l, c.edit)
					}
				}
				after := exposure.Analyze(clone)
				for _, x := range append(after.Effective, after.Latent...) {
					if x.ID() == id {
						t.Errorf("%s: alternative %s leaves it in place", id, changesKey(a.Changes))
					}
				}
			}
		}
	}
	t.Logf("%d of %d demo exposures have a verified fix", withFix, total)
	if withFix*10 < total*8 {
		t.Errorf("only %d of %d demo exposures have a fix", withFix, total)
	}
}

func BenchmarkSuggestDemoBastion(b *testing.B) {
	inv, _, err := audit.Normalize(demo.Estate(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var id string
	for _, e := range exposure.Analyze(inv).Effective {
		if e.Endpoint.String() == "203.0.113.30" && e.Protocol == exposure.ProtocolTCP {
			id = e.ID()
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Suggest(inv, id, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
