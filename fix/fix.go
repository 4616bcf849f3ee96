// Package fix computes the smallest rule changes that close one exposure
// (or narrow it to sources that are to keep access), with the blast radius
// of each: which other exposures the change also closes or narrows, and
// which exposures admitted by the changed layers it leaves open.
//
// Every alternative is verified by construction: its changes are applied
// to a copy of the inventory, the copy is analyzed again, and the
// alternative is shown only if the exposure is gone (or narrowed to the
// kept sources) and no effective exposure appears or widens, and no
// changed layer admits more than before. The package is pure: inventory
// in, plan out.
package fix

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Actions of a change.
const (
	ActionRevoke     = "revoke"      // delete an allow rule (one source of a security-group rule)
	ActionNarrow     = "narrow"      // keep an allow rule with fewer sources or ports
	ActionInsertDeny = "insert-deny" // add a deny rule ahead of the admitting allow (ordered layers)
)

// Options adjusts a plan.
type Options struct {
	// Keep are the sources that should keep access: the exposure is then
	// narrowed to them rather than closed. Nil closes it.
	Keep *netipx.IPSet
	// Analysis are the options the report's analysis used.
	Analysis exposure.Options
}

// Plan is the set of verified alternatives that close one exposure.
type Plan struct {
	Exposure string   `json:"exposure"`
	Keep     []string `json:"keep,omitempty"`
	// Alternatives are sorted best first: smallest blast radius, then
	// fewest other exposures changed at all (latent included), then
	// fewest changes.
	Alternatives []Alternative `json:"alternatives"`
	// Rejected are the candidates the verification discarded, with why.
	Rejected []Rejected `json:"rejected,omitempty"`
}

// Alternative is one set of changes that closes the exposure.
type Alternative struct {
	Changes []Change `json:"changes"`
	// Closes is the exposure the plan is for (closed, or narrowed to the
	// kept sources).
	Closes []string `json:"closes"`
	// AlsoCloses and Narrows are the other exposures, effective or
	// latent, that the changes close or narrow.
	AlsoCloses []string `json:"alsoCloses"`
	Narrows    []string `json:"narrows"`
	// Radius is the blast radius: how many of them are effective, that
	// is traffic that reaches something today and would stop. Latent
	// exposures that close are rules tidied, not access lost.
	Radius int `json:"radius"`
	// LeavesOpen are the effective exposures that a changed layer admits
	// and that stay as they are.
	LeavesOpen []string `json:"leavesOpen"`
	// Commands apply the changes with the provider's CLI.
	Commands []string `json:"commands"`
}

// Rejected is a candidate that failed verification.
type Rejected struct {
	Changes []Change `json:"changes"`
	Reason  string   `json:"reason"`
}

// Change is one rule change on one layer.
type Change struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Region   string `json:"region,omitempty"`
	// Layer is the layer kind (security-group, network-acl, …).
	Layer string `json:"layer"`
	// Resource is the layer's native ID; ResourceName its name.
	Resource     string `json:"resource"`
	ResourceName string `json:"resourceName,omitempty"`
	Action       string `json:"action"`
	Rule         Rule   `json:"rule"`

	edit edit
}

// Rule is the rule a change revokes, narrows or inserts, as the provider
// names it.
type Rule struct {
	// ID is the rule as evidence names it: a security-group permission
	// ("inbound #2"), a NACL rule number, an NSG or GCP firewall rule name.
	ID       string               `json:"id"`
	Action   string               `json:"action"`
	Priority int                  `json:"priority,omitempty"`
	Protocol exposure.Protocol    `json:"protocol"`
	Ports    []exposure.PortRange `json:"ports,omitempty"`
	Sources  []string             `json:"sources,omitempty"`
	// NewSources and NewPorts are what a narrowed rule keeps.
	NewSources []string             `json:"newSources,omitempty"`
	NewPorts   []exposure.PortRange `json:"newPorts,omitempty"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%s %s %s rule %s", c.Action, c.Layer, c.Resource, c.Rule.ID)
	if len(c.Rule.Sources) > 0 {
		s += " from " + strings.Join(c.Rule.Sources, ",")
	}
	if len(c.Rule.NewSources) > 0 {
		s += " to " + strings.Join(c.Rule.NewSources, ",")
	}
	if len(c.Rule.NewPorts) > 0 {
		s += " to ports " + portsString(c.Rule.NewPorts)
	}
	return s
}

// ErrNotFound is returned when the inventory has no exposure of that ID.
var ErrNotFound = errors.New("exposure not found")

// Suggest computes the verified alternatives that close the exposure id of
// inv's analysis.
func Suggest(inv *exposure.Inventory, id string, o Options) (*Plan, error) {
	if inv == nil {
		return nil, errors.New("fix: no inventory")
	}
	before := exposure.AnalyzeWith(inv, o.Analysis)
	x := findExposure(before, id)
	if x == nil {
		return nil, fmt.Errorf("%w: the snapshot's analysis has no exposure %s (has the estate or the snapshot changed since the report?)", ErrNotFound, id)
	}
	if o.Keep != nil && empty(subtract(x.Sources, o.Keep)) {
		return nil, fmt.Errorf("fix: every source of exposure %s is in the kept sources: nothing to close", id)
	}
	plan := &Plan{Exposure: id, Keep: exposure.Addrs(o.Keep), Alternatives: []Alternative{}}
	hops, err := pathOf(inv, x)
	if err != nil {
		return nil, err
	}
	v := newVerifier(inv, before, x, o)
	seen := map[string]bool{}
	for _, cand := range candidates(hops, o.Keep) {
		k := changesKey(cand)
		if seen[k] {
			continue
		}
		seen[k] = true
		alt, reason := v.check(cand)
		if reason != "" {
			plan.Rejected = append(plan.Rejected, Rejected{Changes: cand, Reason: reason})
			continue
		}
		plan.Alternatives = append(plan.Alternatives, *alt)
	}
	slices.SortStableFunc(plan.Alternatives, func(a, b Alternative) int {
		return cmp.Or(cmp.Compare(a.Radius, b.Radius),
			cmp.Compare(len(a.AlsoCloses)+len(a.Narrows), len(b.AlsoCloses)+len(b.Narrows)),
			cmp.Compare(len(a.Changes), len(b.Changes)),
			cmp.Compare(len(a.LeavesOpen), len(b.LeavesOpen)), strings.Compare(changesKey(a.Changes), changesKey(b.Changes)))
	})
	return plan, nil
}

func findExposure(r *exposure.Result, id string) *exposure.Exposure {
	for _, list := range [][]*exposure.Exposure{r.Effective, r.Latent} {
		for _, e := range list {
			if e.ID() == id {
				return e
			}
		}
	}
	return nil
}

func changesKey(cs []Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

func portsString(prs []exposure.PortRange) string {
	if len(prs) == 0 {
		return "all"
	}
	parts := make([]string, len(prs))
	for i, p := range prs {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
