package aws

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

// queryForm returns the parameters of an AWS query-protocol request (ELB
// and ELBv2 send them as a form body) and leaves the body to be proxied.
func queryForm(t *testing.T, r *http.Request) url.Values {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	form, _ := url.ParseQuery(string(b))
	return form
}

// queryError answers a query-protocol request with an AWS error.
func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code, msg)
}

// taggedEstate is a public VPC whose ALB and classic ELB carry tags.
type taggedEstate struct {
	alb        lbOut
	classicDNS string
	subnet     string
	group      string // the load balancers' group: 80 and 443 open to all
}

// taggedLoadBalancers seeds, in a public VPC on prefix16 (two subnets in two
// AZs, as an ALB needs), an internet-facing ALB answering on port 80 and a
// classic ELB "tagged-classic" on 443, each with the tags (none when nil).
func (e *estate) taggedLoadBalancers(prefix16 string, albTags, classicTags map[string]string) taggedEstate {
	e.t.Helper()
	vpc, snA, _ := e.publicVPC(prefix16+".0.0/16", prefix16+".1.0/24")
	snB := e.subnetAZ(vpc, prefix16+".2.0/24", "b")
	te := taggedEstate{subnet: snA, group: e.securityGroup(vpc, "lb", tcpFrom(80, 80, "0.0.0.0/0"), tcpFrom(443, 443, "0.0.0.0/0"))}
	te.alb = e.loadBalancer("tagged-alb", elbv2types.LoadBalancerTypeEnumApplication, elbv2types.LoadBalancerSchemeEnumInternetFacing, []string{snA, snB}, []string{te.group})
	if len(albTags) > 0 {
		var tags []elbv2types.Tag
		for k, v := range albTags {
			tags = append(tags, elbv2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		_, err := e.elbv2.AddTags(e.ctx, &elbv2.AddTagsInput{ResourceArns: []string{te.alb.arn}, Tags: tags})
		e.must(err)
	}
	e.listener(te.alb.arn, elbv2types.ProtocolEnumHttp, 80, elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse,
		FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}})
	te.classicDNS = e.classicLB("tagged-classic", snA, te.group, classicTags)
	return te
}

