package aws

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
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

func (rc *regionCollector) collectLoadBalancers(ctx context.Context) error {
	lbs := []elbv2types.LoadBalancer{}
	p := elbv2.NewDescribeLoadBalancersPaginator(rc.elbv2, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		lbs = append(lbs, page.LoadBalancers...)
	}
	if err := rc.put(fileLoadBalancers, map[string]any{"LoadBalancers": lbs}); err != nil {
		return err
	}
	// Tags only label targets: without them (a member role from before
	// they were collected lacks the permission) the listeners still count.
	if err := rc.collectLoadBalancerTags(ctx, lbs); err != nil {
		rc.fail(err, "collect load-balancer tags")
	}
	// One load balancer's failure loses its listeners only: it is recorded
	// as a gap naming its ARN (normalization then reports it not analysed)
	// and the others are collected.
	listeners := []elbv2types.Listener{}
	for _, lb := range lbs {
		arn := aws.ToString(lb.LoadBalancerArn)
		var mine []elbv2types.Listener
		lp := elbv2.NewDescribeListenersPaginator(rc.elbv2, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		var err error
		for lp.HasMorePages() && err == nil {
			var page *elbv2.DescribeListenersOutput
			if page, err = lp.NextPage(ctx); err == nil {
				mine = append(mine, page.Listeners...)
			}
		}
		if err != nil {
			rc.gap(err, arn, "listeners of "+arn+" lost: the load balancer is not analysed")
			continue
		}
		listeners = append(listeners, mine...)
	}
	if err := rc.put(fileListeners, map[string]any{"Listeners": listeners}); err != nil {
		return err
	}
	// Only ALB HTTP/HTTPS listeners have rules beyond the default action.
	for _, l := range listeners {
		if l.Protocol != elbv2types.ProtocolEnumHttp && l.Protocol != elbv2types.ProtocolEnumHttps {
			continue
		}
		rules := []elbv2types.Rule{}
		rp := elbv2.NewDescribeRulesPaginator(rc.elbv2, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
		var err error
		for rp.HasMorePages() && err == nil {
			var page *elbv2.DescribeRulesOutput
			if page, err = rp.NextPage(ctx); err == nil {
				rules = append(rules, page.Rules...)
			}
		}
		if err != nil {
			// Without the file, normalization follows the default actions
			// only and says so.
			rc.gap(err, aws.ToString(l.ListenerArn), "rules of "+aws.ToString(l.ListenerArn)+" lost: only its default actions are followed")
			continue
		}
		if err := rc.put(path.Join(dirRules, fileSafe(aws.ToString(l.ListenerArn))+".json"), map[string]any{"Rules": rules}); err != nil {
			return err
		}
	}
	return nil
}

func (rc *regionCollector) collectTargetGroups(ctx context.Context) error {
	tgs := []elbv2types.TargetGroup{}
	p := elbv2.NewDescribeTargetGroupsPaginator(rc.elbv2, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		tgs = append(tgs, page.TargetGroups...)
	}
	if err := rc.put(fileTargetGroups, map[string]any{"TargetGroups": tgs}); err != nil {
		return err
	}
	for _, tg := range tgs {
		if len(tg.LoadBalancerArns) == 0 {
			continue // used by no load balancer: nothing reaches its targets
		}
		// Each group's health and attributes are its own: a failure loses
		// that file only (normalization then marks the group's exposures
		// as resting on missing data) and the next group is collected.
		arn := aws.ToString(tg.TargetGroupArn)
		if h, err := rc.elbv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}); err != nil {
			rc.gap(err, arn, "registered targets of "+arn+" lost: its backends' filters are unknown")
		} else {
			descs := h.TargetHealthDescriptions
			if descs == nil {
				descs = []elbv2types.TargetHealthDescription{}
			}
			if err := rc.put(path.Join(dirTargetHealth, fileSafe(arn)+".json"), map[string]any{"TargetHealthDescriptions": descs}); err != nil {
				return err
			}
		}
		if a, err := rc.elbv2.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn}); err != nil {
			rc.gap(err, arn, "attributes of "+arn+" lost: client IP preservation unknown")
		} else {
			attrs := a.Attributes
			if attrs == nil {
				attrs = []elbv2types.TargetGroupAttribute{}
			}
			if err := rc.put(path.Join(dirTargetGroupAttrs, fileSafe(arn)+".json"), map[string]any{"Attributes": attrs}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rc *regionCollector) collectClassicLoadBalancers(ctx context.Context) error {
	lbs := []elbtypes.LoadBalancerDescription{}
	p := elb.NewDescribeLoadBalancersPaginator(rc.elb, &elb.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		lbs = append(lbs, page.LoadBalancerDescriptions...)
	}
	if err := rc.put(fileClassicLBs, map[string]any{"LoadBalancerDescriptions": lbs}); err != nil {
		return err
	}
	if err := rc.collectClassicLoadBalancerTags(ctx, lbs); err != nil {
		rc.fail(err, "collect classic load-balancer tags")
	}
	return nil
}

type loadBalancer struct {
	LoadBalancerArn   string
	LoadBalancerName  string
	DNSName           string
	Scheme            string
	Type              string
	IpAddressType     string
	VpcId             string
	SecurityGroups    []string
	AvailabilityZones []struct {
		ZoneName              string
		SubnetId              string
		LoadBalancerAddresses []struct {
			IpAddress          string
			PrivateIPv4Address string
			IPv6Address        string
		}
	}
	State *struct{ Code string }
}

func (lb *loadBalancer) subnets() []string {
	var s []string
	for _, z := range lb.AvailabilityZones {
		if z.SubnetId != "" {
			s = append(s, z.SubnetId)
		}
	}
	return s
}

// key is how the LB's ENIs name it: "ELB app/name/id".
func (lb *loadBalancer) key() string {
	_, after, ok := strings.Cut(lb.LoadBalancerArn, ":loadbalancer/")
	if !ok {
		return lb.LoadBalancerArn
	}
	return after
}

type lbAction struct {
	Type           string
	TargetGroupArn string
	ForwardConfig  *struct {
		TargetGroups []struct {
			TargetGroupArn string
			Weight         *int64
		}
	}
}

type listener struct {
	ListenerArn     string
	LoadBalancerArn string
	Port            int64
	Protocol        string
	DefaultActions  []lbAction
	rules           [][]lbAction
}

type targetGroup struct {
	TargetGroupArn   string
	TargetGroupName  string
	Protocol         string
	Port             *int64
	TargetType       string
	IpAddressType    string // ipv4 (default) or ipv6
	LoadBalancerArns []string
	// health is nil when the target health is not in the snapshot.
	health []targetHealth
	attrs  map[string]string
}

type targetHealth struct {
	Target struct {
		Id   string
		Port *int64
	}
	TargetHealth *struct{ State, Reason string }
}

type classicLB struct {
	LoadBalancerName     string
	DNSName              string
	Scheme               string
	VPCId                string
	Subnets              []string
	SecurityGroups       []string
	Instances            []struct{ InstanceId string }
	ListenerDescriptions []struct {
		Listener struct {
			Protocol         string
			LoadBalancerPort int64
			InstanceProtocol string
			InstancePort     int64
		}
	}
}

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
			name := path.Join(dirRules, fileSafe(l.ListenerArn)+".json")
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
			if r.readJSON(path.Join(dirTargetHealth, fileSafe(tg.TargetGroupArn)+".json"), &hdoc) {
				tg.health = hdoc.TargetHealthDescriptions
				if tg.health == nil {
					tg.health = []targetHealth{}
				}
			}
			var adoc struct{ Attributes []struct{ Key, Value string } }
			if r.readJSON(path.Join(dirTargetGroupAttrs, fileSafe(tg.TargetGroupArn)+".json"), &adoc) {
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

// listenerProtocols maps an ELBv2 listener protocol to IP protocols and
// whether the load balancer terminates the connection itself.
func listenerProtocols(p string) (protos []exposure.Protocol, terminates bool, err error) {
	switch strings.ToUpper(p) {
	case "HTTP", "HTTPS":
		return []exposure.Protocol{exposure.ProtocolTCP}, true, nil
	case "TLS":
		return []exposure.Protocol{exposure.ProtocolTCP}, true, nil
	case "TCP":
		return []exposure.Protocol{exposure.ProtocolTCP}, false, nil
	case "UDP", "QUIC":
		return []exposure.Protocol{exposure.ProtocolUDP}, false, nil
	case "TCP_UDP", "TCP_QUIC":
		return []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP}, false, nil
	}
	return nil, false, fmt.Errorf("unknown listener protocol %q", p)
}

// preservesClientIP applies the NLB target-group rules: always on for UDP,
// TCP_UDP, QUIC and TCP_QUIC; for TCP and TLS the preserve_client_ip.enabled
// attribute decides, defaulting to off for ip targets and on otherwise.
// known is false when the group's attributes are not in the snapshot and
// the protocol leaves it to them: the attribute is then unknown, not its
// default.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation
func preservesClientIP(tg *targetGroup) (preserve, known bool) {
	switch strings.ToUpper(tg.Protocol) {
	case "UDP", "TCP_UDP", "QUIC", "TCP_QUIC":
		return true, true
	}
	if tg.attrs == nil {
		return false, false
	}
	if v, ok := tg.attrs[attrPreserveClientIP]; ok {
		return strings.EqualFold(v, "true"), true
	}
	return tg.TargetType != "ip", true
}

// tgProblem says why a target group's per-group file is not usable.
func (r *region) tgProblem(dir string, tg *targetGroup) string {
	name := path.Join(dir, fileSafe(tg.TargetGroupArn)+".json")
	if p := r.problem[name]; p != "" {
		return p
	}
	return path.Join(r.dir, name) + ": not in snapshot"
}

func joinUnknown(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// listenerTargetGroups returns the target groups a listener's default
// actions and rules forward to; weight-0 groups get no traffic. Redirect,
// fixed-response and authenticate actions answer from the LB itself, which
// a terminating forward already covers.
func listenerTargetGroups(l *listener) (tgs []string) {
	consider := func(actions []lbAction) {
		for _, a := range actions {
			switch a.Type {
			case "forward":
				if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
					for _, tg := range a.ForwardConfig.TargetGroups {
						if (tg.Weight == nil || *tg.Weight > 0) && !slices.Contains(tgs, tg.TargetGroupArn) {
							tgs = append(tgs, tg.TargetGroupArn)
						}
					}
				} else if a.TargetGroupArn != "" && !slices.Contains(tgs, a.TargetGroupArn) {
					tgs = append(tgs, a.TargetGroupArn)
				}
			}
		}
	}
	consider(l.DefaultActions)
	for _, ru := range l.rules {
		consider(ru)
	}
	return tgs
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

func (r *region) elbv2Target(lb *loadBalancer, listeners []*listener, lbByARN map[string]*loadBalancer) *exposure.Target {
	if len(listeners) == 0 {
		return nil // nothing listens: no port answers
	}
	t := &exposure.Target{
		Scope: r.scope, ID: lb.LoadBalancerArn, Kind: exposure.KindLoadBalancer,
		Name: lb.LoadBalancerName, Owner: lb.LoadBalancerArn, Tags: r.lbTags[lb.LoadBalancerArn],
	}
	// The dualstack. prefix of the DNS name resolves to AAAA records too.
	// https://repost.aws/knowledge-center/elb-configure-with-ipv6
	if lb.DNSName != "" {
		if lb.IpAddressType != "dualstack-without-public-ipv4" {
			t.Endpoints = append(t.Endpoints, exposure.Endpoint{Host: lb.DNSName})
		}
		if strings.HasPrefix(lb.IpAddressType, ipAddressTypeDualstack) {
			t.Endpoints = append(t.Endpoints, exposure.Endpoint{Host: "dualstack." + lb.DNSName, IPv6: true})
		}
	}
	for i, z := range lb.AvailabilityZones {
		for j, a := range z.LoadBalancerAddresses {
			for _, ip := range []string{a.IpAddress, a.IPv6Address} {
				if ip == "" {
					continue
				}
				ep, err := parseEndpoint(ip)
				if err != nil {
					r.errorf(fmt.Sprintf("%s AvailabilityZones[%d].LoadBalancerAddresses[%d]", lb.LoadBalancerArn, i, j), "%v; skipped", err)
					continue
				}
				t.Endpoints = append(t.Endpoints, ep)
			}
		}
	}
	subnets := lb.subnets()
	t.Path = r.lbSubnetHops(subnets)
	if len(lb.SecurityGroups) > 0 {
		if hop, ok := r.securityGroupHop(lb.SecurityGroups, lb.LoadBalancerArn); ok {
			t.Path = append(t.Path, hop)
		}
	}
	seen := map[string]bool{}
	addForward := func(f exposure.Forward) {
		key := fmt.Sprintf("%s|%d|%s|%d", f.ID, f.Protocol, f.Backend, f.BackendPort)
		if !seen[key] {
			seen[key] = true
			t.Forwards = append(t.Forwards, f)
		}
	}
	for _, l := range listeners {
		protos, terminates, err := listenerProtocols(l.Protocol)
		if err != nil {
			r.errorf(l.ListenerArn+" Protocol", "%v; listener skipped", err)
			continue
		}
		if l.Port < 1 || l.Port > 65535 {
			r.errorf(l.ListenerArn+" Port", "port %d out of range 1-65535; listener skipped", l.Port)
			continue
		}
		front := exposure.Port(uint16(l.Port))
		tgARNs := listenerTargetGroups(l)
		for _, proto := range protos {
			backends := 0
			base := exposure.Forward{
				ID: l.ListenerArn, Kind: forwardKindListener, Protocol: proto,
				Frontend: front, Terminates: terminates,
				Name: fmt.Sprintf("%s:%d", l.Protocol, l.Port),
			}
			for _, arn := range tgARNs {
				tg := r.targetGroups[arn]
				if tg == nil {
					// The group is unknown: the path could exist, so the
					// forward is kept, filtering nothing, and marked.
					why := path.Join(r.dir, fileTargetGroups) + ": not in it"
					if p := r.problem[fileTargetGroups]; p != "" {
						why = p
					} else if !r.have[fileTargetGroups] {
						why = path.Join(r.dir, fileTargetGroups) + ": not in snapshot"
					} else {
						r.errorf(l.ListenerArn, "target group %s not in %s", arn, fileTargetGroups)
					}
					f := base
					f.Backend, f.Name = arn, base.Name+" → "+arn+" (target group unknown)"
					f.Unknown = "target group " + arn + " unknown (" + why + "): its targets and their filters are unknown"
					backends++
					addForward(f)
					continue
				}
				fs := r.targetGroupForwards(lb, tg, base, subnets, lbByARN)
				backends += len(fs)
				for _, f := range fs {
					addForward(f)
				}
			}
			if backends == 0 {
				// A proxy listener still answers (redirect, fixed
				// response, 503); a passthrough listener with no target
				// refuses every connection.
				f := base
				f.Name += " (no registered target)"
				if !terminates {
					f.BackendPath = exposure.Path{exposure.Hop{}}
				}
				addForward(f)
			}
		}
	}
	return t
}

// targetGroupForwards returns one forward per usable registered target.
func (r *region) targetGroupForwards(lb *loadBalancer, tg *targetGroup, base exposure.Forward, lbSubnets []string, lbByARN map[string]*loadBalancer) []exposure.Forward {
	base.Name += " → " + tg.TargetGroupName
	if tg.health == nil {
		// Registered targets not in the snapshot: nothing is known of the
		// backend. The path could exist, so it is kept (filtering nothing)
		// and marked as resting on missing data.
		f := base
		f.Backend = tg.TargetGroupArn
		f.Name += " (targets not in snapshot)"
		f.Unknown = fmt.Sprintf("registered targets of %s unknown (%s): backend filter unknown", tg.TargetGroupArn, r.tgProblem(dirTargetHealth, tg))
		return []exposure.Forward{f}
	}
	var out []exposure.Forward
	isALB := lb.Type == "application"
	preserve, known := preservesClientIP(tg)
	preserve = !isALB && preserve
	maybe := !isALB && !known
	var variant func(*exposure.Layer) *exposure.Layer
	if preserve && len(lb.SecurityGroups) > 0 {
		variant = func(l *exposure.Layer) *exposure.Layer {
			return r.lbReferenceVariant(l, lb.LoadBalancerArn, lb.SecurityGroups)
		}
	}
	for _, h := range tg.health {
		// "unused" targets (not registered, AZ not enabled, instance
		// stopped) and "draining" ones get no new connections; unhealthy
		// targets still count since the LB fails open when all are.
		if h.TargetHealth != nil && (h.TargetHealth.State == "unused" || h.TargetHealth.State == "draining") {
			continue
		}
		f := base
		f.Backend = h.Target.Id
		port := tg.Port
		if h.Target.Port != nil {
			port = h.Target.Port
		}
		if tg.TargetType != "lambda" && port != nil {
			if *port < 1 || *port > 65535 {
				r.errorf(tg.TargetGroupArn+" target "+h.Target.Id, "port %d out of range 1-65535; target skipped", *port)
				continue
			}
			f.BackendPort = uint16(*port)
		}
		switch {
		case maybe:
			// Whether the targets see the client is unknown: the backend
			// is delivered what either would deliver, marked unknown.
			f.ProxySources = r.proxySources(lb.key(), lbSubnets, 0)
			f.MaybeProxied = true
			f.Unknown = fmt.Sprintf("attributes of %s unknown (%s): client IP preservation unknown", tg.TargetGroupArn, r.tgProblem(dirTargetGroupAttrs, tg))
		case !preserve:
			f.ProxySources = r.proxySources(lb.key(), lbSubnets, 0)
		case strings.EqualFold(tg.IpAddressType, "ipv6"):
			// Client IP preservation holds for clients of the target
			// group's family only: the other family reaches the targets
			// from the NLB's own address of the group's family.
			// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation
			f.ProxySources4 = r.proxySources(lb.key(), lbSubnets, 6)
		default: // ipv4 (the default, and every instance target group)
			f.ProxySources6 = r.proxySources(lb.key(), lbSubnets, 4)
		}
		switch tg.TargetType {
		case "lambda":
			// Invoked by the ALB: no network path in front of it.
		case "alb":
			if alb := lbByARN[h.Target.Id]; alb != nil {
				f.BackendName = alb.LoadBalancerName
				if hop, ok := r.securityGroupHop(alb.SecurityGroups, alb.LoadBalancerArn); ok && len(alb.SecurityGroups) > 0 {
					if variant != nil {
						for i, l := range hop.Layers {
							hop.Layers[i] = variant(l)
						}
					}
					f.BackendPath = exposure.Path{hop}
				}
			}
		case "ip":
			e := r.eniByIP[h.Target.Id]
			if e != nil && e.Attachment != nil && e.Attachment.InstanceId != "" {
				f.BackendName = r.instanceName(e.Attachment.InstanceId)
			}
			f.BackendPath = r.backendPath(e, lbSubnets, variant)
		default: // instance
			f.BackendName = r.instanceName(h.Target.Id)
			e := r.primaryInterface(h.Target.Id)
			if e == nil {
				r.errorf(tg.TargetGroupArn+" target "+h.Target.Id, "instance's network interface not in snapshot; backend filter unknown")
				f.Unknown = joinUnknown(f.Unknown, "network interface of "+h.Target.Id+" not in snapshot: backend filter unknown")
			}
			f.BackendPath = r.backendPath(e, lbSubnets, variant)
		}
		if tg.TargetType == "ip" && r.eniByIP[h.Target.Id] == nil {
			// An IP target outside the VPC's interfaces (on premises, a
			// peered VPC): nothing of its filters is in the snapshot.
			f.Unknown = joinUnknown(f.Unknown, "no network interface holds "+h.Target.Id+": backend filter unknown")
		}
		out = append(out, f)
	}
	return out
}

func (r *region) instanceName(id string) string {
	if in := r.instances[id]; in != nil {
		return tagValue(in.Tags, "Name")
	}
	return ""
}

// classicTarget: a classic ELB proxies every listener protocol (TCP and SSL
// included), so the backend always sees the ELB's addresses.
func (r *region) classicTarget(c *classicLB) *exposure.Target {
	if len(c.ListenerDescriptions) == 0 {
		return nil
	}
	t := &exposure.Target{
		Scope: r.scope, ID: c.LoadBalancerName, Kind: exposure.KindLoadBalancer,
		Name: c.LoadBalancerName, Owner: c.LoadBalancerName, Tags: r.lbTags[c.LoadBalancerName],
	}
	if c.DNSName != "" {
		t.Endpoints = []exposure.Endpoint{{Host: c.DNSName}}
	}
	t.Path = r.lbSubnetHops(c.Subnets)
	if len(c.SecurityGroups) > 0 {
		if hop, ok := r.securityGroupHop(c.SecurityGroups, c.LoadBalancerName); ok {
			t.Path = append(t.Path, hop)
		}
	}
	proxy := r.proxySources(c.LoadBalancerName, c.Subnets, 0)
	for i, ld := range c.ListenerDescriptions {
		l := ld.Listener
		if l.LoadBalancerPort < 1 || l.LoadBalancerPort > 65535 || l.InstancePort < 1 || l.InstancePort > 65535 {
			r.errorf(fmt.Sprintf("%s ListenerDescriptions[%d]", c.LoadBalancerName, i), "port %d→%d out of range 1-65535; listener skipped", l.LoadBalancerPort, l.InstancePort)
			continue
		}
		base := exposure.Forward{
			ID:   fmt.Sprintf("%s:%s:%d", c.LoadBalancerName, l.Protocol, l.LoadBalancerPort),
			Name: fmt.Sprintf("%s:%d → %s:%d", l.Protocol, l.LoadBalancerPort, l.InstanceProtocol, l.InstancePort),
			Kind: forwardKindListener, Protocol: exposure.ProtocolTCP,
			Frontend: exposure.Port(uint16(l.LoadBalancerPort)), BackendPort: uint16(l.InstancePort),
			Terminates: true, ProxySources: proxy,
		}
		if len(c.Instances) == 0 {
			f := base
			f.Name += " (no registered instance)"
			t.Forwards = append(t.Forwards, f)
			continue
		}
		for _, in := range c.Instances {
			f := base
			f.Backend = in.InstanceId
			f.BackendName = r.instanceName(in.InstanceId)
			e := r.primaryInterface(in.InstanceId)
			if e == nil {
				r.errorf(c.LoadBalancerName+" instance "+in.InstanceId, "instance's network interface not in snapshot; backend filter unknown")
			}
			f.BackendPath = r.backendPath(e, c.Subnets, nil)
			t.Forwards = append(t.Forwards, f)
		}
	}
	return t
}
