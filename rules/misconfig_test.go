package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

func naclRule(t *testing.T, num int, action exposure.Action, proto exposure.Protocol, ports string, cidrs ...string) exposure.Rule {
	t.Helper()
	src, err := exposure.ParseSources(cidrs...)
	if err != nil {
		t.Fatal(err)
	}
	r := exposure.Rule{ID: fmt.Sprint(num), Priority: num, Action: action, Protocol: proto, Sources: src, SourceNames: cidrs}
	if ports != "" {
		pr, err := exposure.ParsePortRange(ports)
		if err != nil {
			t.Fatal(err)
		}
		r.Ports = []exposure.PortRange{pr}
	}
	return r
}

func nacl(id string, egress bool, rules ...exposure.Rule) *exposure.Layer {
	return &exposure.Layer{
		Scope: exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		ID:    id, Kind: exposure.LayerNetworkACL, Mode: exposure.Ordered, Default: exposure.Deny,
		Egress: egress, Latent: true, Rules: rules,
	}
}

func TestCheckNACLReturnTraffic(t *testing.T) {
	tcp, udp, all := exposure.ProtocolTCP, exposure.ProtocolUDP, exposure.ProtocolAll
	allow, deny := exposure.Allow, exposure.Deny
	tests := []struct {
		name  string
		layer *exposure.Layer
		want  []string // kind protocol family ports severity
	}{
		{"egress only 443", nacl("acl-a", true, naclRule(t, 100, allow, tcp, "443", "0.0.0.0/0")), []string{
			"nacl-egress-blocks-ephemeral tcp ipv4 1024-65535 medium",
			"nacl-egress-blocks-ephemeral udp ipv4 1024-65535 low",
		}},
		{"egress allow all", nacl("acl-b", true, naclRule(t, 100, allow, all, "", "0.0.0.0/0")), nil},
		{"ingress linux range only", nacl("acl-c", false,
			naclRule(t, 100, allow, tcp, "443", "0.0.0.0/0"),
			naclRule(t, 110, allow, tcp, "32768-65535", "0.0.0.0/0"),
			naclRule(t, 120, allow, udp, "1024-65535", "0.0.0.0/0")), []string{
			"nacl-ingress-blocks-ephemeral tcp ipv4 1024-32767 low",
		}},
		{"deny one host first", nacl("acl-d", false,
			naclRule(t, 90, deny, all, "", "203.0.113.5/32"),
			naclRule(t, 100, allow, all, "", "0.0.0.0/0")), nil},
		{"deny ephemeral before allow all", nacl("acl-e", false,
			naclRule(t, 50, deny, tcp, "1024-65535", "0.0.0.0/0"),
			naclRule(t, 100, allow, all, "", "0.0.0.0/0", "::/0")), []string{
			"nacl-ingress-blocks-ephemeral tcp ipv4 1024-65535 medium",
		}},
		{"dual stack missing ::/0 ephemeral", nacl("acl-f", true,
			naclRule(t, 100, allow, all, "", "0.0.0.0/0"),
			naclRule(t, 101, allow, tcp, "443", "::/0")), []string{
			"nacl-egress-blocks-ephemeral tcp ipv6 1024-65535 medium",
			"nacl-egress-blocks-ephemeral udp ipv6 1024-65535 low",
		}},
		{"private destinations only", nacl("acl-g", true, naclRule(t, 100, allow, all, "", "10.0.0.0/8")), []string{
			"nacl-egress-blocks-ephemeral tcp ipv4 1024-65535 medium",
			"nacl-egress-blocks-ephemeral udp ipv4 1024-65535 low",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The same NACL twice (as targets' paths and Inventory.Layers
			// both hold it) is reported once.
			got := CheckNACLReturnTraffic([]*exposure.Layer{tt.layer, tt.layer})
			var lines []string
			for _, m := range got {
				lines = append(lines, strings.Join([]string{m.Kind, m.Protocol, m.Family, m.Ports, m.Severity.String()}, " "))
				if m.Layer != tt.layer.ID || m.Message == "" || m.Remediation == "" || m.Account != "111122223333" {
					t.Errorf("incomplete misconfiguration: %+v", m)
				}
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	sg := &exposure.Layer{ID: "sg-1", Kind: exposure.LayerSecurityGroup, Egress: true}
	if got := CheckNACLReturnTraffic([]*exposure.Layer{sg, nil}); len(got) != 0 {
		t.Errorf("security group judged as a NACL: %+v", got)
	}
}

func TestCheckDefaultSecurityGroups(t *testing.T) {
	self := exposure.Rule{ID: "sgr-1", Protocol: exposure.ProtocolAll, SourceNames: []string{"sg-def1"}}
	layers := []*exposure.Layer{
		{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-def1", Name: "default", Kind: exposure.LayerSecurityGroup, Rules: []exposure.Rule{self}},
		{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-def1", Name: "default", Kind: exposure.LayerSecurityGroup, Rules: []exposure.Rule{self}},
		{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-def2", Name: "default", Kind: exposure.LayerSecurityGroup},
		{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-web", Name: "web", Kind: exposure.LayerSecurityGroup, Rules: []exposure.Rule{self}},
	}
	got := CheckDefaultSecurityGroups(layers)
	if len(got) != 1 || got[0].Layer != "sg-def1" || got[0].Kind != MisconfigDefaultSGTraffic || !strings.Contains(got[0].Message, "sg-def1") ||
		len(got[0].Compliance) != 1 || got[0].Compliance[0] != (ComplianceRef{Framework: "cis-aws", Control: "5.4"}) {
		t.Fatalf("default SG check: %+v", got)
	}
	// AWS's own allow-all egress rule is a rule: AWS Config's
	// vpc-default-security-group-closed fails a default group with any
	// inbound or outbound rule.
	egressOnly := &exposure.Layer{Scope: exposure.Scope{Provider: "aws", Account: "1", Region: "r"}, ID: "sg-def3", Name: "default", Kind: exposure.LayerSecurityGroup,
		Outbound: []exposure.Rule{{ID: "outbound #1", Action: exposure.Allow, Protocol: exposure.ProtocolAll, SourceNames: []string{"0.0.0.0/0"}}}}
	if got := CheckDefaultSecurityGroups([]*exposure.Layer{egressOnly}); len(got) != 1 || got[0].Layer != "sg-def3" ||
		!strings.Contains(got[0].Message, "1 outbound rule(s) (destinations: 0.0.0.0/0)") {
		t.Errorf("default SG with only the allow-all egress rule: %+v, want one misconfiguration", got)
	}
	eng := mustEngine(t, Options{})
	for _, tt := range []struct {
		layers []*exposure.Layer
		want   ControlStatus
	}{
		{layers, StatusFail},
		{[]*exposure.Layer{egressOnly}, StatusFail},
		{layers[2:3], StatusPass},
		{layers[3:], StatusNotApplicable},
		{nil, StatusNotApplicable},
	} {
		res := eng.EvaluateInput(Input{Layers: tt.layers, Providers: []string{"aws"}})
		for _, c := range res.Compliance {
			if c.Framework == "cis-aws" && c.Control == "5.4" && c.Status != tt.want {
				t.Errorf("5.4 with %d layers = %s (%s), want %s", len(tt.layers), c.Status, c.Reason, tt.want)
			}
		}
	}
}
