// Command probe is the probe stage of Portcullis's serverless audit: it plans probes from the analysis of the run's snapshot, confirms the effective exposures (only when PROBE_ENABLED=true) and writes observations.json, which the report stage reads.
// See functions/internal/stages and docs/deployment.md.
package main

import "github.com/portcullis-sec/portcullis/functions/internal/stages"

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	stages.Start(version, func(b *stages.Base, env stages.Env) (any, error) {
		h, err := stages.NewProbe(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
