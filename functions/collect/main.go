// Command collect is the collect stage of Portcullis's serverless audit: it assumes the read-only member role of one account, collects one region (or one GCP project or Azure subscription) and writes the snapshot files and errors to S3.
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
	h, err := stages.NewCollect(base, os.Getenv)
	if err != nil {
		log.Error("configure function", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
