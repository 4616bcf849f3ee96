package aws

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestNormalizeBadInput checks that bad input gives precise errors and
// that everything else is still normalized.
func TestNormalizeBadInput(t *testing.T) {
	t.Parallel()
	inv, err := Normalize(os.DirFS("testdata/bad"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range inv.Errors {
		if e.Provider != "aws" || e.Account != "111122223333" || e.Region != "eu-west-1" || e.Stage != "normalize" {
			t.Errorf("error scope %+v", e)
		}
		got = append(got, e.Resource+": "+e.Message)
	}
	want := []string{
		"111122223333/eu-west-1/ec2-describe-network-acls.json: decode: line 5: unexpected end of JSON input",
		"sg-0bad inbound rule 1 IpRanges[1].CidrIp: invalid CIDR \"10.0.0.300/24\"; source skipped",
		"sg-0bad inbound rule 2: FromPort/ToPort: port range 80-70000 out of range 0-65535; rule skipped",
		"sg-0bad inbound rule 3: IpProtocol: unknown protocol \"carrier-pigeon\"; rule skipped",
		"sg-0bad inbound rule 5 PrefixListIds[0]: prefix list pl-missing: entries not in snapshot; source skipped",
		"rtb-1 routes[2]: route destination: invalid CIDR \"not-a-cidr\"",
		"111122223333/eu-west-1/elb-describe-tags.json: decode: line 7: unexpected end of JSON input",
		"111122223333/eu-west-1/elbv2-describe-tags.json: decode: line 5: json: cannot unmarshal object into Go struct field .TagDescriptions.Tags of type []aws.tag",
		"111122223333/eu-west-1/elbv2-describe-target-groups.json: required file not in snapshot: what it holds is unknown and nothing is inferred through it",
		"111122223333/eu-west-1/elbv2-describe-rules/listener_app_web_1_1.json: rules of listener arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/1/1 not in snapshot: only its default actions are followed",
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}

	// The good parts of the group survive; the target is still there.
	l := findLayer(t, inv, "sg-0bad")
	var rules []string
	for _, r := range l.Rules {
		rules = append(rules, r.ID+" "+r.Protocol.String()+" "+strings.Join(exposure.Addrs(r.Sources), ","))
	}
	assertLines(t, "rules", rules, []string{
		"inbound #1 tcp 203.0.113.0/24",
		"inbound #1 tcp 2001:db8::/33",
		"inbound #4 udp 0.0.0.0/0",
	})
	tg := findTarget(t, inv, "eni-1")
	// The NACL file is unreadable, so the NACL hops are unknown layers:
	// never left out (read as open) and never closed.
	if got := pathShape(tg.Path); got != "rtb-1 | network ACL of subnet-1 | network ACL of subnet-1 | sg-0bad" {
		t.Errorf("path %s", got)
	}
	for _, l := range tg.Path[1].Layers {
		if want := "111122223333/eu-west-1/ec2-describe-network-acls.json: decode: line 5: unexpected end of JSON input"; l.Unknown != want {
			t.Errorf("NACL hop: Unknown %q, want %q", l.Unknown, want)
		}
	}
	// Nothing is inferred through the unknown NACL, and the analysis
	// says which target was not analysed and why.
	res := exposure.Analyze(inv)
	eff, _ := exposuresOf(inv, "eni-1")
	assertLines(t, "effective", eff, nil)
	if !slices.ContainsFunc(res.Errors, func(e exposure.Error) bool {
		return e.Resource == "eni-1" && strings.Contains(e.Message, "not analysed") && strings.Contains(e.Message, "ec2-describe-network-acls.json: decode: line 5")
	}) {
		t.Errorf("no analysis error names eni-1 and the NACL file: %v", res.Errors)
	}

	// Malformed tags files leave the load balancers untagged, not lost.
	const alb = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"
	for _, id := range []string{alb, "legacy"} {
		if tags := findTarget(t, inv, id).Tags; tags != nil {
			t.Errorf("%s tags %v, want none", id, tags)
		}
	}
	// Their subnets' NACLs are unknown too: nothing is inferred.
	eff, _ = exposuresOf(inv, alb, "legacy")
	assertLines(t, "load-balancer effective", eff, nil)
}

func TestNormalizeEmpty(t *testing.T) {
	t.Parallel()
	inv, err := Normalize(os.DirFS("testdata/does-not-exist"))
	if err != nil || len(inv.Targets)+len(inv.Layers)+len(inv.Errors) != 0 {
		t.Errorf("missing snapshot: %+v, %v", inv, err)
	}
}
