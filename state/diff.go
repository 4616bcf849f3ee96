package state

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// ChangeKind is what happened to one exposure Key between two runs.
type ChangeKind string

const (
	// New: the Key was never seen before (or was pruned after retention).
	New ChangeKind = "new"
	// Widened: some (port, source) pair is admitted that was not before:
	// more ports, or more sources on a port (203.0.113.0/24 → 0.0.0.0/0).
	// A change that both adds and removes pairs is widened.
	Widened ChangeKind = "widened"
	// Narrowed: only pairs were taken away.
	Narrowed ChangeKind = "narrowed"
	// Unchanged: the same pairs as before.
	Unchanged ChangeKind = "unchanged"
	// Resolved: seen before, not in this complete run.
	Resolved ChangeKind = "resolved"
	// Reopened: resolved before, seen again.
	Reopened ChangeKind = "reopened"
	// Confirmed: the same pairs, and a probe saw the exposure open for the
	// first time (or first since a probe saw it closed).
	Confirmed ChangeKind = "confirmed"
	// Unverified: active in the baseline, not seen in a run whose scope
	// was incomplete: it is neither still open nor resolved, and is kept
	// as it was.
	Unverified ChangeKind = "unverified"
)

// Observed is one exposure row of a run, as the diff needs it. Several
// rows may share a Key (the analysis cuts a target's ports where the
// admitting rules change); the diff takes their union.
type Observed struct {
	Key exposure.Key
	// ID is the report's exposure ID.
	ID       string
	Ports    exposure.PortRange
	Sources  []netip.Prefix
	Findings []Finding
	// Probe is what a probe saw on the row's ports; "" when not probed.
	Probe exposure.ProbeState
	// Exposure is the report's row (from FromDocument), for the alerts to
	// show; nil when built otherwise. Not stored.
	Exposure *reports.Exposure
}

// Finding is what the baseline keeps of a finding on an exposure.
type Finding struct {
	RuleID     string
	Severity   rules.Severity
	Suppressed bool
	// ID is the report's finding ID; "" when built otherwise.
	ID string
}

// Run is one run's view of one baseline scope.
type Run struct {
	// Scope is the baseline scope (see Partition); observations of other
	// scopes are ignored.
	Scope exposure.Scope
	RunID string
	// Exposures are every exposure of the scope this run saw.
	Exposures []Observed
	// Incomplete is set when the scope's collection failed or was partial
	// (see IncompleteScopes): the diff may then add (new, widened,
	// reopened) but never resolve or narrow, since what is missing may
	// merely not have been read.
	Incomplete bool
	// Retention is how long resolved entries are kept; 0 is
	// DefaultRetention.
	Retention time.Duration
}

// Change is what happened to one Key.
type Change struct {
	Kind ChangeKind
	Key  exposure.Key
	// Before is the previous baseline's entry; nil for New.
	Before *Entry
	// After is the entry in the next baseline (a pointer into its Entries,
	// so that the caller can record pending alerts on it); for Resolved it
	// carries ResolvedAt.
	After *Entry
	// Added are the (port, source) pairs admitted now and not before
	// (everything for New and Reopened); Removed those admitted before and
	// not now (never set for an incomplete scope).
	Added, Removed []Segment
	// Observed are this run's rows of the Key; nil when not seen.
	Observed []Observed
	// Retired are the report finding IDs the previous run had on the Key
	// and this one has not: every one of a resolved Key, those no longer
	// raised on a Key still seen (a rule that stopped matching, ports
	// that changed the exposure ID). Never set for an incomplete scope,
	// where a finding missing may merely not have been computed.
	Retired []string
}

// seen aggregates the rows of one Key.
type seen struct {
	rows     []Observed
	segments []Segment
	severity rules.Severity
	findings []string
	// suppressed: findings exist and all are suppressed.
	suppressed bool
	// probe: 1 open, -1 seen closed or filtered, 0 not probed.
	probe      int
	ids        []string
	findingIDs []string
}

