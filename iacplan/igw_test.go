package iacplan_test

import (
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/iacplan"
)

// igwAttachmentPlan is a Terraform plan with one
// aws_internet_gateway_attachment change in the demo's eu-west-1 region.
func igwAttachmentPlan(t *testing.T, actions, before, after string) *iacplan.Plan {
	t.Helper()
	src := `{"format_version": "1.2", "terraform_version": "1.9.5",
  "resource_changes": [{"address": "aws_internet_gateway_attachment.staging", "mode": "managed",
    "type": "aws_internet_gateway_attachment", "name": "staging",
    "provider_name": "registry.terraform.io/hashicorp/aws",
    "change": {"actions": ` + actions + `, "before": ` + before + `, "after": ` + after + `, "after_unknown": {}}}],
  "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "eu-west-1"}}}}}}`
	p, err := iacplan.ParseTerraform(strings.NewReader(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

const stagingAttachment = `{"internet_gateway_id": "igw-009081d59677c87f7", "vpc_id": "vpc-03b0fa6b89a3fc639"}`

// Detaching the staging VPC's internet gateway takes its public
// addresses off the internet: their effective exposures close and
// nothing new opens.
func TestInternetGatewayDetachCloses(t *testing.T) {
	res, _ := check(t, demo(t), igwAttachmentPlan(t, `["delete"]`, stagingAttachment, `null`), iacplan.Options{})
	closed := items(res, iacplan.KindClosed, exposure.Effective)
	if len(closed) == 0 {
		t.Fatalf("detaching the staging gateway closed no effective exposure:\n%s", dump(t, res))
	}
	for _, it := range closed {
		if it.Key.Region != "eu-west-1" || it.Key.Account != "111122223333" {
			t.Errorf("an exposure outside the detached gateway's region closed: %+v", it.Key)
		}
	}
	for _, kind := range []string{iacplan.KindNew, iacplan.KindWidened} {
		if got := items(res, kind, exposure.Effective); len(got) != 0 {
			t.Errorf("detaching a gateway made %d %s effective exposures:\n%s", len(got), kind, dump(t, res))
		}
	}
	if res.Partial {
		t.Errorf("partial result: %+v", res.NotModelled)
	}

	// Attaching it again (a create on the detached snapshot is what a
	// replace plans) gives back the base: no change at all.
	res, _ = check(t, demo(t), igwAttachmentPlan(t, `["delete", "create"]`, stagingAttachment, stagingAttachment), iacplan.Options{})
	if len(res.Items) != 0 {
		t.Errorf("replacing the attachment changed exposures:\n%s", dump(t, res))
	}
}

// An attachment naming something that is not an internet gateway (here
// the VPC's own ID) is an error of that change, not a panic nor a silent
// no-op.
func TestInternetGatewayAttachmentOfNoGateway(t *testing.T) {
	p := igwAttachmentPlan(t, `["create"]`, `null`, `{"internet_gateway_id": "vpc-03b0fa6b89a3fc639", "vpc_id": "vpc-03b0fa6b89a3fc639"}`)
	ov, err := iacplan.Apply(demo(t), p, iacplan.Options{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(ov.Applied) != 0 || len(ov.NotModelled) != 1 {
		t.Fatalf("applied %+v, not modelled %+v", ov.Applied, ov.NotModelled)
	}
	if nm := ov.NotModelled[0]; !nm.Network || !strings.Contains(nm.Reason, "vpc-03b0fa6b89a3fc639") {
		t.Errorf("not modelled %+v: want a network change whose reason names the bad ID", nm)
	}
}
