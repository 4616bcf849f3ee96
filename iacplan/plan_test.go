package iacplan_test

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/iacplan"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

var now = time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)

// demo is the demo estate, the base snapshot of most tests.
func demo(t *testing.T) fs.FS {
	t.Helper()
	return os.DirFS(filepath.Join("..", "demo", "estate"))
}

// check applies a plan onto base, audits both snapshots with the real
// audit and compares them, as `portcullis plan` does.
func check(t *testing.T, base fs.FS, p *iacplan.Plan, o iacplan.Options) (*iacplan.Result, *iacplan.Overlay) {
	t.Helper()
	ov, err := iacplan.Apply(base, p, o)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	ao := audit.Options{Rules: rules.Options{Now: now}, FailOn: rules.High}
	ao.Snapshot = ov.Planned
	after, err := audit.Run(context.Background(), ao)
	if err != nil {
		t.Fatalf("audit planned: %v", err)
	}
	baseDoc := iacplan.EmptyBase(after.Report)
	if !ov.Empty {
		ao.Snapshot = ov.Base
		before, err := audit.Run(context.Background(), ao)
		if err != nil {
			t.Fatalf("audit base: %v", err)
		}
		baseDoc = reports.NewDocument(before.Report)
	}
	res, err := iacplan.Compare(baseDoc, reports.NewDocument(after.Report), ov, rules.High, now)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	res.Source = p.Source
	return res, ov
}

func terraform(t *testing.T, name string) *iacplan.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iacplan.ParseTerraform(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return p
}

func dump(t *testing.T, r *iacplan.Result) string {
	t.Helper()
	var b strings.Builder
	if err := iacplan.Render(&b, "table", r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// items returns the items of one kind and level.
func items(r *iacplan.Result, kind string, level exposure.Level) []iacplan.Item {
	var out []iacplan.Item
	for _, it := range r.Items {
		if it.Kind == kind && it.Key.Level == level {
			out = append(out, it)
		}
	}
	return out
}

var update = flag.Bool("update", false, "rewrite the golden files")

// find returns the one item with that kind, level and target (a key
// target, or a target label containing it), failing the test otherwise.
func find(t *testing.T, r *iacplan.Result, kind string, level exposure.Level, target string) iacplan.Item {
	t.Helper()
	var got []iacplan.Item
	for _, it := range items(r, kind, level) {
		if it.Key.Target == target {
			got = append(got, it)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s %s item on %s, got %d in:\n%s", kind, level, target, len(got), dump(t, r))
	}
	return got[0]
}

// IaC scanners flag a 0.0.0.0/0 rule wherever it is; on a group whose
// only instance sits in a subnet without an internet route and has no
// public address, the rule is latent: nothing becomes reachable.
func TestPrivateSubnetRuleIsLatentOnly(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "private-ssh.tfplan.json"), iacplan.Options{})
	if len(res.Items) != 1 {
		t.Fatalf("want exactly one change, got:\n%s", dump(t, res))
	}
	it := find(t, res, iacplan.KindNew, exposure.Latent, "sg-077f0aaee9cd5499a")
	if it.Ports != "22" || !slices.Equal(it.Sources, []string{"0.0.0.0/0"}) || !it.HasFindings {
		t.Errorf("latent item: ports %q sources %v findings %v", it.Ports, it.Sources, it.Findings)
	}
	if c := res.Count(); c.Effective != 0 || res.Failing != 0 {
		t.Errorf("a rule on a private instance made %d effective changes (%d failing)", c.Effective, res.Failing)
	}
	if res.Partial || len(res.NotModelled) != 0 {
		t.Errorf("partial %v, not modelled %v", res.Partial, res.NotModelled)
	}
}

// A route-table association alone, without any security-group change,
// makes cache-1's data subnet public: redis-debug's latent 6379 becomes
// an effective exposure of its Elastic IP.
func TestRouteAssociationMakesSubnetPublic(t *testing.T) {
	p := terraform(t, "route-public.tfplan.json")
	for _, rc := range p.Changes {
		if strings.Contains(rc.Type, "security_group") {
			t.Fatalf("fixture changes a security group: %s", rc)
		}
	}
	res, _ := check(t, demo(t), p, iacplan.Options{})
	it := find(t, res, iacplan.KindNew, exposure.Effective, "eni-0bff4df0a3cccf282")
	if it.Key.Endpoint != "203.0.113.60" || it.Ports != "6379" || it.Key.Protocol != exposure.ProtocolTCP {
		t.Errorf("new effective: endpoint %s %s %s", it.Key.Endpoint, it.Key.Protocol, it.Ports)
	}
	if !it.Failing || res.Failing != 1 {
		t.Errorf("redis open to the internet does not fail at high: item %v, failing %d", it.Failing, res.Failing)
	}
	closed := find(t, res, iacplan.KindClosed, exposure.Latent, "sg-0633d7be828c50754")
	if !closed.NowEffective {
		t.Errorf("the latent redis-debug rule closed without being marked now effective")
	}
	if len(res.Applied) != 1 || res.Applied[0].Account != "111122223333" || res.Applied[0].Region != "eu-west-1" {
		t.Errorf("applied: %+v", res.Applied)
	}
}

func TestNarrowedRule(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "narrow.tfplan.json"), iacplan.Options{})
	it := find(t, res, iacplan.KindNarrowed, exposure.Effective, "eni-07b53c6972d66950d")
	if it.Key.Endpoint != "203.0.113.30" || it.Ports != "22" || !slices.Equal(it.Sources, []string{"198.51.100.0/24"}) {
		t.Errorf("narrowed: %s %s from %v", it.Key.Endpoint, it.Ports, it.Sources)
	}
	// The plan also drops ::/0 from the rule: SSH over IPv6 closes.
	for _, x := range items(res, iacplan.KindClosed, exposure.Effective) {
		if x.Key.Endpoint != "2001:db8:3000::10" || x.Ports != "22" {
			t.Errorf("unexpected closed item %s %s", x.Key.Endpoint, x.Ports)
		}
	}
	if c := res.Count(); c.Effective != 0 || res.Failing != 0 {
		t.Errorf("narrowing made %d new or widened effective exposures", c.Effective)
	}
}

