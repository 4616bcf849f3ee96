package aws

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Load-balancer tags: both DescribeTags operations take at most 20 load
// balancers per call, so the collector calls them in batches and merges the
// batches into one document of the CLI's shape, as it merges pages.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTags.html
// https://docs.aws.amazon.com/elasticloadbalancing/2012-06-01/APIReference/API_DescribeTags.html

const (
	fileLoadBalancerTags = "elbv2-describe-tags.json"
	fileClassicLBTags    = "elb-describe-tags.json"
	tagsPerCall          = 20
)

// collectLoadBalancerTags stores the tags of the ELBv2 load balancers.
func (rc *regionCollector) collectLoadBalancerTags(ctx context.Context, lbs []elbv2types.LoadBalancer) error {
	arn := func(lb elbv2types.LoadBalancer) *string { return lb.LoadBalancerArn }
	return collectTags(ctx, rc, fileLoadBalancerTags, lbs, arn, func(ctx context.Context, batch []string) ([]elbv2types.TagDescription, error) {
		out, err := rc.elbv2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, err
		}
		return out.TagDescriptions, nil
	})
}

// collectClassicLoadBalancerTags stores the tags of the classic ELBs.
func (rc *regionCollector) collectClassicLoadBalancerTags(ctx context.Context, lbs []elbtypes.LoadBalancerDescription) error {
	name := func(lb elbtypes.LoadBalancerDescription) *string { return lb.LoadBalancerName }
	return collectTags(ctx, rc, fileClassicLBTags, lbs, name, func(ctx context.Context, batch []string) ([]elbtypes.TagDescription, error) {
		out, err := rc.elb.DescribeTags(ctx, &elb.DescribeTagsInput{LoadBalancerNames: batch})
		if err != nil {
			return nil, err
		}
		return out.TagDescriptions, nil
	})
}

// collectTags stores in file the tag descriptions of lbs, which id names to
// describe (one API's DescribeTags), called for tagsPerCall load balancers
// at a time. A failed batch loses its load balancers' tags only (labels,
// never filters): it is recorded naming them and the next batch is read.
func collectTags[LB, D any](ctx context.Context, rc *regionCollector, file string, lbs []LB, id func(LB) *string, describe func(context.Context, []string) ([]D, error)) error {
	ids := make([]string, 0, len(lbs))
	for _, lb := range lbs {
		ids = append(ids, aws.ToString(id(lb)))
	}
	descs := []D{}
	var failed []error
	var failedBatches [][]string
	for batch := range slices.Chunk(ids, tagsPerCall) {
		items, err := describe(ctx, batch)
		if err != nil {
			failed, failedBatches = append(failed, err), append(failedBatches, batch)
			continue
		}
		descs = append(descs, items...)
	}
	if len(failed) > 0 && len(descs) == 0 {
		return failed[0] // the API failed as a whole (a denied permission): one error, no file
	}
	for i, err := range failed {
		rc.fail(err, "collect tags of "+strings.Join(failedBatches[i], ", ")+" (lost: they stay untagged)")
	}
	return rc.put(file, map[string]any{"TagDescriptions": descs})
}

// loadLoadBalancerTags indexes the tags of both files by target ID (ARN or
// classic name; a classic name never contains the ":" of an ARN). A load
// balancer named in several descriptions (overlapping hand-made batches)
// gets all their tags. A missing file (a snapshot from before tags were
// collected) leaves the load balancers untagged.
func (r *region) loadLoadBalancerTags() {
	r.lbTags = map[string]map[string]string{}
	// One shape reads both files: ELBv2 names a load balancer by its
	// ResourceArn, classic ELB by its LoadBalancerName.
	for _, file := range []string{fileLoadBalancerTags, fileClassicLBTags} {
		var doc struct {
			TagDescriptions []struct {
				ResourceArn      string
				LoadBalancerName string
				Tags             []tag
			}
		}
		if !r.readJSON(file, &doc) {
			continue
		}
		for _, d := range doc.TagDescriptions {
			id := d.ResourceArn
			if file == fileClassicLBTags {
				id = d.LoadBalancerName
			}
			if id == "" || len(d.Tags) == 0 {
				continue
			}
			if r.lbTags[id] == nil {
				r.lbTags[id] = map[string]string{}
			}
			for _, t := range d.Tags {
				r.lbTags[id][t.Key] = t.Value
			}
		}
	}
}
