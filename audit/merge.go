package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"slices"

	"github.com/portcullis-sec/portcullis/audit/unitresult"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// AnalyzeUnit audits one collection unit's snapshot (the serverless collect
// function's own account-region, project or subscription) up to the rules:
// it normalizes and analyses it and keeps what Merge needs. The snapshot is
// read as Run reads a whole one (every provider directory it holds, its
// errors.json), so that merging the results of every unit gives the report
// Run gives for the union of their snapshots.
//
// This is exact because nothing in the analysis crosses units: each
// provider normalizes one account-region, project or subscription on its
// own (a security group referencing another account's group, a load
// balancer's IP target outside its VPC, a prefix list shared through RAM
// are resolved, or marked unknown, within the unit that names them; see
// docs/deployment.md, "Run at organization size"), and the analysis judges
// each target's path and each layer by itself.
func AnalyzeUnit(fsys fs.FS, unit exposure.Scope, log *slog.Logger) (*unitresult.Result, error) {
	o := Options{Snapshot: fsys, Logger: log}
	start := StartStage()
	collectErrs, err := readErrorsOf(fsys)
	if err != nil {
		return nil, err
	}
	inv, present, err := Normalize(fsys, nil)
	if err != nil {
		return nil, err
	}
	o.logStage("normalize", start, "unit", unit, "providers", present, "targets", len(inv.Targets), "layers", len(inv.Layers), "errors", len(inv.Errors))
	start = StartStage()
	res := exposure.Analyze(inv)
	o.logStage("analyze", start, "effective", len(res.Effective), "latent", len(res.Latent), "errors", len(res.Errors))
	layers := Layers(inv)
	u := &unitresult.Result{
		Unit: unit, Present: present, Audited: auditedProviders(inv, present),
		Units:         Units(fsys, present),
		CollectErrors: collectErrs, NormalizeErrors: inv.Errors, AnalyzeErrors: res.Errors,
		Effective: res.Effective, Latent: res.Latent,
		Targets: len(inv.Targets), LayersSeen: len(layers),
	}
	accounts, regions := scopeSets(inv)
	u.Accounts, u.Regions = sortedKeys(accounts), sortedKeys(regions)
	// Layers lists inv.Layers first, then those found only on paths; the
	// merge keeps the two apart to list them in Run's order.
	listed := map[*exposure.Layer]bool{}
	for _, l := range inv.Layers {
		listed[l] = true
	}
	for _, l := range layers {
		switch {
		case !rules.LayerChecked(l):
		case listed[l]:
			u.Layers = append(u.Layers, l)
		default:
			u.PathLayers = append(u.PathLayers, l)
		}
	}
	return u, nil
}

func readErrorsOf(fsys fs.FS) ([]exposure.Error, error) {
	o := Options{Snapshot: fsys}
	_, errs, err := o.readScopedSnapshot()
	return errs, err
}