func TestDeletedRuleCloses(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "delete-rule.tfplan.json"), iacplan.Options{})
	var all bool
	for _, it := range items(res, iacplan.KindClosed, exposure.Effective) {
		if it.Key.Target != "eni-0218a9dbfab97427a" {
			t.Errorf("closed an exposure of %s", it.Key.Target)
		}
		all = all || (it.Key.Protocol == exposure.ProtocolAll && it.Key.Endpoint == "203.0.113.40")
	}
	if !all {
		t.Errorf("the all-traffic exposure of staging-web-1 is not closed:\n%s", dump(t, res))
	}
	// staging-web still admits 80 and 443: narrowed, not closed.
	it := find(t, res, iacplan.KindNarrowed, exposure.Effective, "eni-0218a9dbfab97427a")
	if it.Ports != "80, 443" {
		t.Errorf("what stays open: %q", it.Ports)
	}
	if c := res.Count(); c.Effective != 0 || res.Failing != 0 {
		t.Errorf("a delete made %d new or widened effective exposures", c.Effective)
	}
}

// Values known only after apply are read widest and marked: an unknown
// CIDR is 0.0.0.0/0, an unknown public IP a placeholder address.
func TestUnknownValuesReadWidest(t *testing.T) {
	res, ov := check(t, demo(t), terraform(t, "unknown.tfplan.json"), iacplan.Options{})
	it := find(t, res, iacplan.KindNew, exposure.Effective, "eni-planned-aws_instance.app")
	if it.Ports != "8080" || !slices.Equal(it.Sources, []string{"0.0.0.0/0"}) {
		t.Errorf("new effective: %s from %v", it.Ports, it.Sources)
	}
	if !it.Unknown || !strings.Contains(it.Note, "cidr_blocks read as 0.0.0.0/0") || !strings.Contains(it.Note, "placeholder address 192.0.2.") {
		t.Errorf("not marked as a widest reading: unknown %v note %q", it.Unknown, it.Note)
	}
	if _, ok := ov.Unknown[it.Key.Endpoint]; !ok {
		t.Errorf("endpoint %s is not a recorded placeholder", it.Key.Endpoint)
	}
	if it.Target != "app-1 (eni-planned-aws_instance.app)" {
		t.Errorf("target label %q", it.Target)
	}
	var md strings.Builder
	if err := iacplan.Render(&md, "markdown", res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "known after apply: widest reading") {
		t.Errorf("markdown does not mark the row:\n%s", md.String())
	}
	// The unassociated Elastic IP is applied, not dropped.
	found := false
	for _, a := range res.Applied {
		found = found || a.Address == "aws_eip.office_nat"
	}
	if !found || len(res.NotModelled) != 0 {
		t.Errorf("applied %+v, not modelled %+v", res.Applied, res.NotModelled)
	}
}

