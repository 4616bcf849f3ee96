package aws

import (
	"context"
	"fmt"

	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Classic ELBs: each listener proxies to every registered instance.

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