func aggregate(rows []Observed, c *sets) *seen {
	s := &seen{rows: rows}
	spans := make([]span, 0, len(rows))
	active := map[string]bool{}
	total := 0
	for _, r := range rows {
		spans = append(spans, span{int(r.Ports.From), int(r.Ports.To), c.of(r.Sources)})
		if r.ID != "" {
			s.ids = append(s.ids, r.ID)
		}
		for _, f := range r.Findings {
			total++
			if f.ID != "" {
				s.findingIDs = append(s.findingIDs, f.ID)
			}
			if f.Suppressed {
				continue
			}
			s.severity = max(s.severity, f.Severity) // Info is the zero Severity
			active[f.RuleID] = true
		}
		switch r.Probe {
		case exposure.ProbeOpen:
			s.probe = 1
		case exposure.ProbeClosed, exposure.ProbeFiltered:
			if s.probe == 0 {
				s.probe = -1
			}
		}
	}
	if len(active) == 0 {
		s.severity = rules.Info
	}
	s.segments = c.canonical(spans)
	s.findings = slices.Sorted(maps.Keys(active))
	s.suppressed = total > 0 && len(active) == 0
	slices.Sort(s.ids)
	s.ids = slices.Compact(s.ids)
	slices.Sort(s.findingIDs)
	s.findingIDs = slices.Compact(s.findingIDs)
	return s
}

// Diff compares a scope's baseline with what a run saw there and returns
// the next baseline and one change per Key that is active in either
// (resolved entries that stay resolved are carried without a change).
// It is pure: prev is not modified. Ports and sources are compared as sets
// of (port, source) pairs per Key. Pending outbox items carry over; resolved
// entries are pruned after the retention unless something is still pending
// on them. A nil prev is an empty baseline; prev must be of cur's scope
// (Store.Save refuses a baseline holding entries of another). A nil cur is
// a run that learned nothing: an incomplete one with no exposures.
func Diff(prev *Baseline, cur *Run, now time.Time) (*Baseline, []Change) {
	if cur == nil {
		cur = &Run{Incomplete: true}
		if prev != nil {
			cur.Scope = prev.Scope
		}
	}
	scope := Partition(cur.Scope)
	if prev == nil {
		prev = NewBaseline(scope)
	}
	// Times are stored in UTC, so that a baseline encodes the same
	// wherever it was written.
	now = now.UTC()
	retention := cmp.Or(cur.Retention, DefaultRetention)
	byKey := map[exposure.Key][]Observed{}
	for _, o := range cur.Exposures {
		if Partition(o.Key.Scope) == scope {
			byKey[o.Key] = append(byKey[o.Key], o)
		}
	}
	keys := slices.SortedFunc(maps.Keys(byKey), func(a, b exposure.Key) int { return a.Compare(b) })

	next := &Baseline{SchemaVersion: SchemaVersion, Scope: scope, RunID: cur.RunID, Updated: now,
		Entries: make([]Entry, 0, len(prev.Entries)+len(keys))}
	changes := make([]Change, 0, len(keys)+len(prev.Entries)/8)
	emit := func(c Change) {
		changes = append(changes, c)
	}
	cache := newSets()
	i, j := 0, 0
	for i < len(prev.Entries) || j < len(keys) {
		var before *Entry
		var key exposure.Key
		switch {
		case j == len(keys):
			before = &prev.Entries[i]
			key = before.Key
			i++
		case i == len(prev.Entries):
			key = keys[j]
			j++
		default:
			c := prev.Entries[i].Key.Compare(keys[j])
			switch {
			case c < 0:
				before = &prev.Entries[i]
				key = before.Key
				i++
			case c > 0:
				key = keys[j]
				j++
			default:
				before, key = &prev.Entries[i], keys[j]
				i++
				j++
			}
		}
		rows, ok := byKey[key]
		if !ok {
			// Not seen this run.
			if !before.Active() {
				if before.ResolvedAt.Before(now.Add(-retention)) && len(before.Outbox.Pending) == 0 {
					continue // pruned
				}
				next.Entries = append(next.Entries, cloneEntry(before))
				continue
			}
			next.Entries = append(next.Entries, cloneEntry(before))
			after := &next.Entries[len(next.Entries)-1]
			if cur.Incomplete {
				emit(Change{Kind: Unverified, Key: key, Before: before, After: after})
				continue
			}
			after.ResolvedAt = now
			emit(Change{Kind: Resolved, Key: key, Before: before, After: after, Removed: before.Segments,
				Retired: slices.Clone(before.FindingIDs)})
			continue
		}
		s := aggregate(rows, cache)
		if before == nil {
			next.Entries = append(next.Entries, Entry{
				Key: key, FirstSeen: now, Outbox: Outbox{},
			})
			after := &next.Entries[len(next.Entries)-1]
			fill(after, s, nil, now)
			emit(Change{Kind: New, Key: key, After: after, Added: s.segments, Observed: rows})
			continue
		}
		next.Entries = append(next.Entries, cloneEntry(before))
		after := &next.Entries[len(next.Entries)-1]
		if !before.Active() {
			after.ResolvedAt = time.Time{}
			fill(after, s, nil, now)
			emit(Change{Kind: Reopened, Key: key, Before: before, After: after, Added: s.segments, Observed: rows})
			continue
		}
		var added, removed, merged []Segment
		if !equalSegments(before.Segments, s.segments) {
			prevSpans, curSpans := cache.spans(before.Segments), cache.spans(s.segments)
			added = cache.canonical(difference(curSpans, prevSpans))
			if cur.Incomplete {
				// Keep what the baseline held: this run may have missed it.
				merged = cache.canonical(append(prevSpans, curSpans...))
			} else {
				removed = cache.canonical(difference(prevSpans, curSpans))
			}
		} else {
			merged = s.segments
		}
		fill(after, s, before, now)
		var retired []string
		if cur.Incomplete {
			after.FindingIDs = mergeSorted(before.FindingIDs, s.findingIDs)
			after.Segments, after.Ports = merged, portSet(merged)
			after.Findings = mergeSorted(before.Findings, s.findings)
			if len(before.Findings) > 0 {
				after.Severity = max(after.Severity, before.Severity)
			}
			after.Suppressed = before.Suppressed && s.suppressed
		} else {
			retired = missing(before.FindingIDs, s.findingIDs)
		}
		kind := Unchanged
		switch {
		case len(added) > 0:
			kind = Widened
		case after.Confirmed && !before.Confirmed:
			kind = Confirmed
		case len(removed) > 0:
			kind = Narrowed
		}
		emit(Change{Kind: kind, Key: key, Before: before, After: after, Added: added, Removed: removed, Observed: rows, Retired: retired})
	}
	return next, changes
}

