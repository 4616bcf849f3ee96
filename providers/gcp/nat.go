package gcp

import (
	"context"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// natLists are the Cloud Routers of a project, which hold the Cloud NAT
// configurations.
func (r *projectRun) natLists() []list {
	c, p := r.c, r.project
	return []list{
		{file: FileRouters, method: "compute.routers.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.routers.AggregatedList(ctx, &computepb.AggregatedListRoutersRequest{Project: p}),
				func(v compute.RoutersScopedListPair) []*computepb.Router { return v.Value.GetRouters() })
		}},
	}
}

// checkRouters reads Cloud NAT configurations. Cloud NAT only translates
// connections that instances open; it never forwards unsolicited inbound
// traffic (https://cloud.google.com/nat/docs/overview), so it adds no
// target: it is validated and counted so that a snapshot with NAT is known
// to have been read.
func (e *estate) checkRouters(p *project) {
	for i, r := range p.routers {
		for j, nat := range r.Nats {
			for k, ip := range nat.NatIPs {
				// natIps are address resource URLs, not literals.
				if ip == "" {
					e.n.errorf(p.id, lastSegment(r.Region), p.id+"/"+FileRouters+"["+itoa(i)+"] "+r.Name+" nats["+itoa(j)+"].natIps["+itoa(k)+"]", "empty address reference")
				}
			}
		}
	}
}
