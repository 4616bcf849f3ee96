package aws

import (
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

func groupRef(proto string, from, to int32, group string) ec2types.IpPermission {
	return ec2types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
		UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(group)}}}
}

type lbOut struct{ arn, dns string }

func (e *estate) loadBalancer(name string, typ elbv2types.LoadBalancerTypeEnum, scheme elbv2types.LoadBalancerSchemeEnum, subnets, groups []string) lbOut {
	e.t.Helper()
	out, err := e.elbv2.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String(name), Type: typ, Scheme: scheme, Subnets: subnets, SecurityGroups: groups,
	})
	e.must(err)
	return lbOut{aws.ToString(out.LoadBalancers[0].LoadBalancerArn), aws.ToString(out.LoadBalancers[0].DNSName)}
}

func (e *estate) targetGroup(name, vpc string, proto elbv2types.ProtocolEnum, port int32, typ elbv2types.TargetTypeEnum, targets ...elbv2types.TargetDescription) string {
	e.t.Helper()
	out, err := e.elbv2.CreateTargetGroup(e.ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: proto, Port: aws.Int32(port), VpcId: aws.String(vpc), TargetType: typ,
	})
	e.must(err)
	arn := out.TargetGroups[0].TargetGroupArn
	if len(targets) > 0 {
		_, err = e.elbv2.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: arn, Targets: targets})
		e.must(err)
	}
	return aws.ToString(arn)
}

func (e *estate) listener(lb string, proto elbv2types.ProtocolEnum, port int32, actions ...elbv2types.Action) string {
	e.t.Helper()
	out, err := e.elbv2.CreateListener(e.ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(lb), Protocol: proto, Port: aws.Int32(port), DefaultActions: actions,
	})
	e.must(err)
	return aws.ToString(out.Listeners[0].ListenerArn)
}

func forwardTo(tg string) elbv2types.Action {
	return elbv2types.Action{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}
}

func target(id string, port int32) elbv2types.TargetDescription {
	d := elbv2types.TargetDescription{Id: aws.String(id)}
	if port != 0 {
		d.Port = aws.Int32(port)
	}
	return d
}

func TestApplicationLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ap-southeast-1")
	vpc, snA, _ := e.publicVPC("10.100.0.0/16", "10.100.1.0/24")
	snB := e.subnetAZ(vpc, "10.100.2.0/24", "b")
	private := e.subnetAZ(vpc, "10.100.3.0/24", "b")
	e.routeTable(vpc, private)
	albSG := e.securityGroup(vpc, "alb", tcpFrom(80, 81, "0.0.0.0/0"))
	backSG := e.securityGroup(vpc, "backend", groupRef("tcp", 8080, 8080, albSG))
	internalSG := e.securityGroup(vpc, "internal-alb", tcpFrom(80, 80, "0.0.0.0/0"))
	inst, _ := e.instance(private, "app-1", false, backSG)
	alb := e.loadBalancer("public-alb", elbv2types.LoadBalancerTypeEnumApplication, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{snA, snB}, []string{albSG})
	internal := e.loadBalancer("internal-alb", elbv2types.LoadBalancerTypeEnumApplication, elbv2types.LoadBalancerSchemeEnumInternal, []string{snA, snB}, []string{internalSG})
	tg := e.targetGroup("app", vpc, elbv2types.ProtocolEnumHttp, 8080, elbv2types.TargetTypeEnumInstance, target(inst, 0))
	e.listener(alb.arn, elbv2types.ProtocolEnumHttp, 80, forwardTo(tg))
	e.listener(alb.arn, elbv2types.ProtocolEnumHttp, 81, elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse,
		FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}})
	e.listener(internal.arn, elbv2types.ProtocolEnumHttp, 80, forwardTo(tg))
	inv, _ := e.collect()

	if hasTarget(inv, internal.arn) {
		t.Errorf("internal ALB %s is a target", internal.arn)
	}
	tgt := findTarget(t, inv, alb.arn)
	if tgt.Kind != exposure.KindLoadBalancer || len(tgt.Endpoints) != 1 || tgt.Endpoints[0].Host != alb.dns {
		t.Errorf("ALB target kind %q endpoints %+v", tgt.Kind, tgt.Endpoints)
	}
	// Both subnets share the main route table and the default NACL.
	if got, want := pathShape(tgt.Path), e.mainRouteTable(vpc)+" | "+tgt.Path[1].Layers[0].ID+" | "+tgt.Path[1].Layers[0].ID+"(out) | "+albSG; got != want {
		t.Errorf("ALB path %s, want %s", got, want)
	}
	for _, f := range tgt.Forwards {
		if !f.Terminates || (f.Backend != "" && f.ProxySources == nil) {
			t.Errorf("forward %s: ALB forwards terminate and proxy", f.Name)
		}
	}
	eff, lat := exposuresOf(inv, alb.arn, internal.arn, internalSG)
	assertLines(t, "effective", eff, []string{
		alb.dns + " " + alb.arn + " tcp/80 from internet4 → " + inst + ":8080",
		alb.dns + " " + alb.arn + " tcp/81 from internet4",
	})
	assertLines(t, "latent", lat, []string{internalSG + " tcp/80 from internet4"})
}

