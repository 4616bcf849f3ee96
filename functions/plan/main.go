// Command plan is the plan stage of Portcullis's serverless audit: it lists the organization's ACTIVE accounts (or the configured ones) × the enabled (or configured) regions, plus GCP projects and Azure subscriptions, and writes them to S3 as the work items of the distributed Map.
// See functions/internal/stages/plan and docs/deployment.md.
package main

import (
	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/plan"
)

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	base.Start(version, func(b *base.Base, env base.Env) (any, error) {
		h, err := plan.NewPlan(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
