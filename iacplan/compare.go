package iacplan

import (
	"fmt"
	"slices"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

// Result is the plan's effect on exposure: the diff between the audit of
// the snapshot and the audit of the snapshot with the plan applied.
type Result struct {
	SchemaVersion string `json:"schemaVersion"`
	Source        Source `json:"source"`
	// Snapshot names the base snapshot; empty for a new stack.
	Snapshot string `json:"snapshot,omitempty"`
	NewStack bool   `json:"newStack,omitempty"`
	// Items are the changed exposure keys, most severe first (the same
	// order and content as Changes.Items, with what the plan adds).
	Items []Item `json:"items"`
	// Changes is the run-to-run diff of the two audits, exactly as a
	// scheduled run reports it (docs/state.md).
	Changes     *reports.Changes `json:"changes"`
	Applied     []Applied        `json:"applied"`
	NotModelled []NotModelled    `json:"notModelled"`
	// FailOn and Failing: the new or widened effective exposures with an
	// active finding at or above FailOn.
	FailOn  rules.Severity `json:"failOn"`
	Failing int            `json:"failing"`
	// Partial is set when an audit was partial or a network resource was
	// not modelled: the diff may miss something.
	Partial bool             `json:"partial"`
	Errors  []exposure.Error `json:"errors"`
}

// ResultSchemaVersion is the version of Result's JSON form.
const ResultSchemaVersion = "1.0"

// Item is one changed exposure key.
type Item struct {
	reports.ChangeItem
	// Closed says the change takes the exposure away entirely (resolved).
	Kind string `json:"kind"`
	// Unknown is set when the row depends on a value known only after
	// apply, read at its widest; Note says which.
	Unknown bool   `json:"unknown,omitempty"`
	Note    string `json:"note,omitempty"`
	// Address is the exposure's endpoint (effective) and Sources who is
	// admitted, from the planned audit (the base audit for a closed one).
	Address string   `json:"address,omitempty"`
	Sources []string `json:"sources,omitempty"`
	// Findings are the active rule IDs on the key.
	Findings []string `json:"findings,omitempty"`
	// Failing says the item gates --fail-on.
	Failing bool `json:"failing,omitempty"`
	// NowEffective marks a closed latent exposure whose layer lets in a
	// new or widened effective one: the path opened, the rule stayed.
	NowEffective bool `json:"nowEffective,omitempty"`
}

// Kinds of Item, as people read a plan: the state diff's kinds, with
// resolved called "closed".
const (
	KindNew      = "new"
	KindWidened  = "widened"
	KindNarrowed = "narrowed"
	KindClosed   = "closed"
)

// Compare diffs the audit of the base snapshot against the audit of the
// planned one and marks the rows that rest on values known only after
// apply. failOn gates: a new or widened effective exposure with an active
// finding at or above it counts as failing.
func Compare(base, planned *reports.Document, ov *Overlay, failOn rules.Severity, now time.Time) (*Result, error) {
	changes, err := state.DiffDocuments(base, planned, now)
	if err != nil {
		return nil, fmt.Errorf("diff the audits: %w", err)
	}
	var skipped []exposure.Scope
	for _, c := range changes {
		if c.Kind == state.Unverified && !slices.Contains(skipped, c.Key.Scope) {
			skipped = append(skipped, c.Key.Scope)
		}
	}
	rc := state.ReportChanges(changes, skipped, time.Time{}, false)
	res := &Result{SchemaVersion: ResultSchemaVersion, Changes: rc, FailOn: failOn,
		Applied: ov.Applied, NotModelled: ov.NotModelled, NewStack: ov.Empty, Items: []Item{}}
	if res.Applied == nil {
		res.Applied = []Applied{}
	}
	if res.NotModelled == nil {
		res.NotModelled = []NotModelled{}
	}
	byID := map[string]*reports.Exposure{}
	for _, d := range []*reports.Document{base, planned} {
		for _, x := range d.Exposures {
			byID[x.ID] = x
		}
	}
	byKey := map[exposure.Key][]*reports.Exposure{}
	for _, x := range base.Exposures {
		byKey[x.Key] = append(byKey[x.Key], x)
	}
	activeRules := map[exposure.Key][]string{}
	for _, c := range changes {
		if c.After != nil {
			activeRules[c.Key] = c.After.Findings
		}
	}
	// Layers behind the new and widened effective exposures: a latent
	// exposure of one of them that closes has become effective.
	opened := map[string]bool{}
	for _, ci := range rc.Items {
		if ci.Key.Level != exposure.Effective || (ci.Kind != string(state.New) && ci.Kind != string(state.Widened)) {
			continue
		}
		for _, id := range ci.ExposureIDs {
			if x := byID[id]; x != nil {
				for _, ev := range x.Evidence {
					opened[ev.Layer] = true
				}
			}
		}
	}
	for _, ci := range rc.Items {
		it := Item{ChangeItem: ci, Kind: ci.Kind, Findings: activeRules[ci.Key]}
		if ci.Kind == string(state.Resolved) {
			it.Kind = KindClosed
			it.NowEffective = ci.Key.Level == exposure.Latent && opened[ci.Key.Target]
		}
		rows := []*reports.Exposure{}
		for _, id := range ci.ExposureIDs {
			if x := byID[id]; x != nil {
				rows = append(rows, x)
			}
		}
		if len(rows) == 0 {
			rows = byKey[ci.Key] // closed: the base audit's rows
			for _, x := range rows {
				if x.Target.Name != "" && it.Target == ci.Key.Target {
					it.Target = x.Target.Name + " (" + ci.Key.Target + ")"
				}
			}
		}
		var notes []string
		note := func(id string) {
			if n, ok := ov.Unknown[id]; ok && id != "" {
				it.Unknown = true
				if !contains(notes, n) {
					notes = append(notes, n)
				}
			}
		}
		note(ci.Key.Target)
		note(ci.Key.Endpoint)
		note(ci.Key.Backend)
		for _, x := range rows {
			if it.Address == "" {
				it.Address = x.Address
				if it.Address == "" {
					it.Address = x.Hostname
				}
			}
			for _, s := range x.Sources {
				if !contains(it.Sources, s) {
					it.Sources = append(it.Sources, s)
				}
			}
			note(x.Target.ID)
			note(x.Target.Owner)
			note(x.Address)
			for _, ev := range x.Evidence {
				note(ev.Layer)
			}
		}
		if len(notes) > 0 {
			it.Note = notes[0]
			for _, n := range notes[1:] {
				it.Note += "; " + n
			}
		}
		if ci.Key.Level == exposure.Effective && (ci.Kind == string(state.New) || ci.Kind == string(state.Widened) || ci.Kind == string(state.Reopened)) &&
			ci.HasFindings && !ci.Suppressed && ci.Severity >= failOn {
			it.Failing = true
			res.Failing++
		}
		res.Items = append(res.Items, it)
	}
	res.Errors = append(append([]exposure.Error{}, base.Errors...), planned.Errors...)
	res.Partial = base.Partial || planned.Partial
	for _, n := range ov.NotModelled {
		if n.Network {
			res.Partial = true
		}
	}
	if res.Errors == nil {
		res.Errors = []exposure.Error{}
	}
	return res, nil
}

// EmptyBase is the base report of a new stack: an audit of nothing (the
// audit refuses a snapshot without any readable resource, rightly, since
// an empty estate passes no control). Everything the plan exposes is new.
func EmptyBase(planned *reports.Report) *reports.Document {
	return reports.NewDocument(&reports.Report{Tool: planned.Tool, GeneratedAt: planned.GeneratedAt, FailOn: planned.FailOn})
}

// Counts counts the items by kind and level.
type Counts struct {
	New, Widened, Narrowed, Closed int
	// Effective counts the new and widened effective items.
	Effective int
}

// Count counts the items.
func (r *Result) Count() Counts {
	var c Counts
	for _, it := range r.Items {
		switch it.Kind {
		case KindNew, string(state.Reopened):
			c.New++
		case KindWidened:
			c.Widened++
		case KindNarrowed:
			c.Narrowed++
		case KindClosed:
			c.Closed++
		}
		if it.Key.Level == exposure.Effective && (it.Kind == KindNew || it.Kind == KindWidened) {
			c.Effective++
		}
	}
	return c
}
