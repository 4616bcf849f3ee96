package state

import (
	"maps"
	"slices"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Incomplete is the set of baseline scopes whose collection failed or was
// partial in one run, built from the run's errors by IncompleteScopes.
type Incomplete struct {
	everything bool
	providers  map[string]bool
	accounts   map[[2]string]bool
	scopes     map[exposure.Scope]bool
}

// completeStages are the stages whose errors leave the inventory whole: a
// failed probe leaves an exposure's confirmation as it was, and the report,
// state and notify stages only use what was collected. Every other stage
// (collect, snapshot, normalize, analyze, evaluate, and any stage this
// release does not know) makes its scope incomplete: when unsure, resolve
// nothing.
var completeStages = map[string]bool{"probe": true, "report": true, "state": true, "notify": true}

// IncompleteScopes says which scopes a run's errors (a report's `errors`)
// make incomplete. An error names the part that failed: a region (that
// scope), an account without a region (every scope of the account), a
// provider without an account (every scope of the provider), nothing at
// all (every scope).
func IncompleteScopes(errs []exposure.Error) Incomplete {
	in := Incomplete{providers: map[string]bool{}, accounts: map[[2]string]bool{}, scopes: map[exposure.Scope]bool{}}
	for _, e := range errs {
		if completeStages[e.Stage] {
			continue
		}
		switch {
		case e.Provider == "":
			in.everything = true
		case e.Account == "":
			in.providers[e.Provider] = true
		case e.Region == "":
			in.accounts[[2]string{e.Provider, e.Account}] = true
		default:
			in.scopes[Partition(e.Scope)] = true
		}
	}
	return in
}

// Contains reports whether the baseline scope of s is incomplete.
func (in Incomplete) Contains(s exposure.Scope) bool {
	p := Partition(s)
	return in.everything || in.providers[p.Provider] || in.accounts[[2]string{p.Provider, p.Account}] || in.scopes[p]
}

// Split cuts one run's observations into the Runs of their baseline
// scopes, marking those in incomplete.
func Split(runID string, obs []Observed, incomplete Incomplete) map[exposure.Scope]*Run {
	runs := map[exposure.Scope]*Run{}
	for _, o := range obs {
		p := Partition(o.Key.Scope)
		r := runs[p]
		if r == nil {
			r = &Run{Scope: p, RunID: runID, Incomplete: incomplete.Contains(p)}
			runs[p] = r
		}
		r.Exposures = append(r.Exposures, o)
	}
	return runs
}

// SortedScopes returns the keys of runs in order, for deterministic output.
func SortedScopes(runs map[exposure.Scope]*Run) []exposure.Scope {
	return slices.SortedFunc(maps.Keys(runs), compareScope)
}
