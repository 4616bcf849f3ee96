package aws

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/arnfile"
)

// ELBv2: application and network load balancers, their listeners (and
// listener rules) and target groups (with health and attributes).

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
		if err := rc.put(path.Join(dirRules, arnfile.Name(aws.ToString(l.ListenerArn))+".json"), map[string]any{"Rules": rules}); err != nil {
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
			if err := rc.put(path.Join(dirTargetHealth, arnfile.Name(arn)+".json"), map[string]any{"TargetHealthDescriptions": descs}); err != nil {
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
			if err := rc.put(path.Join(dirTargetGroupAttrs, arnfile.Name(arn)+".json"), map[string]any{"Attributes": attrs}); err != nil {
				return err
			}
		}
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
	name := path.Join(dir, arnfile.Name(tg.TargetGroupArn)+".json")
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
