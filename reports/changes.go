package reports

import (
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// Change kinds of an exposure since the last run (the state package's
// diff; docs/state.md). Unchanged exposures carry no kind.
const (
	ChangeNew       = "new"
	ChangeWidened   = "widened"
	ChangeNarrowed  = "narrowed"
	ChangeReopened  = "reopened"
	ChangeResolved  = "resolved"
	ChangeConfirmed = "confirmed"
)

// Changes is what changed since the last run, present when the audit ran
// with a state (audit --state): the table and HTML mark what is new and
// list the changes. The reports package only renders it; the state
// package computes it.
type Changes struct {
	// Since is when the previous run of these scopes was recorded
	// (RFC 3339); empty on the first run.
	Since string `json:"since,omitempty"`
	// Initial is set when no baseline existed for any audited scope: this
	// run established it, and nothing is "new" yet.
	Initial bool `json:"initial,omitempty"`
	// Counts count the Items by kind.
	Counts ChangeCounts `json:"counts"`
	// Items are every change but the unchanged ones, most severe first.
	Items []ChangeItem `json:"items"`
	// Skipped are the scopes that were not diffed because their
	// collection failed or was partial: nothing in them was resolved.
	Skipped []exposure.Scope `json:"skipped,omitempty"`
	// Trend is the history of past runs (oldest first), for the trend
	// chart; it includes this run.
	Trend []TrendPoint `json:"trend,omitempty"`
}

// ChangeCounts counts changes by kind.
type ChangeCounts struct {
	New       int `json:"new"`
	Widened   int `json:"widened"`
	Narrowed  int `json:"narrowed"`
	Reopened  int `json:"reopened"`
	Resolved  int `json:"resolved"`
	Confirmed int `json:"confirmed"`
}

// ChangeItem is one exposure key that changed.
type ChangeItem struct {
	Kind string       `json:"kind"`
	Key  exposure.Key `json:"key"`
	// ExposureIDs are this run's exposures of the key; empty when resolved.
	ExposureIDs []string `json:"exposureIds,omitempty"`
	// Ports is the key's port set now (before, for a resolved key), as
	// people write it: "22, 8000-8080".
	Ports string `json:"ports"`
	// Added is what was added for a widened key ("23", or "sources on 22").
	Added string `json:"added,omitempty"`
	// Severity is the highest active finding on the key; HasFindings says
	// whether it has any.
	Severity    rules.Severity `json:"severity"`
	HasFindings bool           `json:"hasFindings"`
	// Suppressed: every finding on the key is suppressed by an exception.
	Suppressed bool `json:"suppressed,omitempty"`
	// FirstSeen is when the key was first seen (RFC 3339).
	FirstSeen string `json:"firstSeen,omitempty"`
	// Target names the target (or the layer, for latent exposures).
	Target string `json:"target,omitempty"`
}

// TrendPoint is one past run's totals.
type TrendPoint struct {
	RunID      string         `json:"runId,omitempty"`
	At         string         `json:"at"`
	Effective  int            `json:"effective"`
	Latent     int            `json:"latent"`
	BySeverity SeverityCounts `json:"bySeverity"`
}

// AttachChanges records what changed since the last run in the document
// and marks each current exposure with its change (Exposure.Change).
// Calling it again replaces the previous changes.
func (d *Document) AttachChanges(c *Changes) {
	for _, x := range d.Exposures {
		x.Change = ""
	}
	d.Changes = c
	if c == nil {
		return
	}
	if c.Items == nil {
		c.Items = []ChangeItem{}
	}
	byID := make(map[string]*Exposure, len(d.Exposures))
	for _, x := range d.Exposures {
		byID[x.ID] = x
	}
	for _, it := range c.Items {
		if it.Kind == ChangeResolved {
			continue
		}
		for _, id := range it.ExposureIDs {
			if x := byID[id]; x != nil {
				x.Change = it.Kind
			}
		}
	}
}
