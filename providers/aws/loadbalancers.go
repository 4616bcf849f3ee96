package aws

import (
	"net/netip"
	"path"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/arnfile"
)

// Load balancers: internet-facing ALBs, NLBs and classic ELBs are targets
// whose listeners forward frontend ports to registered targets.

const (
	fileLoadBalancers      = "elbv2-describe-load-balancers.json"
	fileListeners          = "elbv2-describe-listeners.json"
	dirRules               = "elbv2-describe-rules"
	fileTargetGroups       = "elbv2-describe-target-groups.json"
	dirTargetHealth        = "elbv2-describe-target-health"
	dirTargetGroupAttrs    = "elbv2-describe-target-group-attributes"
	fileClassicLBs         = "elb-describe-load-balancers.json"
	schemeInternetFacing   = "internet-facing"
	attrPreserveClientIP   = "preserve_client_ip.enabled"
	forwardKindListener    = "listener"
	ipAddressTypeDualstack = "dualstack"
)

func (r *region) loadLoadBalancers() {
	var ldoc struct{ LoadBalancers []*loadBalancer }
	if r.readJSON(fileLoadBalancers, &ldoc) {
		for _, lb := range ldoc.LoadBalancers {
			if lb != nil && lb.LoadBalancerArn != "" {
				r.loadBalancers = append(r.loadBalancers, lb)
			}
		}
	}
	var lsdoc struct{ Listeners []*listener }
	if r.readJSON(fileListeners, &lsdoc) {
		for _, l := range lsdoc.Listeners {
			if l == nil || l.ListenerArn == "" {
				continue
			}
			var rdoc struct {
				Rules []struct{ Actions []lbAction }
			}
			name := path.Join(dirRules, arnfile.Name(l.ListenerArn)+".json")
			if r.readJSON(name, &rdoc) {
				for _, ru := range rdoc.Rules {
					l.rules = append(l.rules, ru.Actions)
				}
			} else if p := strings.ToUpper(l.Protocol); (p == "HTTP" || p == "HTTPS") && r.problem[name] == "" {
				// Only the default actions are known: the target groups
				// the listener's other rules forward to are lost.
				r.errorf(path.Join(r.dir, name), "rules of listener %s not in snapshot: only its default actions are followed", l.ListenerArn)
			}
			r.listeners = append(r.listeners, l)
		}
	}
	r.targetGroups = map[string]*targetGroup{}
	var tdoc struct{ TargetGroups []*targetGroup }
	if r.readJSON(fileTargetGroups, &tdoc) {
		for _, tg := range tdoc.TargetGroups {
			if tg == nil || tg.TargetGroupArn == "" {
				continue
			}
			var hdoc struct{ TargetHealthDescriptions []targetHealth }
			if r.readJSON(path.Join(dirTargetHealth, arnfile.Name(tg.TargetGroupArn)+".json"), &hdoc) {
				tg.health = hdoc.TargetHealthDescriptions
				if tg.health == nil {
					tg.health = []targetHealth{}
				}
			}
			var adoc struct{ Attributes []struct{ Key, Value string } }
			if r.readJSON(path.Join(dirTargetGroupAttrs, arnfile.Name(tg.TargetGroupArn)+".json"), &adoc) {
				tg.attrs = map[string]string{}
				for _, a := range adoc.Attributes {
					tg.attrs[a.Key] = a.Value
				}
			}
			r.targetGroups[tg.TargetGroupArn] = tg
		}
	}
	var cdoc struct{ LoadBalancerDescriptions []*classicLB }
	if r.readJSON(fileClassicLBs, &cdoc) {
		for _, c := range cdoc.LoadBalancerDescriptions {
			if c != nil && c.LoadBalancerName != "" {
				r.classicLBs = append(r.classicLBs, c)
			}
		}
	}
}

// internetFacing reports whether a scheme is internet-facing. The API always
// prints the scheme; when an export lacks it, AWS's default
// (internet-facing) applies.
func internetFacing(scheme string) bool {
	return scheme == "" || scheme == schemeInternetFacing
}

// lbInfo is what group membership needs to know of any load balancer.
type lbInfo struct {
	key     string
	groups  []string
	subnets []string
}

func (r *region) allLoadBalancers() []lbInfo {
	var out []lbInfo
	for _, lb := range r.loadBalancers {
		out = append(out, lbInfo{key: lb.key(), groups: lb.SecurityGroups, subnets: lb.subnets()})
	}
	for _, c := range r.classicLBs {
		out = append(out, lbInfo{key: c.LoadBalancerName, groups: c.SecurityGroups, subnets: c.Subnets})
	}
	return out
}