// classicLB seeds an internet-facing classic ELB listening on 443 and
// returns its DNS name.
func (e *estate) classicLB(name, subnet, group string, tags map[string]string) string {
	e.t.Helper()
	var ts []elbtypes.Tag
	for k, v := range tags {
		ts = append(ts, elbtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.elb.CreateLoadBalancer(e.ctx, &elb.CreateLoadBalancerInput{
		LoadBalancerName: aws.String(name), Subnets: []string{subnet}, SecurityGroups: []string{group}, Tags: ts,
		Listeners: []elbtypes.Listener{{Protocol: aws.String("TCP"), LoadBalancerPort: 443, InstanceProtocol: aws.String("TCP"), InstancePort: aws.Int32(443)}},
	})
	e.must(err)
	return aws.ToString(out.DNSName)
}

// lbTagsOf returns the tags of every load-balancer target, by ID.
func lbTagsOf(inv *exposure.Inventory) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, tg := range inv.Targets {
		if tg.Kind == exposure.KindLoadBalancer {
			out[tg.ID] = tg.Tags
		}
	}
	return out
}

// TestLoadBalancerTags collects tagged load balancers through a proxy that,
// like AWS, refuses DescribeTags for more than 20 load balancers: 22
// classic ELBs take two calls. Every load-balancer target, and so every
// exposure of it, carries exactly its own tags, live and after a round trip
// through a snapshot directory.
func TestLoadBalancerTags(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "eu-north-1")
	albTags := map[string]string{"Name": "storefront", "env": "prod", "team": "web", "empty": ""}
	classicTags := map[string]string{"owner": "payments", "cost-center": "cc-42"}
	te := e.taggedLoadBalancers("10.160", albTags, classicTags)
	alb := te.alb
	want := map[string]map[string]string{alb.arn: albTags, "tagged-classic": classicTags}
	for i := range 21 {
		name := fmt.Sprintf("classic-%02d", i)
		var tags map[string]string
		if i != 20 {
			tags = map[string]string{"index": fmt.Sprint(i)}
		}
		e.classicLB(name, te.subnet, te.group, tags)
		want[name] = tags
	}

	var mu sync.Mutex
	calls := map[string][]int{} // Version (API) → load balancers per DescribeTags call
	endpoint := motoProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		form := queryForm(t, r)
		if form.Get("Action") != "DescribeTags" {
			return false
		}
		n := 0
		for k := range form {
			if strings.HasPrefix(k, "ResourceArns.member.") || strings.HasPrefix(k, "LoadBalancerNames.member.") {
				n++
			}
		}
		mu.Lock()
		calls[form.Get("Version")] = append(calls[form.Get("Version")], n)
		mu.Unlock()
		if n > 20 { // AWS's limit, whatever the code believes
			queryError(w, http.StatusBadRequest, "ValidationError", "at most 20 load balancers")
			return true
		}
		return false
	})
	inv, snap := collectWith(t, Config{Regions: []string{e.region}, Endpoint: endpoint})
	for _, err := range snap.Errors() {
		t.Errorf("collect error: %v", err)
	}
	// ELBv2 is API version 2015-12-01, classic ELB 2012-06-01.
	if got := fmt.Sprint(calls["2015-12-01"], calls["2012-06-01"]); got != "[1] [20 2]" {
		t.Errorf("DescribeTags calls (load balancers per call, ELBv2 then classic): %s, want [1] [20 2]", got)
	}

	got := lbTagsOf(inv)
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("load-balancer tags:\n got  %v\n want %v", got, want)
	}
	// The Name tag labels; the load balancer's own name still names it.
	if n := findTarget(t, inv, alb.arn).Name; n != "tagged-alb" {
		t.Errorf("ALB target name %q, want tagged-alb", n)
	}
	res := exposure.Analyze(inv)
	seen := map[string]bool{}
	for _, x := range res.Effective {
		if tags, ok := want[x.Target.ID]; ok {
			seen[x.Target.ID] = true
			if !maps.Equal(x.Target.Tags, tags) {
				t.Errorf("exposure %s: tags %v, want %v", describe(x), x.Target.Tags, tags)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d of %d load balancers have effective exposures", len(seen), len(want))
	}

	// Offline: the snapshot written to disk reads back with the same tags.
	dir := t.TempDir()
	if err := snap.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	offline, err := Normalize(os.DirFS(filepath.Join(dir, providerName)))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range offline.Errors {
		t.Errorf("offline normalize error: %v", err)
	}
	if back := lbTagsOf(offline); !maps.EqualFunc(back, want, maps.Equal) {
		t.Errorf("load-balancer tags read back from %s:\n got  %v\n want %v", dir, back, want)
	}
}

// TestLoadBalancerTagsDenied: a member role without
// elasticloadbalancing:DescribeTags (one deployed before tags were
// collected) gives one error per API naming the region and the call; the
// load balancers are still targets with their listeners, untagged.
func TestLoadBalancerTagsDenied(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "ap-northeast-3")
	te := e.taggedLoadBalancers("10.170", map[string]string{"env": "prod"}, map[string]string{"env": "prod"})
	alb := te.alb
	endpoint := motoProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		if queryForm(t, r).Get("Action") != "DescribeTags" {
			return false
		}
		queryError(w, http.StatusForbidden, "AccessDenied", "not authorized to perform: elasticloadbalancing:DescribeTags")
		return true
	})
	inv, snap := collectWith(t, Config{Regions: []string{e.region}, Endpoint: endpoint})

	var errs []string
	for _, x := range snap.Errors() {
		if x.Provider != "aws" || x.Account != motoAccount || x.Region != e.region || x.Stage != "collect" || !strings.Contains(x.Message, "AccessDenied") {
			t.Errorf("error %+v", x)
		}
		what, _, _ := strings.Cut(x.Message, ":")
		errs = append(errs, x.Resource+" "+what)
	}
	slices.Sort(errs)
	assertLines(t, "collect errors", errs, []string{
		"elasticloadbalancing:DescribeTags collect classic load-balancer tags",
		"elasticloadbalancing:DescribeTags collect load-balancer tags",
	})
	sub, _ := fs.Sub(snap.FS(), providerName)
	for _, f := range []string{fileLoadBalancerTags, fileClassicLBTags} {
		if _, err := fs.Stat(sub, path.Join(motoAccount, e.region, f)); err == nil {
			t.Errorf("%s written although DescribeTags failed", f)
		}
	}
	for _, x := range inv.Errors {
		t.Errorf("normalize error (a missing tags file is none): %v", x)
	}
	if got := lbTagsOf(inv); !maps.EqualFunc(got, map[string]map[string]string{alb.arn: nil, "tagged-classic": nil}, maps.Equal) {
		t.Errorf("load-balancer tags %v, want both targets untagged", got)
	}
	eff, _ := exposuresOf(inv, alb.arn, "tagged-classic")
	assertLines(t, "effective", eff, []string{
		alb.dns + " " + alb.arn + " tcp/80 from internet4",
		te.classicDNS + " tagged-classic tcp/443 from internet4",
	})
}
