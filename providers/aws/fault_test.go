package aws

import (
	"bytes"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/arnfile"
	"github.com/portcullis-sec/portcullis/internal/faultproxy"
	"github.com/portcullis-sec/portcullis/providers"
)

// faultEstate is the estate of the fault-injection tests, built once in
// sa-east-1 (no other test uses the region): an instance whose NACL denies
// two ports its group opens, and two NLBs whose target groups come in
// creation order (moto lists them so), the first one's group first.
type faultEstate struct {
	nlbA, nlbB string
	tgA1, tgB1 string
	pubENI     string
	sshA, sshB string
	setupErr   error
}

var (
	faultOnce sync.Once
	faultEst  faultEstate
)

const faultRegion = "sa-east-1"

func buildFaultEstate(t *testing.T) faultEstate {
	faultOnce.Do(func() {
		// Cleared on the last line: a setup that stops half-way (t.Fatal in
		// the first test) leaves it set, and the tests after that one fail
		// instead of running on a partial estate.
		faultEst.setupErr = errors.New("fault estate setup did not complete (see the first fault test's failure)")
		e := newEstate(t, faultRegion)
		vpc, sn, _ := e.publicVPC("10.120.0.0/16", "10.120.1.0/24")
		private := e.subnetAZ(vpc, "10.120.2.0/24", "b")
		e.routeTable(vpc, private)
		// NACL on the public subnet: RDP and VNC denied, the rest allowed.
		e.customACL(vpc, sn,
			aclEntryInput(90, false, ec2types.RuleActionDeny, "6", "0.0.0.0/0", 3389, 3389),
			aclEntryInput(91, false, ec2types.RuleActionDeny, "6", "0.0.0.0/0", 5900, 5900),
			aclEntryInput(100, false, ec2types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0),
			aclEntryInput(100, true, ec2types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0))
		pubSG := e.securityGroup(vpc, "pub", tcpFrom(22, 22, "0.0.0.0/0"), tcpFrom(3389, 3389, "0.0.0.0/0"), tcpFrom(5900, 5900, "0.0.0.0/0"))
		_, faultEst.pubENI = e.instance(sn, "pub", true, pubSG)
		vpcOnly := e.securityGroup(vpc, "ssh-vpc-only", tcpFrom(22, 22, "10.120.0.0/16"))
		open := e.securityGroup(vpc, "open", tcpFrom(22, 22, "0.0.0.0/0"), tcpFrom(8443, 8443, "0.0.0.0/0"))
		sshA, _ := e.instance(private, "ssh-a", false, vpcOnly)
		sshB, _ := e.instance(private, "ssh-b", false, open)
		faultEst.sshA, faultEst.sshB = sshA, sshB
		a := e.loadBalancer("nlb-a", elbv2types.LoadBalancerTypeEnumNetwork, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{sn}, nil)
		b := e.loadBalancer("nlb-b", elbv2types.LoadBalancerTypeEnumNetwork, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{sn}, nil)
		faultEst.nlbA, faultEst.nlbB = a.arn, b.arn
		// tg-a1: instance targets with client IP preservation turned off,
		// so the NLB's own address reaches a VPC-only group: SSH is open
		// through nlb-a only because of that attribute.
		faultEst.tgA1 = e.targetGroup("tg-a1", vpc, elbv2types.ProtocolEnumTcp, 22, elbv2types.TargetTypeEnumInstance, target(sshA, 0))
		_, err := e.elbv2.ModifyTargetGroupAttributes(e.ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(faultEst.tgA1),
			Attributes: []elbv2types.TargetGroupAttribute{{Key: aws.String(attrPreserveClientIP), Value: aws.String("false")}}})
		e.must(err)
		faultEst.tgB1 = e.targetGroup("tg-b1", vpc, elbv2types.ProtocolEnumTcp, 22, elbv2types.TargetTypeEnumInstance, target(sshB, 0))
		tgB2 := e.targetGroup("tg-b2", vpc, elbv2types.ProtocolEnumTcp, 8443, elbv2types.TargetTypeEnumInstance, target(sshB, 0))
		e.listener(a.arn, elbv2types.ProtocolEnumTcp, 22, forwardTo(faultEst.tgA1))
		e.listener(b.arn, elbv2types.ProtocolEnumTcp, 22, forwardTo(faultEst.tgB1))
		e.listener(b.arn, elbv2types.ProtocolEnumTcp, 8443, forwardTo(tgB2))
		faultEst.setupErr = nil
	})
	if t.Failed() {
		t.FailNow()
	}
	if faultEst.setupErr != nil {
		t.Fatal(faultEst.setupErr)
	}
	return faultEst
}