// Merge is Run over unit results instead of a snapshot: it takes the
// results of every unit of a run one at a time (in any order; Merge keeps
// only their exposures, checked layers and errors, never a snapshot or an
// inventory), evaluates the rules once over the whole estate with the
// observations of o, and shapes the one report. Of o, Merge uses Rules,
// Observations, FailOn, SnapshotDir, Version and Logger; probing is the
// probe stage's and is refused here.
//
// For the results of the units of a snapshot, Merge's report is Run's for
// the snapshot: the same exposures in the same order, the same findings,
// controls, misconfigurations, scope and errors (TestMergeEqualsRun).
func Merge(units iter.Seq2[*unitresult.Result, error], o Options) (*Result, error) {
	if o.Probe.Enabled {
		return nil, errors.New("audit: merge takes observations, it does not probe")
	}
	_, engine, err := o.engine()
	if err != nil {
		return nil, err
	}

	start := StartStage()
	var (
		m                                merged
		accounts, regions                = map[string]bool{}, map[string]bool{}
		present, audited                 = map[string]bool{}, map[string]bool{}
		collectErrs, normErrs, analyErrs []exposure.Error
		prev                             exposure.Scope
	)
	for u, err := range units {
		if err != nil {
			return nil, err
		}
		if m.units > 0 && compareScopes(u.Unit, prev) < 0 {
			m.unsorted = true
		}
		prev = u.Unit
		m.units++
		m.targets += u.Targets
		m.layersSeen += u.LayersSeen
		m.effective = append(m.effective, u.Effective...)
		m.latent = append(m.latent, u.Latent...)
		m.layers = append(m.layers, u.Layers...)
		m.pathLayers = append(m.pathLayers, u.PathLayers...)
		m.scopes = append(m.scopes, u.Units...)
		collectErrs = append(collectErrs, u.CollectErrors...)
		normErrs = append(normErrs, u.NormalizeErrors...)
		analyErrs = append(analyErrs, u.AnalyzeErrors...)
		for _, p := range u.Present {
			present[p] = true
		}
		for _, p := range u.Audited {
			audited[p] = true
		}
		for _, a := range u.Accounts {
			accounts[a] = true
		}
		for _, r := range u.Regions {
			regions[r] = true
		}
	}
	if m.unsorted {
		m.sort()
	}
	o.logStage("merge", start, "units", m.units, "targets", m.targets, "effective", len(m.effective), "latent", len(m.latent),
		"layers", m.layersSeen, "checkedLayers", len(m.layers)+len(m.pathLayers))

	// The whole-estate audit's providers, errors and failure, in its order
	// (Run): providers in name order; collection, normalization, the
	// providers of which nothing could be read, then the analysis.
	var auditedNames []string
	for _, p := range Providers() {
		if audited[p] {
			auditedNames = append(auditedNames, p)
		}
	}
	errs := append(collectErrs, normErrs...)
	if len(auditedNames) == 0 {
		if len(errs) == 0 {
			return nil, fmt.Errorf("%w: the unit results hold no account-region, project or subscription with readable data", ErrNothingAudited)
		}
		return nil, fmt.Errorf("%w: %v", ErrNothingAudited, errs)
	}
	for _, p := range Providers() {
		if present[p] && !audited[p] {
			errs = append(errs, exposure.Error{Scope: exposure.Scope{Provider: p}, Stage: "normalize",
				Message: "nothing of " + p + " could be read from the snapshot: its controls are not applicable"})
		}
	}
	errs = append(errs, analyErrs...)

	exps := append(m.effective, m.latent...)
	m.effective, m.latent = nil, nil
	input := rules.Input{Exposures: exps, Providers: auditedNames, Observations: o.Observations}
	// Run passes the inventory's layers, nil when it has none (the layer
	// checks are then not applicable rather than passed).
	if m.layersSeen > 0 {
		input.Layers = append(m.layers, m.pathLayers...)
		if input.Layers == nil {
			input.Layers = []*exposure.Layer{}
		}
	}
	rep := o.report(engine, input, errs, reportScope(accounts, regions, auditedNames, o))
	rep.Scope.Units = slices.DeleteFunc(m.scopes, func(s exposure.Scope) bool { return !audited[s.Provider] })
	slices.SortFunc(rep.Scope.Units, compareScopes)
	rep.Scope.Units = slices.CompactFunc(rep.Scope.Units, func(a, b exposure.Scope) bool { return a == b })
	return &Result{Report: rep, Engine: engine}, nil
}

// merged accumulates unit results.
type merged struct {
	units, targets, layersSeen int
	effective, latent          []*exposure.Exposure
	layers, pathLayers         []*exposure.Layer
	scopes                     []exposure.Scope
	unsorted                   bool
}

// sort puts exposures and layers of units given out of order in unit
// order. A stable sort on the scope alone is enough: each unit's lists are
// already in the analysis's order, and no two units share a scope.
func (m *merged) sort() {
	byScope := func(a, b *exposure.Exposure) int { return compareScopes(a.Scope, b.Scope) }
	slices.SortStableFunc(m.effective, byScope)
	slices.SortStableFunc(m.latent, byScope)
	byLayerScope := func(a, b *exposure.Layer) int { return compareScopes(a.Scope, b.Scope) }
	slices.SortStableFunc(m.layers, byLayerScope)
	slices.SortStableFunc(m.pathLayers, byLayerScope)
}