// fill sets an entry's observed fields from this run's rows.
func fill(e *Entry, s *seen, before *Entry, now time.Time) {
	e.Segments = s.segments
	e.Ports = portSet(s.segments)
	e.Severity = s.severity
	e.Findings = s.findings
	e.Suppressed = s.suppressed
	e.ExposureIDs = s.ids
	e.FindingIDs = s.findingIDs
	e.LastSeen = now
	switch s.probe {
	case 1:
		e.Confirmed = true
	case -1:
		e.Confirmed = false
	default:
		// Not probed this run (sampling, probes off): what was known
		// stays known.
		if before != nil {
			e.Confirmed = before.Confirmed
		} else {
			e.Confirmed = false
		}
	}
}

func cloneEntry(e *Entry) Entry {
	c := *e
	c.Ports = slices.Clone(e.Ports)
	c.Segments = slices.Clone(e.Segments)
	c.Findings = slices.Clone(e.Findings)
	c.ExposureIDs = slices.Clone(e.ExposureIDs)
	c.FindingIDs = slices.Clone(e.FindingIDs)
	c.Outbox.Pending = slices.Clone(e.Outbox.Pending)
	c.Outbox.Delivered = slices.Clone(e.Outbox.Delivered)
	return c
}

// missing returns the elements of sorted a that sorted b lacks.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

func mergeSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, strings.Compare)
	return slices.Compact(out)
}
