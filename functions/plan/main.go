// Command plan is the plan stage of Portcullis's serverless audit: it lists the organization's ACTIVE accounts (or the configured ones) × the enabled (or configured) regions, plus GCP projects and Azure subscriptions, and writes them to S3 as the work items of the distributed Map.
// See functions/internal/stages and docs/deployment.md.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/portcullis-sec/portcullis/functions/internal/stages"
)

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	log := stages.NewLogger(os.Stdout, os.Getenv)
	ctx := context.Background()
	base, err := stages.NewBase(ctx, os.Getenv, log, version)
	if err != nil {
		log.Error("configure function", "error", err)
		os.Exit(1)
	}
	h, err := stages.NewPlan(base, os.Getenv)
	if err != nil {
		log.Error("configure function", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
