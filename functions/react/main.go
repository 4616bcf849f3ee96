// Command react re-audits, within minutes, the account-regions that CloudTrail management events changed (batched by an SQS queue from an EventBridge rule), and alerts with the events' actors.
// See functions/internal/stages and docs/react.md.
package main

import "github.com/portcullis-sec/portcullis/functions/internal/stages"

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	stages.Start(version, func(b *stages.Base, env stages.Env) (any, error) {
		h, err := stages.NewReact(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