// proxySources returns the addresses a backend sees when the load balancer
// does not preserve the client address: the LB's own private addresses,
// else its subnets' CIDRs, else (nothing known) any address. family 4 or 6
// keeps that family's addresses only (0: both).
func (r *region) proxySources(key string, subnets []string, family int) *netipx.IPSet {
	var b netipx.IPSetBuilder
	add := func(p netip.Prefix) {
		if family == 0 || (family == 4) == p.Addr().Is4() {
			b.AddPrefix(p)
		}
	}
	if ips := r.lbPrivateIPs[key]; len(ips) > 0 {
		for _, ip := range ips {
			if p, err := exposure.ParsePrefix(ip); err == nil {
				add(p)
			}
		}
	}
	if s, _ := b.IPSet(); len(s.Prefixes()) == 0 {
		for _, sn := range subnets {
			if sn := r.subnets[sn]; sn != nil {
				for _, c := range sn.cidrs() {
					if p, err := exposure.ParsePrefix(c); err == nil {
						add(p)
					}
				}
			}
		}
	}
	s, _ := b.IPSet()
	if len(s.Prefixes()) > 0 {
		return s
	}
	switch family {
	case 4:
		return exposure.Sources(netip.MustParsePrefix("0.0.0.0/0"))
	case 6:
		return exposure.Sources(netip.MustParsePrefix("::/0"))
	}
	return exposure.AnySource()
}

// lbSubnetHops returns the route-table, NACL-inbound and NACL-outbound hops
// of a load balancer's subnets. A client reaches one LB node, in one
// subnet; when the subnets differ each hop holds all their layers, which is
// sound (never narrower than the truth) and exact when they agree. A hop
// whose data is missing for one subnet is left out.
func (r *region) lbSubnetHops(subnets []string) exposure.Path {
	if len(subnets) == 0 {
		return nil
	}
	var hops [3]exposure.Hop
	known := [3]bool{true, true, true}
	add := func(i int, l *exposure.Layer) {
		if l == nil {
			known[i] = false
			return
		}
		if !slices.Contains(hops[i].Layers, l) {
			hops[i].Layers = append(hops[i].Layers, l)
		}
	}
	for _, s := range subnets {
		add(0, r.routeLayerOf(s))
		in, out := r.aclLayersOf(s)
		add(1, in)
		add(2, out)
	}
	var p exposure.Path
	for i, h := range hops {
		if known[i] {
			p = append(p, h)
		}
	}
	return p
}

// backendPath is what filters traffic in front of a backend ENI: its
// subnet's NACL (unless the LB has a node in the same subnet: NACLs filter
// only traffic that crosses the subnet boundary) and its security groups,
// optionally rewritten by variant. Nil (no filter) when the ENI is unknown.
func (r *region) backendPath(e *networkInterface, lbSubnets []string, variant func(*exposure.Layer) *exposure.Layer) exposure.Path {
	if e == nil {
		return nil
	}
	var p exposure.Path
	if !slices.Contains(lbSubnets, e.SubnetId) {
		if in, out := r.aclLayersOf(e.SubnetId); in != nil {
			p = append(p, exposure.Hop{Layers: []*exposure.Layer{in}}, exposure.Hop{Layers: []*exposure.Layer{out}})
		}
	}
	if hop, ok := r.securityGroupHop(e.groupIDs(), e.NetworkInterfaceId); ok {
		if variant != nil {
			for i, l := range hop.Layers {
				hop.Layers[i] = variant(l)
			}
		}
		p = append(p, hop)
	}
	return p
}

// loadBalancerTargets returns a target per internet-facing ALB, NLB and
// classic ELB with at least one listener.
func (r *region) loadBalancerTargets() []*exposure.Target {
	var out []*exposure.Target
	byLB := map[string][]*listener{}
	for _, l := range r.listeners {
		byLB[l.LoadBalancerArn] = append(byLB[l.LoadBalancerArn], l)
	}
	lbByARN := map[string]*loadBalancer{}
	for _, lb := range r.loadBalancers {
		lbByARN[lb.LoadBalancerArn] = lb
	}
	for _, lb := range r.loadBalancers {
		for _, g := range lb.SecurityGroups {
			r.attached[g] = true
		}
		// Gateway Load Balancers are reached through routes (GENEVE), not
		// as internet frontends; internal LBs have no public address.
		if !internetFacing(lb.Scheme) || (lb.Type != "application" && lb.Type != "network") {
			continue
		}
		if lb.State != nil && lb.State.Code == "failed" {
			continue
		}
		if lost, ok := r.gaps["elasticloadbalancing:DescribeListeners"][lb.LoadBalancerArn]; ok {
			// Which ports it listens on is unknown: nothing is inferred,
			// and the error names it (collection recorded why).
			r.errorf(lb.LoadBalancerArn, "%s", lost)
			continue
		}
		if t := r.elbv2Target(lb, byLB[lb.LoadBalancerArn], lbByARN); t != nil {
			out = append(out, t)
		}
	}
	for _, c := range r.classicLBs {
		for _, g := range c.SecurityGroups {
			r.attached[g] = true
		}
		if !internetFacing(c.Scheme) {
			continue
		}
		if t := r.classicTarget(c); t != nil {
			out = append(out, t)
		}
	}
	return out
}

func (r *region) instanceName(id string) string {
	if in := r.instances[id]; in != nil {
		return tagValue(in.Tags, "Name")
	}
	return ""
}
