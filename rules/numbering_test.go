package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestCISControlNumbering pins every CIS mapping to the benchmark version
// it cites: the control IDs, a phrase of their titles, and their IDs in
// the other versions. CIS renumbers controls between versions (CIS AWS
// v1.4.0: 5.1 NACL, 5.2 SG IPv4, no ::/0 control; v1.5.0-v3.0.0:
// 5.1/5.2/5.3/5.4; v4.0.1-v5.0.0: 5.2/5.3/5.4/5.5 after 5.1.2 CIFS;
// v6.0.0-v7.0.0: section 6. CIS Azure v2.x: 6.1-6.4; v3.0.0: 7.1-7.4), so
// an ID without its version misleads an auditor.
func TestCISControlNumbering(t *testing.T) {
	type ctl struct {
		id, title  string
		renumbered []Renumbering
	}
	want := map[string]struct {
		version  string
		controls []ctl
	}{
		FrameworkCISAWS: {"v3.0.0", []ctl{
			{"5.1", "Network ACLs allow ingress from 0.0.0.0/0 to remote server administration", []Renumbering{{"v1.4.0", "5.1"}, {"v4.0.1-v5.0.0", "5.2"}, {"v6.0.0-v7.0.0", "6.2"}}},
			{"5.2", "security groups allow ingress from 0.0.0.0/0 to remote server administration", []Renumbering{{"v1.4.0", "5.2"}, {"v4.0.1-v5.0.0", "5.3"}, {"v6.0.0-v7.0.0", "6.3"}}},
			{"5.3", "security groups allow ingress from ::/0 to remote server administration", []Renumbering{{"v4.0.1-v5.0.0", "5.4"}, {"v6.0.0-v7.0.0", "6.4"}}},
			{"5.4", "default security group of every VPC restricts all traffic", []Renumbering{{"v1.4.0", "5.3"}, {"v4.0.1-v5.0.0", "5.5"}, {"v6.0.0-v7.0.0", "6.5"}}},
		}},
		FrameworkCISGCP: {"v3.0.0", []ctl{
			{"3.6", "SSH access is restricted from the internet", nil},
			{"3.7", "RDP access is restricted from the internet", nil},
		}},
		FrameworkCISAzure: {"v2.0.0", []ctl{
			{"6.1", "RDP access from the Internet", []Renumbering{{"v3.0.0", "7.1"}}},
			{"6.2", "SSH access from the Internet", []Renumbering{{"v3.0.0", "7.2"}}},
			{"6.3", "UDP access from the Internet", []Renumbering{{"v3.0.0", "7.3"}}},
			{"6.4", "HTTP(S) access from the Internet", []Renumbering{{"v3.0.0", "7.4"}}},
		}},
	}
	for _, fw := range mustCatalog(t).Frameworks() {
		if fw.Version == "" {
			t.Errorf("%s names no version", fw.ID)
		}
		w, ok := want[fw.ID]
		if !ok {
			continue
		}
		if fw.Version != w.version {
			t.Errorf("%s cites %s, want %s (update this table with the IDs of the new version)", fw.ID, fw.Version, w.version)
		}
		if len(fw.Controls) != len(w.controls) {
			t.Errorf("%s maps %d controls, want %d", fw.ID, len(fw.Controls), len(w.controls))
			continue
		}
		for i, c := range fw.Controls {
			wc := w.controls[i]
			if c.ID != wc.id || !strings.Contains(c.Title, wc.title) {
				t.Errorf("%s %s %s %q, want %s %q", fw.ID, fw.Version, c.ID, c.Title, wc.id, wc.title)
			}
			if !slices.Equal(c.Renumbered, wc.renumbered) {
				t.Errorf("%s %s renumbered %v, want %v", fw.ID, c.ID, c.Renumbered, wc.renumbered)
			}
		}
	}
	// The misconfiguration that fails the default-security-group control
	// carries that control's ID in the cited version.
	eng := mustEngine(t, Options{})
	res := eng.EvaluateInput(Input{Layers: defaultSGLayers(), Providers: []string{"aws"}})
	if len(res.Misconfigurations) != 1 || !slices.Equal(res.Misconfigurations[0].Compliance, []ComplianceRef{{FrameworkCISAWS, "5.4"}}) {
		t.Errorf("default SG misconfigurations: %+v", res.Misconfigurations)
	}
}

func defaultSGLayers() []*exposure.Layer {
	return []*exposure.Layer{{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-def", Name: "default",
		Kind: exposure.LayerSecurityGroup, Outbound: []exposure.Rule{{ID: "outbound #1", Protocol: exposure.ProtocolAll, SourceNames: []string{"0.0.0.0/0"}}}}}
}
