// Command report is the report stage of Portcullis's serverless audit: it reads the run's snapshot back from S3, audits it with probing off and writes report.json and report.html.
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
	h, err := stages.NewReport(base, os.Getenv)
	if err != nil {
		log.Error("configure function", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
