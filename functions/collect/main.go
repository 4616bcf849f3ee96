// Command collect is the collect stage of Portcullis's serverless audit: it assumes the read-only member role of one account, collects one region (or one GCP project or Azure subscription) and writes the snapshot files and errors to S3.
// See functions/internal/stages and docs/deployment.md.
package main

import "github.com/portcullis-sec/portcullis/functions/internal/stages"

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	stages.Start(version, func(b *stages.Base, env stages.Env) (any, error) {
		h, err := stages.NewCollect(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
