package exposure

import (
	"reflect"
	"strings"
	"testing"
)

// An unknown layer is unknown in both directions: the analysis infers
// nothing through it (never reads it as open), never reads it as closed
// where known layers of the same hop admit traffic, and says what was lost.
func TestUnknownLayers(t *testing.T) {
	anyone := AnySource()
	sgSSH := sg("sg-ssh", allow("0", ProtocolTCP, "22", anyone))
	unknownSG := UnknownLayer(Scope{}, "sg-gone", LayerSecurityGroup, "ec2-describe-security-groups.json: decode: line 3: unexpected EOF")
	unknownACL := UnknownLayer(Scope{}, "network ACLs", LayerNetworkACL, "ec2-describe-network-acls.json missing")
	tests := []struct {
		name    string
		target  *Target
		want    []string
		wantErr string
	}{
		{
			name:    "a hop of unknown layers only: the target is not analysed",
			target:  eni("eni-1", "203.0.113.10", hop(route(t, "0.0.0.0/0")), hop(unknownSG)),
			want:    []string{},
			wantErr: "path not analysed: it crosses an unknown layer (security-group sg-gone: ec2-describe-security-groups.json: decode: line 3",
		},
		{
			name:    "an unknown NACL hop: nothing is inferred through it",
			target:  eni("eni-1", "203.0.113.10", hop(route(t, "0.0.0.0/0")), hop(unknownACL), hop(sgSSH)),
			want:    []string{},
			wantErr: "network-acl network ACLs: ec2-describe-network-acls.json missing",
		},
		{
			name:    "one unknown group beside a known one: what the known one admits is kept",
			target:  eni("eni-1", "203.0.113.10", hop(route(t, "0.0.0.0/0")), hop(sgSSH, unknownSG)),
			want:    []string{"eni-1 203.0.113.10 tcp 22 anyone"},
			wantErr: "path may admit more than reported: security-group sg-gone",
		},
		{
			name: "an unknown backend path: a passthrough forward delivers nothing and says so",
			target: &Target{ID: "nlb", Kind: KindLoadBalancer, Endpoints: []Endpoint{{Host: "nlb.example.com"}},
				Forwards: []Forward{{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(22), Backend: "i-1", BackendPath: Path{hop(unknownSG)}}}},
			want:    []string{},
			wantErr: "backend i-1 of l1 not analysed",
		},
		{
			name: "an unknown backend path behind a proxy: the frontend stays open",
			target: &Target{ID: "alb", Kind: KindLoadBalancer, Endpoints: []Endpoint{{Host: "alb.example.com"}},
				Forwards: []Forward{{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(443), BackendPort: 8443, Backend: "i-1",
					BackendPath: Path{hop(unknownSG)}, ProxySources: src(t, "10.0.1.10/32"), Terminates: true}}},
			want:    []string{"alb alb.example.com tcp 443 anyone"},
			wantErr: "backend i-1 of l1 not analysed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Analyze(&Inventory{Targets: []*Target{tt.target}, Layers: []*Layer{sgSSH}})
			if got := describeAll(res.Effective); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("effective = %q, want %q", got, tt.want)
			}
			var msgs []string
			for _, e := range res.Errors {
				msgs = append(msgs, e.Error())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.wantErr) {
				t.Errorf("errors = %q, want one containing %q", msgs, tt.wantErr)
			}
			for _, e := range res.Latent {
				if e.Target.ID == unknownSG.ID || e.Target.ID == unknownACL.ID {
					t.Errorf("unknown layer judged for latent exposure: %s", describe(e))
				}
			}
		})
	}
}

// A forward whose client-address behaviour is unknown delivers what either
// behaviour would, and its exposures say they rest on missing data.
func TestMaybeProxiedForward(t *testing.T) {
	lbAddrs := src(t, "10.0.1.10/32")
	fromClient := Path{hop(sg("sg-client", allow("0", ProtocolTCP, "22", src(t, "198.51.100.0/24"))))}
	fromLB := Path{hop(sg("sg-lb", allow("0", ProtocolTCP, "22", src(t, "10.0.1.0/24"))))}
	const why = "target group tg-1: attributes not collected; client IP preservation unknown"
	nlb := func(p Path) *Target {
		return &Target{ID: "nlb", Kind: KindLoadBalancer, Endpoints: []Endpoint{{Host: "nlb.example.com"}},
			Forwards: []Forward{{ID: "l1", Protocol: ProtocolTCP, Frontend: Port(22), Backend: "i-1", BackendPath: p,
				ProxySources: lbAddrs, MaybeProxied: true, Unknown: why}}}
	}
	tests := []struct {
		name string
		path Path
		want []string
	}{
		{"backend admits clients (preserved case)", fromClient, []string{"nlb nlb.example.com tcp 22 198.51.100.0/24 -> i-1:22"}},
		{"backend admits the LB (proxied case)", fromLB, []string{"nlb nlb.example.com tcp 22 anyone -> i-1:22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Analyze(&Inventory{Targets: []*Target{nlb(tt.path)}})
			if got := describeAll(res.Effective); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("effective = %q, want %q", got, tt.want)
			}
			if got := res.Effective[0].Unknown(); !reflect.DeepEqual(got, []string{why}) {
				t.Errorf("Unknown() = %q, want %q", got, why)
			}
		})
	}
}
