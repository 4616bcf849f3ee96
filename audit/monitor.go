package audit

import (
	"cmp"
	"context"
	"strings"

	"github.com/portcullis-sec/portcullis/audit/track"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
)

// The monitor (Track and its types) lives in package audit/track, which
// imports no provider: the notify function diffs and alerts without
// linking every cloud's SDK (docs/deployment.md, "Function weight").
// These names keep the callers of audit reading as they did.
type (
	// Policy is track.Policy.
	Policy = track.Policy
	// TrackOptions is track.TrackOptions.
	TrackOptions = track.TrackOptions
	// TrackResult is track.TrackResult.
	TrackResult = track.TrackResult
)

// DefaultExpire is track.DefaultExpire.
const DefaultExpire = track.DefaultExpire

// Track is track.Track.
func Track(ctx context.Context, doc *reports.Document, o TrackOptions) (*TrackResult, error) {
	return track.Track(ctx, doc, o)
}

func compareScopes(a, b exposure.Scope) int {
	return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region))
}
