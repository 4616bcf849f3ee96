package rules

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Options configure an Engine.
type Options struct {
	// CustomRulesFile is a YAML file of CEL rules (docs/rules.md).
	CustomRulesFile string
	// ExceptionsFile is a YAML file of exceptions (docs/rules.md).
	ExceptionsFile string
	// Framework, when set, keeps only findings that map to a control of
	// that framework and only its controls in the compliance results.
	Framework string
	// Now decides which exceptions have expired; zero means time.Now().
	Now time.Time
}

// Engine evaluates exposures against the catalog, custom rules and
// exceptions. It is safe for concurrent use once built.
type Engine struct {
	cat        *Catalog
	custom     []*customRule
	exceptions []*Exception
	framework  string
	now        time.Time
	// controlsByRule lists, per rule ID, the controls selecting the rule.
	controlsByRule map[string][]controlRef
	// refOrder is the order of controls in the compliance mappings.
	refOrder map[ComplianceRef]int
}

type controlRef struct {
	framework string
	ctl       *Control
}

// NewEngine validates and compiles everything the audit will evaluate: a
// malformed catalog, custom rules file or exceptions file is rejected with
// file:line(:col) and the reason, so an audit never runs on half a rule set.
func NewEngine(c *Catalog, opts Options) (*Engine, error) {
	if c == nil {
		return nil, errors.New("create rules engine: nil catalog")
	}
	e := &Engine{cat: c, framework: opts.Framework, now: opts.Now, controlsByRule: map[string][]controlRef{}, refOrder: c.refOrder()}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	if e.framework != "" && !slices.Contains(Frameworks(), e.framework) {
		return nil, fmt.Errorf("create rules engine: unknown framework %q (want one of %v)", e.framework, Frameworks())
	}
	for i := range c.frameworks {
		fw := &c.frameworks[i]
		for j := range fw.Controls {
			ctl := &fw.Controls[j]
			if ctl.Check != CheckFindings {
				continue
			}
			for k := range c.rules {
				if ctl.Rules.selects(&c.rules[k]) {
					e.controlsByRule[c.rules[k].ID] = append(e.controlsByRule[c.rules[k].ID], controlRef{fw.ID, ctl})
				}
			}
		}
	}
	ruleIDs := map[string]bool{}
	for _, r := range c.rules {
		ruleIDs[r.ID] = true
	}
	var errs []error
	if opts.CustomRulesFile != "" {
		custom, err := loadCustomRules(opts.CustomRulesFile, c)
		if err != nil {
			errs = append(errs, err)
		}
		e.custom = custom
		for _, cr := range custom {
			ruleIDs[cr.ID] = true
		}
	}
	if opts.ExceptionsFile != "" {
		ex, err := loadExceptions(opts.ExceptionsFile, ruleIDs)
		if err != nil {
			errs = append(errs, err)
		}
		e.exceptions = ex
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// CustomRules returns the loaded custom rules.
func (e *Engine) CustomRules() []Rule {
	out := make([]Rule, len(e.custom))
	for i, cr := range e.custom {
		out[i] = cr.Rule
	}
	return out
}

// Input is everything one evaluation looks at.
type Input struct {
	Exposures    []*exposure.Exposure
	Observations []exposure.Observation
	// Layers are the inventory's layers (Inventory.Layers and those on the
	// targets' paths), for the checks that judge layers rather than
	// exposures: NACL return traffic and the default security group.
	// Nil skips them (CIS AWS 5.4 is then not applicable).
	Layers []*exposure.Layer
	// Providers are the providers audited; a control of a provider not
	// audited is not applicable. Empty: inferred from exposures and layers
	// (a provider with nothing exposed and no layers then looks unaudited).
	Providers []string
}

// Result is the outcome of one evaluation.
type Result struct {
	// Findings are sorted by severity (highest first), then rule, scope,
	// target and port. Suppressed findings are included, marked.
	Findings []Finding `json:"findings"`
	// Compliance has one result per control of the selected frameworks.
	Compliance []ControlResult `json:"compliance"`
	// Exceptions lists expired and stale exceptions.
	Exceptions []ExceptionStatus `json:"exceptions,omitempty"`
	// Misconfigurations are layer settings that break traffic or a
	// benchmark (NACL return traffic, default security group).
	Misconfigurations []Misconfiguration `json:"misconfigurations,omitempty"`
	// RuleErrors are custom rules that failed on an exposure at run time.
	RuleErrors []RuleError `json:"ruleErrors,omitempty"`
}

// Evaluate applies the rules to exposures and probe observations.
func (e *Engine) Evaluate(exps []*exposure.Exposure, obs []exposure.Observation) *Result {
	return e.EvaluateInput(Input{Exposures: exps, Observations: obs})
}

// EvaluateInput applies the rules to everything in the input.
func (e *Engine) EvaluateInput(in Input) *Result {
	res := &Result{}
	idx := indexObservations(in.Observations, in.Exposures)
	views := make([]*view, 0, len(in.Exposures))
	sc := newSourceCache()
	runs := unionRuns(in.Exposures)
	runViews := map[*exposure.Exposure]*view{}
	var findings []Finding
	for _, x := range in.Exposures {
		if x == nil {
			continue
		}
		v := newView(x, idx, sc)
		if u := runs[x]; u != nil {
			if runViews[u] == nil {
				runViews[u] = newView(u, idx, sc)
			}
			v.run = runViews[u]
		}
		views = append(views, v)
		for i := range e.cat.rules {
			r := &e.cat.rules[i]
			if v.run != nil && unionKind(r.Match.Kind) {
				continue // judged once, on the union
			}
			for _, cand := range e.cat.match(r, v) {
				findings = append(findings, e.finding(v, cand))
			}
		}
		if len(e.custom) > 0 {
			ce := celView(v)
			for _, cr := range e.custom {
				ok, err := cr.eval(ce)
				if err != nil {
					res.RuleErrors = append(res.RuleErrors, RuleError{
						RuleID: cr.ID, Source: cr.Source, ExposureID: v.id, Target: x.Target.ID, Message: err.Error(),
					})
					continue
				}
				if ok {
					findings = append(findings, e.customFinding(v, cr))
				}
			}
		}
	}
	// Structural rules judge the union of a target's exposures per
	// protocol and source set, so that the same admitted traffic gives the
	// same findings however its rules are written or its range is cut.
	for _, u := range sortedRuns(runViews) {
		for i := range e.cat.rules {
			r := &e.cat.rules[i]
			if !unionKind(r.Match.Kind) {
				continue
			}
			for _, cand := range e.cat.match(r, u) {
				findings = append(findings, e.finding(u, cand))
			}
		}
	}
	res.Exceptions = e.applyExceptions(findings)
	if in.Layers != nil {
		dsg := CheckDefaultSecurityGroups(in.Layers)
		// The control IDs come from the mappings, which name the
		// benchmark version they number.
		refs := e.cat.controlsWithCheck(CheckDefaultSecurityGroup)
		for i := range dsg {
			dsg[i].Compliance = refs
		}
		res.Misconfigurations = append(CheckNACLReturnTraffic(in.Layers), dsg...)
	}
	res.Compliance = e.cat.evaluateCompliance(e.framework, findings, views, in, res.Misconfigurations)
	if e.framework != "" {
		findings = scopeToFramework(findings, e.framework)
		res.Misconfigurations = slices.DeleteFunc(res.Misconfigurations, func(m Misconfiguration) bool {
			return !slices.ContainsFunc(m.Compliance, func(r ComplianceRef) bool { return r.Framework == e.framework })
		})
	}
	sortFindings(findings)
	res.Findings = findings
	return res
}

// finding turns a catalog match into a finding: severity, compliance,
// remediation.
func (e *Engine) finding(v *view, c candidate) Finding {
	r := c.rule
	state := exposure.ProbeState("")
	if c.probe != nil && !c.contradicted {
		state = c.probe.State
	}
	f := Finding{
		ID:          findingID(r.ID, v.id, c.port, c.service),
		RuleID:      r.ID,
		Title:       r.Title,
		Severity:    Adjust(r.Severity, r.Floor, v.familyBreadth(r.Match.Family), ReachOf(v.e), state),
		Service:     c.service,
		Remediation: r.remediation(v.e.Provider),
		Exposure:    v.e,
		Port:        c.port,
		Probe:       c.probe,
		MatchedBy:   c.matchedBy,
	}
	// A finding carries the controls of its rule, and a structural
	// finding those of the port rules it covers, each only where the
	// exposure falls in the control's scope.
	seen := map[ComplianceRef]bool{}
	add := func(ruleID string) {
		for _, cr := range e.controlsByRule[ruleID] {
			ref := ComplianceRef{Framework: cr.framework, Control: cr.ctl.ID}
			if !seen[ref] && cr.ctl.inScope(v) {
				seen[ref] = true
				f.Compliance = append(f.Compliance, ref)
			}
		}
	}
	add(r.ID)
	for _, s := range c.subsumes {
		f.Subsumes = append(f.Subsumes, s.ID)
		add(s.ID)
	}
	sortRefs(f.Compliance, e.refOrder)
	return f
}

func (e *Engine) customFinding(v *view, cr *customRule) Finding {
	probe := v.bestObservation(func(*exposure.Observation, uint16) bool { return true })
	state := exposure.ProbeState("")
	if probe != nil {
		state = probe.State
	}
	f := Finding{
		ID:          findingID(cr.ID, v.id, 0, ""),
		RuleID:      cr.ID,
		Title:       cr.Title,
		Severity:    Adjust(cr.Severity, cr.Floor, v.breadth, ReachOf(v.e), state),
		Service:     cr.Service,
		Compliance:  slices.Clone(cr.Compliance),
		Remediation: cr.remediation(v.e.Provider),
		Exposure:    v.e,
		Probe:       probe,
		MatchedBy:   "expression",
		Custom:      true,
	}
	if v.svc.Size() == 1 {
		f.Port = v.svc.From
	}
	sortRefs(f.Compliance, e.refOrder)
	return f
}

// applyExceptions marks covered findings, resurfaces those of expired
// exceptions and reports expired and stale exceptions. The first active
// exception in file order that matches a finding covers it.
func (e *Engine) applyExceptions(findings []Finding) []ExceptionStatus {
	matched := make([]int, len(e.exceptions))
	for i := range findings {
		f := &findings[i]
		for j, x := range e.exceptions {
			if !x.matches(f) {
				continue
			}
			matched[j]++
			if x.expired(e.now) {
				if f.Expired == nil {
					f.Expired = x.suppression()
				}
				continue
			}
			if f.Suppressed == nil {
				f.Suppressed = x.suppression()
			}
		}
		if f.Suppressed != nil {
			f.Expired = nil
		}
	}
	var out []ExceptionStatus
	for j, x := range e.exceptions {
		switch {
		case x.expired(e.now):
			out = append(out, ExceptionStatus{Exception: *x, State: ExceptionExpired, Matched: matched[j]})
		case matched[j] == 0:
			out = append(out, ExceptionStatus{Exception: *x, State: ExceptionStale})
		}
	}
	return out
}

// scopeToFramework keeps the findings that map to the framework, each with
// only that framework's references.
func scopeToFramework(findings []Finding, fw string) []Finding {
	out := findings[:0]
	for _, f := range findings {
		var refs []ComplianceRef
		for _, r := range f.Compliance {
			if r.Framework == fw {
				refs = append(refs, r)
			}
		}
		if len(refs) == 0 {
			continue
		}
		f.Compliance = refs
		out = append(out, f)
	}
	return out
}

// sortRefs orders references as the compliance mappings list the
// frameworks and controls.
func sortRefs(refs []ComplianceRef, order map[ComplianceRef]int) {
	sort.SliceStable(refs, func(i, j int) bool { return order[refs[i]] < order[refs[j]] })
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		ea, eb := a.Exposure, b.Exposure
		for _, p := range [][2]string{{ea.Provider, eb.Provider}, {ea.Account, eb.Account}, {ea.Region, eb.Region}, {ea.Target.ID, eb.Target.ID}, {ea.Endpoint.String(), eb.Endpoint.String()}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if ea.Ports.From != eb.Ports.From {
			return ea.Ports.From < eb.Ports.From
		}
		return a.ID < b.ID
	})
}