// faultRun is one collection through a fault proxy.
type faultRun struct {
	snap  *providers.Snapshot
	inv   *exposure.Inventory
	res   *exposure.Result
	stats faultproxy.Stats
}

func collectThrough(t *testing.T, f faultproxy.Faults, denies ...faultproxy.Deny) faultRun {
	t.Helper()
	p, err := faultproxy.New(motoURL, f, denies...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	inv, snap := collectWith(t, Config{Regions: []string{faultRegion}, Endpoint: p.URL, maxBackoff: 20 * time.Millisecond})
	return faultRun{snap: snap, inv: inv, res: exposure.Analyze(inv), stats: p.Stats()}
}

// effectiveOf renders the effective exposures of the given targets (all
// when none is named), with the unknown marker.
func effectiveOf(r faultRun, ids ...string) []string {
	var out []string
	for _, e := range r.res.Effective {
		if len(ids) > 0 && !slices.Contains(ids, e.Target.ID) {
			continue
		}
		s := describe(e)
		if u := e.Unknown(); len(u) > 0 {
			s += " [unknown]"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestFaultInjection is issue 14 item 4: throttled, failing, reset and
// delayed calls are absorbed by the SDK's retries (the snapshot is byte for
// byte the clean one), and one resource's denied call loses that
// resource's data only, with an error naming it, never hiding nor
// inventing a path elsewhere.
func TestFaultInjection(t *testing.T) {
	est := buildFaultEstate(t)
	clean := collectThrough(t, faultproxy.Faults{})
	for _, e := range clean.snap.Errors() {
		t.Fatalf("clean run: collect error %v", e)
	}
	cleanEff := effectiveOf(clean)
	// The estate says what it was built to say: the NACL closes 3389 and
	// 5900, nlb-a's SSH is open through the NLB's address.
	for _, want := range []string{" tcp/22 ", "nlb-a"} {
		if !slices.ContainsFunc(cleanEff, func(s string) bool { return strings.Contains(s, want) }) {
			t.Fatalf("clean run lacks %q: %q", want, cleanEff)
		}
	}
	if slices.ContainsFunc(cleanEff, func(s string) bool { return strings.Contains(s, "tcp/3389") || strings.Contains(s, "tcp/5900") }) {
		t.Fatalf("clean run: NACL-denied port effective: %q", cleanEff)
	}
	if !slices.ContainsFunc(cleanEff, func(s string) bool { return strings.Contains(s, est.nlbA) && strings.Contains(s, "tcp/22") }) {
		t.Fatalf("clean run: no SSH through nlb-a: %q", cleanEff)
	}

	t.Run("transient faults are absorbed", func(t *testing.T) {
		for _, seed := range []uint64{1, 2, 3} {
			// Throttles are kept rare: the adaptive retry mode answers
			// each with client-side rate limiting (about a second here),
			// which is what it is for, and what would make the test slow.
			r := collectThrough(t, faultproxy.Faults{Seed: seed, Throttle: 0.05, ServerErr: 0.1, Reset: 0.05, Delay: 0.1})
			for _, e := range r.snap.Errors() {
				t.Errorf("seed %d: collect error %v", seed, e)
			}
			if r.stats.Throttled+r.stats.ServerErrors+r.stats.Resets == 0 {
				t.Errorf("seed %d: no fault injected in %d calls", seed, r.stats.Calls)
			}
			names := clean.snap.Names()
			if got := r.snap.Names(); !slices.Equal(got, names) {
				t.Errorf("seed %d: files %q, want %q", seed, got, names)
				continue
			}
			cf, rf := clean.snap.FS(), r.snap.FS()
			for _, n := range names {
				a, _ := readAll(cf, n)
				b, _ := readAll(rf, n)
				if !bytes.Equal(a, b) {
					t.Errorf("seed %d: %s differs from the clean run", seed, n)
				}
			}
			t.Logf("seed %d: %+v", seed, r.stats)
		}
	})

	others := func(r faultRun, lost ...string) {
		t.Helper()
		var keep []string
		for _, tg := range clean.inv.Targets {
			if !slices.Contains(lost, tg.ID) {
				keep = append(keep, tg.ID)
			}
		}
		if got, want := effectiveOf(r, keep...), effectiveOf(clean, keep...); !slices.Equal(got, want) {
			t.Errorf("the other resources changed:\n got  %q\n want %q", got, want)
		}
	}
	errorNames := func(r faultRun, resource, what string) {
		t.Helper()
		if !slices.ContainsFunc(r.snap.Errors(), func(e exposure.Error) bool {
			return e.Resource == resource && strings.Contains(e.Message, what)
		}) {
			t.Errorf("no collect error names %s and %q: %v", resource, what, r.snap.Errors())
		}
	}

	t.Run("DescribeListeners denied for one load balancer", func(t *testing.T) {
		r := collectThrough(t, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeListeners", Param: "LoadBalancerArn", Value: est.nlbA})
		others(r, est.nlbA)
		errorNames(r, est.nlbA, "listeners of "+est.nlbA+" lost")
		if hasTarget(r.inv, est.nlbA) {
			t.Errorf("nlb-a analysed with its listeners unknown")
		}
		if !slices.ContainsFunc(r.inv.Errors, func(e exposure.Error) bool { return e.Resource == est.nlbA }) {
			t.Errorf("normalization does not say nlb-a was not analysed: %v", r.inv.Errors)
		}
	})

	t.Run("DescribeTargetGroupAttributes denied for the first group", func(t *testing.T) {
		r := collectThrough(t, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeTargetGroupAttributes", Param: "TargetGroupArn", Value: est.tgA1})
		others(r, est.nlbA)
		errorNames(r, est.tgA1, "attributes of "+est.tgA1+" lost")
		// Later groups kept their attributes.
		if _, err := readAll(r.snap.FS(), "aws/"+clean.inv.Targets[0].Account+"/"+faultRegion+"/"+dirTargetGroupAttrs+"/"+arnfile.Name(est.tgB1)+".json"); err != nil {
			t.Errorf("tg-b1 lost its attributes: %v", err)
		}
		// nlb-a's SSH rests on the unknown attribute: kept, and said so.
		got := effectiveOf(r, est.nlbA)
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "tcp/22") && strings.HasSuffix(s, "[unknown]") }) {
			t.Errorf("nlb-a's SSH path hidden or not marked unknown: %q", got)
		}
	})

	t.Run("DescribeTargetHealth denied for the first group", func(t *testing.T) {
		r := collectThrough(t, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeTargetHealth", Param: "TargetGroupArn", Value: est.tgA1})
		others(r, est.nlbA)
		errorNames(r, est.tgA1, "registered targets of "+est.tgA1+" lost")
		got := effectiveOf(r, est.nlbA)
		if len(got) == 0 || !strings.HasSuffix(got[0], "[unknown]") {
			t.Errorf("nlb-a: %q, want its SSH kept and marked unknown", got)
		}
	})

	t.Run("DescribeSecurityGroups denied", func(t *testing.T) {
		r := collectThrough(t, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeSecurityGroups"})
		for _, s := range effectiveOf(r) {
			if !strings.HasSuffix(s, "[unknown]") && !slices.Contains(cleanEff, s) {
				t.Errorf("invented exposure with the security groups unknown: %s", s)
			}
		}
		if got := effectiveOf(r, est.pubENI); len(got) != 0 {
			t.Errorf("public interface exposed through unknown security groups: %q", got)
		}
		if !slices.ContainsFunc(r.res.Errors, func(e exposure.Error) bool {
			return e.Resource == est.pubENI && strings.Contains(e.Message, "not analysed")
		}) {
			t.Errorf("no error says %s was not analysed: %v", est.pubENI, r.res.Errors)
		}
	})

	t.Run("DescribeNetworkAcls denied", func(t *testing.T) {
		r := collectThrough(t, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeNetworkAcls"})
		for _, s := range effectiveOf(r) {
			if strings.Contains(s, "tcp/3389") || strings.Contains(s, "tcp/5900") {
				t.Errorf("NACL-denied port effective with the NACLs unknown: %s", s)
			}
			if !strings.HasSuffix(s, "[unknown]") && !slices.Contains(cleanEff, s) {
				t.Errorf("invented exposure with the NACLs unknown: %s", s)
			}
		}
	})
}

func readAll(fsys fs.FS, name string) ([]byte, error) { return fs.ReadFile(fsys, name) }
