package probe

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

func exp(level exposure.Level, ip string, proto exposure.Protocol, from, to uint16) *exposure.Exposure {
	e := &exposure.Exposure{
		Level: level,
		Site: &exposure.Site{Scope: exposure.Scope{Provider: "aws", Account: "123456789012", Region: "eu-west-1"},
			Target: exposure.TargetRef{ID: "eni-" + ip, Kind: exposure.KindInterface}},
		Protocol: proto,
		Ports:    exposure.PortRange{From: from, To: to},
	}
	if ip != "" {
		e.Endpoint.IP = netip.MustParseAddr(ip)
	} else {
		e.Endpoint.Host = "lb.example.test"
	}
	return e
}

func keys(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s %s/%d", t.Addr, t.Protocol, t.Port))
	}
	return out
}

func TestPlan(t *testing.T) {
	tcp, udp := exposure.ProtocolTCP, exposure.ProtocolUDP
	risky := map[exposure.Protocol][]uint16{
		tcp:                  {22, 3389, 6379},
		udp:                  {161},
		exposure.ProtocolAll: {53},
	}
	forward := exp(exposure.Effective, "203.0.113.20", tcp, 50022, 50022)
	forward.Backend = &exposure.Backend{Forward: "nat-1", Protocol: tcp, Ports: exposure.Port(22)}

	tests := []struct {
		name string
		exps []*exposure.Exposure
		opts PlanOptions
		want []string
	}{
		{
			name: "a small range is probed port by port",
			exps: []*exposure.Exposure{exp(exposure.Effective, "203.0.113.10", tcp, 8000, 8003)},
			want: []string{"203.0.113.10 tcp/8000", "203.0.113.10 tcp/8001", "203.0.113.10 tcp/8002", "203.0.113.10 tcp/8003"},
		},
		{
			name: "a large range is sampled on the risky ports it holds",
			exps: []*exposure.Exposure{exp(exposure.Effective, "203.0.113.10", tcp, 1, 5000)},
			want: []string{"203.0.113.10 tcp/22", "203.0.113.10 tcp/53", "203.0.113.10 tcp/3389"},
		},
		{
			name: "every port of every protocol is never swept",
			exps: []*exposure.Exposure{exp(exposure.Effective, "203.0.113.10", exposure.ProtocolAll, 0, 65535)},
			want: []string{"203.0.113.10 tcp/22", "203.0.113.10 tcp/53", "203.0.113.10 tcp/3389", "203.0.113.10 tcp/6379",
				"203.0.113.10 udp/53", "203.0.113.10 udp/161"},
		},
		{
			name: "latent exposures, endpoints without IP and ICMP are not probed",
			exps: []*exposure.Exposure{
				exp(exposure.Latent, "203.0.113.10", tcp, 22, 22),
				exp(exposure.Effective, "", tcp, 443, 443),
				exp(exposure.Effective, "203.0.113.10", exposure.ProtocolICMP, 0, 255),
			},
			want: nil,
		},
		{
			name: "duplicates merge",
			exps: []*exposure.Exposure{
				exp(exposure.Effective, "203.0.113.10", tcp, 22, 22),
				exp(exposure.Effective, "203.0.113.10", tcp, 20, 25),
				exp(exposure.Effective, "2001:db8::1", udp, 161, 161),
			},
			want: []string{"203.0.113.10 tcp/20", "203.0.113.10 tcp/21", "203.0.113.10 tcp/22", "203.0.113.10 tcp/23",
				"203.0.113.10 tcp/24", "203.0.113.10 tcp/25", "2001:db8::1 udp/161"},
		},
		{
			name: "a forward is probed on its frontend port",
			exps: []*exposure.Exposure{forward},
			want: []string{"203.0.113.20 tcp/50022"},
		},
		{
			name: "MaxPortsPerRange raises the port-by-port limit",
			exps: []*exposure.Exposure{exp(exposure.Effective, "203.0.113.10", udp, 100, 102)},
			opts: PlanOptions{MaxPortsPerRange: 2},
			want: nil, // 3 ports > 2, and no risky UDP port in 100-102
		},
		{
			name: "MaxTargets keeps risky ports first",
			exps: []*exposure.Exposure{
				exp(exposure.Effective, "203.0.113.10", tcp, 8000, 8010),
				exp(exposure.Effective, "203.0.113.11", tcp, 22, 22),
			},
			opts: PlanOptions{MaxTargets: 2},
			want: []string{"203.0.113.10 tcp/8000", "203.0.113.11 tcp/22"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.RiskyPorts = risky
			got := Plan(tc.exps, opts)
			if !slices.Equal(keys(got), tc.want) {
				t.Errorf("Plan = %v\nwant   %v", keys(got), tc.want)
			}
		})
	}

	t.Run("exposure IDs, host and expectations", func(t *testing.T) {
		a := exp(exposure.Effective, "203.0.113.10", tcp, 22, 22)
		b := exp(exposure.Effective, "203.0.113.10", tcp, 1, 1024)
		b.Target.ID = "lb-1"
		b.Endpoint.Host = "app.example.test"
		got := Plan([]*exposure.Exposure{a, b, a, forward}, PlanOptions{RiskyPorts: risky})
		if len(got) != 3 {
			t.Fatalf("Plan = %v", keys(got))
		}
		ssh := got[0]
		if !slices.Equal(ssh.ExposureIDs, []string{a.ID(), b.ID()}) || ssh.Host != "app.example.test" || ssh.Expect != "ssh" {
			t.Errorf("merged target %+v, want both exposure IDs, the host name and Expect ssh", ssh)
		}
		if fw := got[2]; fw.Port != 50022 || fw.Expect != "ssh" {
			t.Errorf("forward target %+v, want frontend port 50022 expecting the backend's ssh", fw)
		}
	})
}
