package audit_test

import (
	"os"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/estategen"
)

// TestEstategenWriteNormalizes checks that an estate written by
// internal/estategen is what its package comment says, as the AWS
// normalizer reads it (through audit.Normalize, since only audit, cmd and
// functions import provider packages): no error, every public
// interface a target, every group a layer with its 50 rules, and the analysis finds
// both effective and latent exposures.
func TestEstategenWriteNormalizes(t *testing.T) {
	dir := t.TempDir()
	st, err := estategen.Write(dir, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if st.VPCs != 2 || st.Groups != 400 || st.Rules != 400*estategen.RulesPerGroup || st.Public != 667 {
		t.Fatalf("stats = %+v", st)
	}
	inv, _, err := audit.Normalize(os.DirFS(dir), []string{"aws"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) > 0 {
		t.Fatalf("normalize errors: %v", inv.Errors)
	}
	// Only interfaces with a public address are targets.
	if len(inv.Targets) != st.Public {
		t.Errorf("targets = %d, want %d", len(inv.Targets), st.Public)
	}
	groups, rules := 0, 0
	for _, l := range inv.Layers {
		if l.Kind == exposure.LayerSecurityGroup {
			groups++
			rules += len(l.Rules)
		}
	}
	if groups != st.Groups || rules < st.Rules {
		t.Errorf("security-group layers = %d with %d rules, want %d with at least %d", groups, rules, st.Groups, st.Rules)
	}
	res := exposure.Analyze(inv)
	if len(res.Effective) == 0 || len(res.Latent) == 0 {
		t.Errorf("effective = %d, latent = %d: want both", len(res.Effective), len(res.Latent))
	}
	for _, e := range res.Effective {
		if a := e.Endpoint.IP; a.IsValid() && !exposure.IsPublic(a) {
			t.Fatalf("effective exposure on non-public %v", a)
		}
	}

	// Same n, same bytes.
	st2, err := estategen.Write(t.TempDir(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	if st2 != st {
		t.Errorf("second write: %+v, first %+v", st2, st)
	}
}
