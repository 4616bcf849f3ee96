package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/portcullis-sec/portcullis/audit/track"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/securityhub"
)

// EnvSecurityHub "true" makes the notify stage import the run's findings
// into Security Hub under the function's account and archive those the
// state says the run retired (template parameter EnableSecurityHub). It
// is the notify stage's, not the report stage's: the import dates each
// finding from its exposure's first sighting and the archive needs the
// diff, and both are known only once the run is tracked.
const EnvSecurityHub = "SECURITY_HUB"

// securityHubEnabled reads EnvSecurityHub.
func securityHubEnabled(env base.Env) (bool, error) {
	switch v := strings.TrimSpace(env(EnvSecurityHub)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s: %q is neither true nor false", EnvSecurityHub, v)
	}
}

// syncSecurityHub imports doc's findings into Security Hub under the
// function's own account and archives the findings the state retired
// (tracked; nil when tracking failed: then nothing is archived). It
// returns what failed as errors of stage securityhub.
func syncSecurityHub(ctx context.Context, b *base.Base, doc *reports.Document, tracked *track.TrackResult, log *slog.Logger) []exposure.Error {
	failed := func(msg string, err error) []exposure.Error {
		log.Warn("security hub failed", "error", err)
		return []exposure.Error{{Scope: exposure.Scope{Provider: "aws"}, Stage: "securityhub", Message: msg + ": " + err.Error()}}
	}
	id, err := sts.NewFromConfig(b.AWS).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return failed("find the function's account", err)
	}
	hub, err := securityhub.NewHub(b.AWS, aws.ToString(id.Account))
	if err != nil {
		return failed("security hub", err)
	}
	var tr *securityhub.Tracking
	if tracked != nil {
		tr = securityhub.TrackingOf(tracked.Diffs)
	}
	res, err := securityhub.Sync(ctx, hub, doc, tr, time.Now())
	errs := res.Errors(hub.Account)
	if err != nil {
		errs = append(errs, failed("security hub import", err)...)
	}
	retired := 0
	if tr != nil {
		retired = len(tr.Retired)
	}
	log.Info("security hub import", "account", hub.Account, "calls", res.Import.Batches, "imported", len(res.Import.Imported),
		"refused", len(res.Import.Failed), "failedCalls", len(res.Import.CallErrors)+len(res.Archive.CallErrors),
		"retired", retired, "archived", len(res.Archive.Imported), "notActive", len(res.Archive.NotFound))
	return errs
}

// securityHubError sums up the Security Hub failures for the function's
// error message.
func securityHubError(run string, errs []exposure.Error) error {
	parts := make([]string, 0, min(len(errs), 5))
	for i, e := range errs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-5))
			break
		}
		parts = append(parts, e.Message)
	}
	return fmt.Errorf("notify run %s: security hub: %s", run, strings.Join(parts, "; "))
}