func TestNetworkLoadBalancerPortTranslation(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ap-southeast-2")
	vpc, sn, _ := e.publicVPC("10.110.0.0/16", "10.110.1.0/24")
	private := e.subnetAZ(vpc, "10.110.2.0/24", "b")
	e.routeTable(vpc, private)
	openSG := e.securityGroup(vpc, "open-8443", tcpFrom(8443, 8443, "0.0.0.0/0"))
	vpcOnlySG := e.securityGroup(vpc, "vpc-only", tcpFrom(22, 22, "10.0.0.0/8"), tcpFrom(9000, 9000, "10.110.0.0/16"))
	web, _ := e.instance(private, "web", false, openSG)
	ssh, _ := e.instance(private, "ssh", false, vpcOnlySG)
	_, ipENI := e.instance(private, "svc", false, vpcOnlySG)
	nlb := e.loadBalancer("nlb", elbv2types.LoadBalancerTypeEnumNetwork, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{sn}, nil)
	// Listener 443 → target group port 8443.
	e.listener(nlb.arn, elbv2types.ProtocolEnumTcp, 443, forwardTo(e.targetGroup("web", vpc, elbv2types.ProtocolEnumTcp, 8443, elbv2types.TargetTypeEnumInstance, target(web, 0))))
	// Instance targets preserve the client IP: a VPC-only group shuts it.
	e.listener(nlb.arn, elbv2types.ProtocolEnumTcp, 22, forwardTo(e.targetGroup("ssh", vpc, elbv2types.ProtocolEnumTcp, 2222, elbv2types.TargetTypeEnumInstance, target(ssh, 22))))
	// ip targets over TCP see the NLB's address by default: the VPC-only
	// group admits it, so the internet gets through.
	e.listener(nlb.arn, elbv2types.ProtocolEnumTcp, 9000, forwardTo(e.targetGroup("svc", vpc, elbv2types.ProtocolEnumTcp, 9000, elbv2types.TargetTypeEnumIp, target(e.privateIPv4(ipENI), 0))))
	inv, _ := e.collect()

	tgt := findTarget(t, inv, nlb.arn)
	// No security group on the NLB: its path is the subnet's hops only.
	if len(tgt.Path) != 3 {
		t.Errorf("NLB path %s, want route and NACL hops only", pathShape(tgt.Path))
	}
	eff, _ := exposuresOf(inv, nlb.arn)
	assertLines(t, "effective", eff, []string{
		nlb.dns + " " + nlb.arn + " tcp/443 from internet4 → " + web + ":8443",
		nlb.dns + " " + nlb.arn + " tcp/9000 from internet4 → " + e.privateIPv4(ipENI) + ":9000",
	})
}

func TestClassicLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ca-central-1")
	vpc, sn, _ := e.publicVPC("10.120.0.0/16", "10.120.1.0/24")
	elbSG := e.securityGroup(vpc, "elb", tcpFrom(443, 443, "0.0.0.0/0"))
	backSG := e.securityGroup(vpc, "backend", groupRef("tcp", 8080, 8080, elbSG))
	inst, _ := e.instance(sn, "legacy", false, backSG)
	out, err := e.elb.CreateLoadBalancer(e.ctx, &elb.CreateLoadBalancerInput{
		LoadBalancerName: aws.String("legacy"), Subnets: []string{sn}, SecurityGroups: []string{elbSG},
		Listeners: []elbtypes.Listener{{Protocol: aws.String("TCP"), LoadBalancerPort: 443, InstanceProtocol: aws.String("TCP"), InstancePort: aws.Int32(8080)}},
	})
	e.must(err)
	_, err = e.elb.RegisterInstancesWithLoadBalancer(e.ctx, &elb.RegisterInstancesWithLoadBalancerInput{
		LoadBalancerName: aws.String("legacy"), Instances: []elbtypes.Instance{{InstanceId: aws.String(inst)}},
	})
	e.must(err)
	inv, _ := e.collect()
	dns := aws.ToString(out.DNSName)
	eff, _ := exposuresOf(inv, "legacy")
	assertLines(t, "effective", eff, []string{dns + " legacy tcp/443 from internet4 → " + inst + ":8080"})
}

func TestSeveralRegions(t *testing.T) {
	t.Parallel()
	regions := []string{"sa-east-1", "ap-south-1"}
	enis := map[string]string{}
	for i, r := range regions {
		e := newEstate(t, r)
		vpc, sn, _ := e.publicVPC("10.130.0.0/16", "10.130.1.0/24")
		_, eni := e.instance(sn, "r"+string(rune('0'+i)), true, e.securityGroup(vpc, "ssh", tcpFrom(22, 22, "0.0.0.0/0")))
		enis[r] = eni
	}
	inv, _ := collectRegions(t, nil, regions...)
	for r, eni := range enis {
		tg := findTarget(t, inv, eni)
		if tg.Region != r || tg.Account != motoAccount || tg.Provider != "aws" {
			t.Errorf("%s scope %+v, want aws/%s/%s", eni, tg.Scope, motoAccount, r)
		}
	}
}

// TestPermissions runs the collector over every enabled region of an estate
// that exercises every API and checks Permissions lists exactly what was
// invoked.
func TestPermissions(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "us-east-1")
	vpc, sn, _ := e.publicVPC("10.140.0.0/16", "10.140.1.0/24")
	snB := e.subnetAZ(vpc, "10.140.2.0/24", "b")
	sg := e.securityGroup(vpc, "alb", tcpFrom(80, 80, "0.0.0.0/0"))
	inst, _ := e.instance(sn, "app", false, sg)
	alb := e.loadBalancer("perm-alb", elbv2types.LoadBalancerTypeEnumApplication, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{sn, snB}, []string{sg})
	e.listener(alb.arn, elbv2types.ProtocolEnumHttp, 80, forwardTo(e.targetGroup("perm", vpc, elbv2types.ProtocolEnumHttp, 80, elbv2types.TargetTypeEnumInstance, target(inst, 0))))
	_, err := e.ec2.CreateManagedPrefixList(e.ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("perm"), AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(1),
		Entries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("192.0.2.0/24")}},
	})
	e.must(err)

	var mu sync.Mutex
	called := map[string]bool{}
	collectRegions(t, func(action string) {
		mu.Lock()
		defer mu.Unlock()
		called[action] = true
	})
	var got []string
	for a := range called {
		got = append(got, a)
	}
	sort.Strings(got)
	want := append([]string(nil), Permissions...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("invoked operations differ from Permissions:\n got  %v\n want %v", got, want)
	}
}
