package state

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
)

// reportOrder puts the kinds that call for action first.
var reportOrder = map[ChangeKind]int{New: 0, Reopened: 1, Widened: 2, Confirmed: 3, Narrowed: 4, Resolved: 5}

// ReportChanges shapes one run's changes (of every diffed scope) into the
// report's "changes since the last run" section. Unchanged keys are left
// out; unverified ones too, their scopes being listed in skipped. since is
// when the previous baselines were written (zero on the first run), and
// initial says that no baseline existed: this run established it.
func ReportChanges(changes []Change, skipped []exposure.Scope, since time.Time, initial bool) *reports.Changes {
	out := &reports.Changes{Initial: initial, Items: []reports.ChangeItem{}, Skipped: slices.Clone(skipped)}
	if !since.IsZero() {
		out.Since = since.UTC().Format(time.RFC3339)
	}
	slices.SortFunc(out.Skipped, compareScope)
	type item struct {
		reports.ChangeItem
		order int
	}
	var items []item
	for _, c := range changes {
		order, ok := reportOrder[c.Kind]
		if !ok || c.After == nil {
			continue // unchanged, unverified
		}
		e := c.After
		it := reports.ChangeItem{
			Kind:        string(c.Kind),
			Key:         c.Key,
			Ports:       portsText(e.Ports),
			Severity:    e.Severity,
			HasFindings: len(e.Findings) > 0,
			Suppressed:  e.Suppressed,
			Target:      c.Key.Target,
		}
		if !e.FirstSeen.IsZero() {
			it.FirstSeen = e.FirstSeen.UTC().Format(time.RFC3339)
		}
		if c.Kind != Resolved {
			it.ExposureIDs = slices.Clone(e.ExposureIDs)
		}
		for _, o := range c.Observed {
			if o.Exposure != nil && o.Exposure.Target.Name != "" {
				it.Target = o.Exposure.Target.Name + " (" + c.Key.Target + ")"
				break
			}
		}
		if c.Kind == Widened && c.Before != nil {
			it.Added = addedText(c.Before.Ports, PortsOf(c.Added))
		}
		switch c.Kind {
		case New:
			out.Counts.New++
		case Widened:
			out.Counts.Widened++
		case Narrowed:
			out.Counts.Narrowed++
		case Reopened:
			out.Counts.Reopened++
		case Resolved:
			out.Counts.Resolved++
		case Confirmed:
			out.Counts.Confirmed++
		}
		items = append(items, item{it, order})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.order, b.order), a.Key.Compare(b.Key))
	})
	for _, it := range items {
		out.Items = append(out.Items, it.ChangeItem)
	}
	return out
}

// portsText writes a port set as people do: "22, 8000-8080".
func portsText(ports []exposure.PortRange) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// addedText says what a widening added: ports not open before ("23"),
// and ports open before that admit more sources now ("sources on 22").
func addedText(before, added []exposure.PortRange) string {
	mark := func(ps []exposure.PortRange) []span {
		out := make([]span, len(ps))
		for i, p := range ps {
			out[i] = span{int(p.From), int(p.To), anySet}
		}
		return out
	}
	// The spans' ends are ports of added (a difference only narrows), so
	// they fit back in a uint16.
	var fresh, wider []exposure.PortRange
	for _, s := range difference(mark(added), mark(before)) {
		fresh = append(fresh, exposure.PortRange{From: uint16(s.from), To: uint16(s.to)}) //nolint:gosec // G115: bounded, see above
	}
	for _, s := range difference(mark(added), mark(fresh)) {
		wider = append(wider, exposure.PortRange{From: uint16(s.from), To: uint16(s.to)}) //nolint:gosec // G115: bounded, see above
	}
	var parts []string
	if len(fresh) > 0 {
		parts = append(parts, portsText(PortsOf(asSegments(fresh))))
	}
	if len(wider) > 0 {
		parts = append(parts, "sources on "+portsText(PortsOf(asSegments(wider))))
	}
	return strings.Join(parts, "; ")
}

func asSegments(ps []exposure.PortRange) []Segment {
	out := make([]Segment, len(ps))
	for i, p := range ps {
		out[i] = Segment{Ports: p}
	}
	return out
}

// AddedText says what a widened change added: "23", "sources on 22", or
// both ("23; sources on 22"); empty for other kinds.
func (c Change) AddedText() string {
	if c.Kind != Widened || c.Before == nil {
		return ""
	}
	return addedText(c.Before.Ports, PortsOf(c.Added))
}

// PortsText writes a port set as people do: "22, 8000-8080".
func PortsText(ports []exposure.PortRange) string { return portsText(ports) }
