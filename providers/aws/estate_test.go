package aws

import (
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestNormalizeCLIEstate normalizes a hand-written AWS CLI export covering
// what moto cannot seed: NLB security groups with client IP preservation,
// TLS listeners, dualstack and Elastic IP frontends, weighted forwards,
// unused and draining targets, load-balancer ENIs, NAT gateway ENIs,
// blackhole and prefix-list routes.
func TestNormalizeCLIEstate(t *testing.T) {
	t.Parallel()
	inv, err := Normalize(os.DirFS("testdata/estate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		t.Errorf("unexpected error: %v", e)
	}
	const arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	nlb, alb := arn+"loadbalancer/net/edge/fedcba9876543210", arn+"loadbalancer/app/web/0123456789abcdef"
	var ids []string
	for _, tg := range inv.Targets {
		ids = append(ids, tg.ID)
	}
	// NAT gateway and load-balancer ENIs are not targets; the backends
	// have no public address.
	assertLines(t, "targets", ids, []string{nlb, alb})

	n := findTarget(t, inv, nlb)
	// Tags from elbv2-describe-tags.json; the ALB's list is empty.
	if want := map[string]string{"env": "prod", "team": "edge"}; !maps.Equal(n.Tags, want) || n.Name != "edge" {
		t.Errorf("NLB name %q tags %v, want edge %v", n.Name, n.Tags, want)
	}
	if tags := findTarget(t, inv, alb).Tags; tags != nil {
		t.Errorf("ALB tags %v, want none", tags)
	}
	var eps []string
	for _, ep := range n.Endpoints {
		s := ep.String()
		if ep.Is6() {
			s += "(v6)"
		}
		eps = append(eps, s)
	}
	assertLines(t, "NLB endpoints", eps, []string{"edge-1.elb.eu-west-1.amazonaws.com", "dualstack.edge-1.elb.eu-west-1.amazonaws.com(v6)", "192.0.2.200", "2001:db8::200(v6)"})
	if got := pathShape(n.Path); got != "rtb-main | acl-1 | acl-1(out) | sg-nlb" {
		t.Errorf("NLB path %s", got)
	}
	for _, f := range n.Forwards {
		switch f.Frontend.From {
		case 443:
			if f.Terminates || f.ProxySources != nil || f.Backend != "i-back" || f.BackendPort != 8443 {
				t.Errorf("TCP forward %+v: want passthrough, client IP preserved, i-back:8443", f)
			}
			// IPv6 clients reach the IPv4 target from the NLB's IPv4
			// address (no NLB ENI in the export: its subnet's IPv4 block).
			if got := exposure.Addrs(f.ProxySources6); !slices.Equal(got, []string{"10.0.1.0/24"}) || f.ProxySources4 != nil {
				t.Errorf("TCP forward: IPv6 clients seen as %v (IPv4 clients as %v), want the NLB subnet's IPv4 block, IPv4 clients preserved", got, exposure.Addrs(f.ProxySources4))
			}
		case 9443:
			if !f.Terminates || f.ProxySources == nil {
				t.Errorf("TLS forward %+v: want terminating, client IP not preserved", f)
			}
		}
	}

	eff, _ := exposuresOf(inv, nlb, alb)
	const open = " from internet4-192.0.2.0/24-198.51.100.0/24"
	want := []string{
		// The backend's rule names the NLB's group: it admits the NLB's
		// clients even though the client IP is preserved.
		"192.0.2.200 " + nlb + " tcp/443" + open + " → i-back:8443",
		"edge-1.elb.eu-west-1.amazonaws.com " + nlb + " tcp/443" + open + " → i-back:8443",
		"192.0.2.200 " + nlb + " tcp/9443" + open + " → i-back:9443",
		"edge-1.elb.eu-west-1.amazonaws.com " + nlb + " tcp/9443" + open + " → i-back:9443",
		// Weight-0 group "old" gets nothing.
		"web-1.eu-west-1.elb.amazonaws.com " + alb + " tcp/80" + open + " → i-web:8080",
	}
	slices.Sort(eff)
	slices.Sort(want)
	assertLines(t, "effective", eff, want)

	// The ALB's ENI is a member of sg-alb: the backend rule resolves to it.
	web := findLayer(t, inv, "sg-web")
	if got := exposure.Addrs(web.Rules[0].Sources); !slices.Equal(got, []string{"10.0.1.50/32"}) {
		t.Errorf("sg-web reference resolves to %v", got)
	}
}
