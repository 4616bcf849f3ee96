package state

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
)

// Audit is one report cut into the Runs of its baseline scopes, ready for
// Diff: what `portcullis audit --state` diffs against the store and what
// `portcullis diff OLD NEW` diffs against another report.
type Audit struct {
	RunID string
	// Time is when the report was generated (zero if it does not say).
	Time time.Time
	// Runs are the scopes in which the report has exposures.
	Runs map[exposure.Scope]*Run
	// Incomplete are the scopes the report's errors make incomplete.
	Incomplete Incomplete

	providers, accounts, regions map[string]bool
	// units are the report's collection units (scope.units), when it
	// lists them: then they alone say what the run covered.
	units map[exposure.Scope]bool
}

// FromDocument reads a report into an Audit. Every exposure's sources must
// parse as prefixes or addresses: a report that does not is refused rather
// than diffed as if it admitted nothing.
func FromDocument(doc *reports.Document) (*Audit, error) {
	if doc == nil {
		return nil, fmt.Errorf("read report for the diff: no document")
	}
	a := &Audit{
		RunID:      doc.GeneratedAt,
		Incomplete: IncompleteScopes(doc.Errors),
		providers:  set(doc.Scope.Providers), accounts: set(doc.Scope.Accounts), regions: set(doc.Scope.Regions),
	}
	if len(doc.Scope.Units) > 0 {
		a.units = map[exposure.Scope]bool{}
		for _, u := range doc.Scope.Units {
			a.units[Partition(u)] = true
		}
	}
	if t, err := time.Parse(time.RFC3339, doc.GeneratedAt); err == nil {
		a.Time = t
	}
	findings := map[string][]Finding{}
	for _, f := range doc.Findings {
		if f == nil {
			continue
		}
		id := f.ExposureID
		if f.Exposure != nil {
			id = f.Exposure.ID
		}
		findings[id] = append(findings[id], Finding{ID: f.ID, RuleID: f.RuleID, Severity: f.Severity, Suppressed: f.Suppressed})
	}
	var obs []Observed
	for _, x := range doc.Exposures {
		if x == nil {
			continue
		}
		o, err := observe(x)
		if err != nil {
			return nil, err
		}
		o.Findings = findings[x.ID]
		obs = append(obs, o)
	}
	a.Runs = Split(a.RunID, obs, a.Incomplete)
	return a, nil
}

func observe(x *reports.Exposure) (Observed, error) {
	k := x.Key
	if k == (exposure.Key{}) {
		// A report of schema 1.0 has no key; it is derived from the
		// published fields as exposure.Exposure.Key does.
		k = exposure.Key{Scope: exposure.Scope{Provider: x.Provider, Account: x.Account, Region: x.Region},
			Level: x.Level, Target: x.Target.ID, Endpoint: x.Address, Protocol: x.Protocol}
		if b := x.Backend; b != nil {
			k.Forward, k.Backend = b.Forward, b.ID
		}
	}
	ports, err := exposure.NewPortRange(int64(x.FromPort), int64(x.ToPort))
	if err != nil {
		return Observed{}, fmt.Errorf("exposure %s: %w", x.ID, err)
	}
	o := Observed{Key: k, ID: x.ID, Ports: ports, Exposure: x}
	for _, s := range x.Sources {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return Observed{}, fmt.Errorf("exposure %s: source %q is neither a prefix nor an address", x.ID, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		o.Sources = append(o.Sources, p.Masked())
	}
	if x.Probe != nil {
		o.Probe = x.Probe.State
	}
	return o, nil
}

func set(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

// Units returns the collection units the report lists (scope.units),
// as baseline scopes, sorted; nil for a report that lists none.
func (a *Audit) Units() []exposure.Scope {
	if a.units == nil {
		return nil
	}
	out := make([]exposure.Scope, 0, len(a.units))
	for s := range a.units {
		out = append(out, s)
	}
	slices.SortFunc(out, compareScope)
	return out
}

// Audited reports whether the report covered scope s, so that a stored
// baseline of s with nothing in this report resolves. The report lists its
// providers, accounts and regions apart, so a scope counts as covered when
// its provider, account and (for AWS) region each appear; a stored scope
// outside them is left alone.
func (a *Audit) Audited(s exposure.Scope) bool {
	s = Partition(s)
	if a.units != nil {
		return a.units[s]
	}
	return a.providers[s.Provider] && a.accounts[s.Account] && (s.Region == "" || a.regions[s.Region])
}

// Run returns what to diff a stored (or newly seen) scope with: the
// report's Run of s; an empty Run when the report covered s and saw
// nothing there (everything in it resolves); an empty incomplete Run when
// the report's errors name s (a region whose collection failed is not in
// the report's regions: its entries become unverified); or nil when the
// report did not cover s (leave its baseline alone).
func (a *Audit) Run(s exposure.Scope) *Run {
	s = Partition(s)
	if r, ok := a.Runs[s]; ok {
		return r
	}
	if !a.Audited(s) && !a.Incomplete.Contains(s) {
		return nil
	}
	return &Run{Scope: s, RunID: a.RunID, Incomplete: a.Incomplete.Contains(s)}
}

// DiffDocuments is `portcullis diff OLD NEW`: the changes from one saved
// report to another, scope by scope in order, as Diff would report them
// had OLD's run been stored. Scopes of OLD that NEW did not cover are left
// out. now is the time given to the new run when NEW does not say.
func DiffDocuments(oldDoc, newDoc *reports.Document, now time.Time) ([]Change, error) {
	before, err := FromDocument(oldDoc)
	if err != nil {
		return nil, fmt.Errorf("old report: %w", err)
	}
	after, err := FromDocument(newDoc)
	if err != nil {
		return nil, fmt.Errorf("new report: %w", err)
	}
	tOld, tNew := before.Time, after.Time
	if tNew.IsZero() {
		tNew = now
	}
	if tOld.IsZero() || !tOld.Before(tNew) {
		tOld = tNew.Add(-time.Second)
	}
	scopes := SortedScopes(before.Runs)
	for s := range after.Runs {
		if _, ok := before.Runs[s]; !ok {
			scopes = append(scopes, s)
		}
	}
	slices.SortFunc(scopes, compareScope)
	var out []Change
	for _, s := range scopes {
		cur := after.Run(s)
		if cur == nil {
			continue
		}
		var prev *Baseline
		if r, ok := before.Runs[s]; ok {
			prev, _ = Diff(nil, r, tOld)
		}
		_, ch := Diff(prev, cur, tNew)
		out = append(out, ch...)
	}
	return out, nil
}
