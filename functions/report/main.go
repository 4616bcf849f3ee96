// Command report is the report stage of Portcullis's serverless audit: it reads the run's snapshot and the probe stage's observations (if any) back from S3, audits them once and writes report.json and report.html.
// See functions/internal/stages and docs/deployment.md.
package main

import "github.com/portcullis-sec/portcullis/functions/internal/stages"

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	stages.Start(version, func(b *stages.Base, env stages.Env) (any, error) {
		h, err := stages.NewReport(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
