// Command notify is the last stage of Portcullis's serverless audit: it diffs the run's report.json against the stored baselines (S3 or DynamoDB), sends the alerts (Slack, email through SES or SMTP) and writes changes.json.
// See functions/internal/stages/notify and docs/deployment.md.
package main

import (
	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/notify"
)

// version is set at build time (make lambda: -X main.version=…).
var version = "dev"

func main() {
	base.Start(version, func(b *base.Base, env base.Env) (any, error) {
		h, err := notify.NewNotify(b, env)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