// The route-association case as a CloudFormation change set, plus a new
// group whose rule's GroupId and CidrIp are known only after apply (the
// template's !GetAtt and !Sub).
func TestChangeSetEquivalent(t *testing.T) {
	cs, err := os.ReadFile(filepath.Join("testdata", "route-public.changeset.json"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := os.ReadFile(filepath.Join("testdata", "route-public.template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iacplan.ParseChangeSet(bytes.NewReader(cs), tm)
	if err != nil {
		t.Fatal(err)
	}
	if p.Account != "111122223333" || p.Region != "eu-west-1" {
		t.Errorf("stack scope %s/%s", p.Account, p.Region)
	}
	res, _ := check(t, demo(t), p, iacplan.Options{})
	tf, _ := check(t, demo(t), terraform(t, "route-public.tfplan.json"), iacplan.Options{})
	a := find(t, res, iacplan.KindNew, exposure.Effective, "eni-0bff4df0a3cccf282")
	b := find(t, tf, iacplan.KindNew, exposure.Effective, "eni-0bff4df0a3cccf282")
	if a.Key != b.Key || a.Ports != b.Ports || a.Severity != b.Severity {
		t.Errorf("change set and Terraform plan disagree: %+v vs %+v", a.ChangeItem, b.ChangeItem)
	}
	sg := find(t, res, iacplan.KindNew, exposure.Latent, "sg-planned-AdminSG")
	if sg.Ports != "22, 3389" || !sg.Unknown || !strings.Contains(sg.Note, "cidr_blocks read as 0.0.0.0/0") {
		t.Errorf("AdminSG: ports %q unknown %v note %q", sg.Ports, sg.Unknown, sg.Note)
	}
	if len(res.NotModelled) != 1 || res.NotModelled[0].Type != "AWS::S3::Bucket" || res.NotModelled[0].Network {
		t.Errorf("not modelled: %+v", res.NotModelled)
	}
	if res.Partial {
		t.Errorf("a bucket made the diff partial")
	}
}

// Without a snapshot the plan is audited alone: a new VPC with an
// internet gateway route, a public instance and SSH open to the world.
func TestNewStack(t *testing.T) {
	res, ov := check(t, nil, terraform(t, "new-stack.tfplan.json"), iacplan.Options{})
	if !res.NewStack || !ov.Empty {
		t.Error("not marked as a new stack")
	}
	it := find(t, res, iacplan.KindNew, exposure.Effective, "eni-planned-module.web.aws_instance.web[0]")
	if it.Ports != "22, 443" || it.Key.Account != iacplan.PlaceholderAccount || it.Key.Region != "eu-central-1" {
		t.Errorf("new stack exposure: %s in %s/%s", it.Ports, it.Key.Account, it.Key.Region)
	}
	if !it.Failing || !it.Unknown {
		t.Errorf("SSH to the world on a new stack: failing %v, marked %v", it.Failing, it.Unknown)
	}
	if len(res.Applied) != 7 || len(res.NotModelled) != 0 {
		t.Errorf("applied %d, not modelled %+v", len(res.Applied), res.NotModelled)
	}
	// Without the route the same stack exposes nothing.
	p := terraform(t, "new-stack.tfplan.json")
	var keep []*iacplan.ResourceChange
	for _, rc := range p.Changes {
		if rc.Type != "aws_route_table_association" {
			keep = append(keep, rc)
		}
	}
	p.Changes = keep
	res, _ = check(t, nil, p, iacplan.Options{})
	if c := res.Count(); c.Effective != 0 {
		t.Errorf("no route to the gateway, yet %d effective exposures:\n%s", c.Effective, dump(t, res))
	}
}

const lbPlan = `{"format_version":"1.2","resource_changes":[
 {"address":"aws_lb.web","mode":"managed","type":"aws_lb","name":"web","change":{"actions":["create"],"before":null,"after":{"internal":false},"after_unknown":{"id":true}}},
 {"address":"aws_s3_bucket.logs","mode":"managed","type":"aws_s3_bucket","name":"logs","change":{"actions":["create"],"before":null,"after":{},"after_unknown":{"id":true}}},
 {"address":"data.aws_vpc.main","mode":"data","type":"aws_vpc","name":"main","change":{"actions":["read"],"before":null,"after":{},"after_unknown":{}}},
 {"address":"aws_security_group_rule.x","mode":"managed","type":"aws_security_group_rule","name":"x","change":{"actions":["create"],"before":null,
  "after":{"type":"ingress","protocol":"tcp","from_port":22,"to_port":22,"cidr_blocks":["0.0.0.0/0"]},"after_unknown":{"id":true,"security_group_id":true}}}],
 "configuration":{"root_module":{"resources":[{"address":"aws_security_group_rule.x","mode":"managed","expressions":{"security_group_id":{"references":["module.net.sg_id","module.net"]}}}]}}}`

// What the overlay does not model is listed, never dropped: an unmodelled
// network resource or an unresolvable reference makes the diff partial.
func TestNotModelledIsListed(t *testing.T) {
	p, err := iacplan.ParseTerraform(strings.NewReader(lbPlan))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := check(t, demo(t), p, iacplan.Options{})
	want := map[string]bool{"aws_lb.web": true, "aws_s3_bucket.logs": false, "aws_security_group_rule.x": true}
	if len(res.NotModelled) != len(want) {
		t.Fatalf("not modelled: %+v", res.NotModelled)
	}
	for _, n := range res.NotModelled {
		if net, ok := want[n.Address]; !ok || net != n.Network {
			t.Errorf("not modelled %s: network %v", n.Address, n.Network)
		}
		if n.Address == "aws_security_group_rule.x" && !strings.Contains(n.Reason, "security_group_id known after apply") {
			t.Errorf("reason %q", n.Reason)
		}
	}
	if !res.Partial {
		t.Error("an unmodelled load balancer left the diff complete")
	}
	if !strings.Contains(dump(t, res), "Not modelled (3)") {
		t.Errorf("table does not list them:\n%s", dump(t, res))
	}
}

func TestParseTerraformRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":        "terraform plan",
		"no version":      `{"resource_changes":[]}`,
		"major version 2": `{"format_version":"2.0","resource_changes":[]}`,
		"unknown action":  `{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","mode":"managed","change":{"actions":["explode"]}}]}`,
		"no address":      `{"format_version":"1.2","resource_changes":[{"type":"aws_vpc","mode":"managed","change":{"actions":["create"]}}]}`,
		"wrong type":      `{"format_version":"1.2","resource_changes":{"a":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := iacplan.ParseTerraform(strings.NewReader(in)); err == nil {
				t.Error("accepted")
			}
		})
	}
	for name, in := range map[string]string{
		"not a change set": `{"Stacks":[]}`,
		"bad context":      `{"Changes":[{"Type":"Resource","ResourceChange":{"Action":"Add","LogicalResourceId":"A","ResourceType":"AWS::EC2::Route","AfterContext":"{not json"}}]}`,
		"no properties":    `{"Changes":[{"Type":"Resource","ResourceChange":{"Action":"Remove","LogicalResourceId":"A","PhysicalResourceId":"x","ResourceType":"AWS::EC2::Route"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := iacplan.ParseChangeSet(strings.NewReader(in), nil); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestNewStackNeedsARegion(t *testing.T) {
	p, err := iacplan.ParseTerraform(strings.NewReader(`{"format_version":"1.2","resource_changes":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iacplan.Apply(nil, p, iacplan.Options{}); err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("error %v", err)
	}
	if _, err := iacplan.Apply(nil, p, iacplan.Options{Region: "eu-west-3"}); err != nil {
		t.Errorf("with a region: %v", err)
	}
}

// The Markdown diff is what the GitHub Actions example posts on a pull
// request; golden file refreshed with -update and read by hand.
func TestMarkdownGolden(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "route-public.tfplan.json"), iacplan.Options{})
	var b bytes.Buffer
	if err := iacplan.Render(&b, "markdown", res); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "route-public.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("markdown differs from %s (go test ./iacplan -update):\n%s", golden, b.String())
	}
}

// Cloud- and plan-provided strings cannot inject Markdown, HTML, mentions
// or terminal escapes.
func TestRenderEscapes(t *testing.T) {
	evil := "web|<img src=x onerror=alert(1)>@team \x1b[31m**x**"
	r := &iacplan.Result{FailOn: rules.High, Items: []iacplan.Item{{Kind: "new"}},
		NotModelled: []iacplan.NotModelled{{Address: "aws_lb.`x`", Type: "aws_lb", Reason: evil}}}
	r.Items[0].Target = evil
	r.Items[0].Key.Level = exposure.Effective
	var md, tb strings.Builder
	if err := iacplan.Render(&md, "markdown", r); err != nil {
		t.Fatal(err)
	}
	if err := iacplan.Render(&tb, "table", r); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<img", "web|", "@team", "\x1b", "**x**", "`x`"} {
		if strings.Contains(md.String(), bad) {
			t.Errorf("markdown contains %q:\n%s", bad, md.String())
		}
	}
	if strings.Contains(tb.String(), "\x1b") {
		t.Errorf("table contains a raw escape")
	}
	var js strings.Builder
	if err := iacplan.Render(&js, "json", r); err != nil || strings.Contains(js.String(), "<img") {
		t.Errorf("json: %v %s", err, js.String())
	}
}

// A new internet-facing ALB with a listener forwarding to an existing
// instance: a new effective exposure on its (placeholder) DNS name, with
// the instance as backend.
func TestLoadBalancerListener(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "alb.tfplan.json"), iacplan.Options{})
	lb := "arn:aws:elasticloadbalancing:planned:planned:loadbalancer/app/aws_lb.grafana/planned"
	it := find(t, res, iacplan.KindNew, exposure.Effective, lb)
	if it.Ports != "443" || it.Key.Endpoint != "grafana-planned.eu-west-1.elb.amazonaws.com" || it.Key.Backend != "i-01cdceee008c6ae62" {
		t.Errorf("listener exposure: %s on %s to %+v", it.Ports, it.Key.Endpoint, it.Key)
	}
	if !it.Unknown || !strings.Contains(it.Note, "DNS name known after apply") {
		t.Errorf("placeholder DNS name not marked: %q", it.Note)
	}
	// Without the listener nothing is reachable through the new ALB.
	p := terraform(t, "alb.tfplan.json")
	p.Changes = slicesDelete(p.Changes, "aws_lb_listener.https")
	res, _ = check(t, demo(t), p, iacplan.Options{})
	if c := res.Count(); c.Effective != 0 {
		t.Errorf("an ALB without listeners exposes %d:\n%s", c.Effective, dump(t, res))
	}
}

func slicesDelete(in []*iacplan.ResourceChange, addr string) []*iacplan.ResourceChange {
	var out []*iacplan.ResourceChange
	for _, rc := range in {
		if rc.Address != addr {
			out = append(out, rc)
		}
	}
	return out
}

// google_compute_firewall: the same path-aware reading on GCP. A rule
// for instances with an external IP widens their effective exposure; one
// for instances without is latent, and its unknown source ranges are read
// as the whole internet.
func TestGCPFirewall(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "gcp-firewall.tfplan.json"), iacplan.Options{})
	it := find(t, res, iacplan.KindWidened, exposure.Effective, "projects/shop-prod/zones/europe-west1-b/instances/monitoring-1/nic0")
	if it.Added != "9200" || it.Key.Endpoint != "203.0.113.22" || !it.Failing {
		t.Errorf("monitoring-1: added %q on %s, failing %v", it.Added, it.Key.Endpoint, it.Failing)
	}
	lat := find(t, res, iacplan.KindNew, exposure.Latent, "projects/shop-prod/global/firewalls/debug-web")
	if lat.Ports != "5005" || !lat.Unknown || !strings.Contains(lat.Note, "source_ranges read as 0.0.0.0/0") {
		t.Errorf("debug-web: %s unknown %v note %q", lat.Ports, lat.Unknown, lat.Note)
	}
	if c := res.Count(); c.New != 1 || c.Widened != 1 || c.Narrowed+c.Closed != 0 {
		t.Errorf("counts %+v:\n%s", c, dump(t, res))
	}
	// A project the snapshot does not hold is not modelled, not guessed.
	p := terraform(t, "gcp-firewall.tfplan.json")
	p.Changes[0].After.V["project"] = "other-project"
	res, _ = check(t, demo(t), p, iacplan.Options{})
	if len(res.NotModelled) != 1 || !strings.Contains(res.NotModelled[0].Reason, "no GCP project other-project") {
		t.Errorf("not modelled: %+v", res.NotModelled)
	}
}

// azurerm_network_security_rule on a subnet NSG of a VM with a public IP:
// a rule narrowed to the office, another opening WinRM to everyone. On the
// same key (the VM's address, TCP) the diff is widened by 5986 only: 22
// lost sources, it did not gain any.
func TestAzureNSGRules(t *testing.T) {
	const vm = "/subscriptions/6f1c2e3a-5b7d-4c8e-9a0b-1d2e3f4a5b6c/resourceGroups/rg-contoso-prod/providers/Microsoft.Network/networkInterfaces/vm-jump-01-nic/ipConfigurations/ipconfig1"
	res, _ := check(t, demo(t), terraform(t, "azure-nsg.tfplan.json"), iacplan.Options{})
	it := find(t, res, iacplan.KindWidened, exposure.Effective, vm)
	if it.Added != "5986" || it.Key.Endpoint != "198.51.100.10" || !it.Failing {
		t.Errorf("vm-jump-01: added %q on %s, failing %v", it.Added, it.Key.Endpoint, it.Failing)
	}
	if len(res.NotModelled) != 0 {
		t.Errorf("not modelled: %+v", res.NotModelled)
	}
	// The narrowing alone.
	p := terraform(t, "azure-nsg.tfplan.json")
	p.Changes = slicesDelete(p.Changes, "azurerm_network_security_rule.winrm")
	res, _ = check(t, demo(t), p, iacplan.Options{})
	it = find(t, res, iacplan.KindNarrowed, exposure.Effective, vm)
	if it.Ports != "22, 3389" {
		t.Errorf("narrowed: ports %q", it.Ports)
	}
	if c := res.Count(); c.Effective != 0 {
		t.Errorf("narrowing an NSG rule made %d effective changes", c.Effective)
	}
}

// Bad input is an error or a not-modelled entry, never a panic: every
// attribute of every fixture replaced by a value of the wrong type.
func TestApplyWrongTypesNeverPanic(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.tfplan.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	weird := []any{nil, 1.5, "x", []any{"y", 2.0}, map[string]any{"z": true}, true}
	for _, f := range files {
		for wi, w := range weird {
			p := terraform(t, filepath.Base(f))
			for _, rc := range p.Changes {
				for _, v := range []map[string]any{rc.Before.V, rc.After.V} {
					for k := range v {
						v[k] = w
					}
				}
			}
			t.Run(filepath.Base(f)+"/"+string(rune('a'+wi)), func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				_, _ = iacplan.Apply(demo(t), p, iacplan.Options{Region: "eu-west-1"})
			})
		}
	}
}
