package rules

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"gopkg.in/yaml.v3"
)

// Framework identifiers usable with --framework.
const (
	FrameworkCISAWS   = "cis-aws"
	FrameworkCISGCP   = "cis-gcp"
	FrameworkCISAzure = "cis-azure"
	FrameworkPCIDSS   = "pci-dss"
	FrameworkNIST     = "nist-800-53"
	FrameworkSOC2     = "soc2"
)

// Frameworks returns the framework IDs usable with --framework.
func Frameworks() []string {
	return []string{FrameworkCISAWS, FrameworkCISGCP, FrameworkCISAzure, FrameworkPCIDSS, FrameworkNIST, FrameworkSOC2}
}

// Control checks.
const (
	// CheckFindings: the control fails when an unsuppressed finding of a
	// selected rule falls in the control's scope.
	CheckFindings = "findings"
	// CheckDefaultSecurityGroup: the control fails when an AWS default
	// security group has rules (CIS AWS 5.4); needs the inventory's
	// layers.
	CheckDefaultSecurityGroup = "default-security-group"
)

// Framework is one compliance framework and the controls Portcullis maps.
type Framework struct {
	ID       string    `yaml:"id" json:"id"`
	Name     string    `yaml:"name" json:"name"`
	Version  string    `yaml:"version" json:"version"`
	URL      string    `yaml:"url,omitempty" json:"url,omitempty"`
	Controls []Control `yaml:"controls" json:"controls"`
}

// Control is one control and how Portcullis decides it.
type Control struct {
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Check is findings (default) or default-security-group.
	Check string `yaml:"check,omitempty" json:"check,omitempty"`
	// Rules selects the catalog rules whose findings decide the control.
	Rules Selector `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Scope narrows which exposures count.
	Providers []string `yaml:"providers,omitempty" json:"providers,omitempty"`
	// LayerKinds requires the exposure to be admitted by a layer of one
	// of these kinds (evidence), e.g. network-acl for CIS AWS 5.1.
	LayerKinds []string `yaml:"layerKinds,omitempty" json:"layerKinds,omitempty"`
	// Internet requires sources covering the whole internet of a family:
	// ipv4 (0.0.0.0/0), ipv6 (::/0) or any (either).
	Internet string `yaml:"internet,omitempty" json:"internet,omitempty"`
	// Breadth lists the source breadths that count (default: all).
	Breadth []string `yaml:"breadth,omitempty" json:"breadth,omitempty"`
	// Levels lists the exposure levels that count (default: both).
	Levels []string `yaml:"levels,omitempty" json:"levels,omitempty"`
	// Note explains how Portcullis reads the control.
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
	// Renumbered gives the control's ID in other versions of the
	// benchmark than the framework's Version (CIS renumbers its sections).
	Renumbered []Renumbering `yaml:"renumbered,omitempty" json:"renumbered,omitempty"`
	Source     string        `yaml:"-" json:"-"`
}

// Renumbering is a control's ID in other versions of its benchmark.
type Renumbering struct {
	// Versions is one version ("v1.4.0") or an inclusive range
	// ("v4.0.1-v5.0.0").
	Versions string `yaml:"versions" json:"versions"`
	ID       string `yaml:"id" json:"id"`
}

// Selector picks rules by ID, category or tag; All picks every rule.
type Selector struct {
	All        bool     `yaml:"all,omitempty" json:"all,omitempty"`
	IDs        []string `yaml:"ids,omitempty" json:"ids,omitempty"`
	Categories []string `yaml:"categories,omitempty" json:"categories,omitempty"`
	Tags       []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Except removes rules by ID.
	Except []string `yaml:"except,omitempty" json:"except,omitempty"`
}

func (s Selector) empty() bool {
	return !s.All && len(s.IDs) == 0 && len(s.Categories) == 0 && len(s.Tags) == 0
}

// selects reports whether the selector picks r.
func (s Selector) selects(r *Rule) bool {
	if slices.Contains(s.Except, r.ID) {
		return false
	}
	if s.All || slices.Contains(s.IDs, r.ID) || slices.Contains(s.Categories, r.Category) {
		return true
	}
	for _, t := range s.Tags {
		if slices.Contains(r.Tags, t) {
			return true
		}
	}
	return false
}

type complianceFile struct {
	Frameworks []Framework `yaml:"frameworks"`
}

func parseCompliance(name string, data []byte, c *Catalog) ([]Framework, error) {
	var cf complianceFile
	f, err := decodeYAML(name, data, &cf)
	if err != nil {
		return nil, err
	}
	var errs []error
	known := Frameworks()
	seen := map[string]bool{}
	fwItems := f.items("frameworks")
	for i := range cf.Frameworks {
		fw := &cf.Frameworks[i]
		pos := f.itemPos("frameworks", i)
		if !slices.Contains(known, fw.ID) {
			errs = append(errs, fmt.Errorf("%s: unknown framework %q (want one of %s)", pos, fw.ID, strings.Join(known, ", ")))
			continue
		}
		if seen[fw.ID] {
			errs = append(errs, fmt.Errorf("%s: framework %s listed twice", pos, fw.ID))
		}
		seen[fw.ID] = true
		if fw.Name == "" || fw.Version == "" {
			errs = append(errs, fmt.Errorf("%s: framework %s: name and version are required", pos, fw.ID))
		}
		var ctrlItems []*yaml.Node
		if i < len(fwItems) {
			if n := mapValue(fwItems[i], "controls"); n != nil {
				ctrlItems = n.Content
			}
		}
		ids := map[string]bool{}
		for j := range fw.Controls {
			ctl := &fw.Controls[j]
			ctl.Source = pos
			if j < len(ctrlItems) {
				ctl.Source = f.pos(ctrlItems[j])
			}
			if err := ctl.validate(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s %s: %w", ctl.Source, fw.ID, ctl.ID, err))
			}
			if ids[ctl.ID] {
				errs = append(errs, fmt.Errorf("%s: %s %s: duplicate control", ctl.Source, fw.ID, ctl.ID))
			}
			ids[ctl.ID] = true
		}
	}
	for _, id := range known {
		if !seen[id] {
			errs = append(errs, fmt.Errorf("%s: framework %s is not mapped", name, id))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cf.Frameworks, nil
}

func (ctl *Control) validate(c *Catalog) error {
	if ctl.ID == "" || ctl.Title == "" {
		return errors.New("id and title are required")
	}
	if ctl.Check == "" {
		ctl.Check = CheckFindings
	}
	switch ctl.Check {
	case CheckFindings:
		if ctl.Rules.empty() {
			return errors.New("rules: select at least one rule (all, ids, categories or tags)")
		}
		for _, id := range append(slices.Clone(ctl.Rules.IDs), ctl.Rules.Except...) {
			if _, ok := c.byID[id]; !ok {
				return fmt.Errorf("rules: unknown rule %s", id)
			}
		}
		n := 0
		for i := range c.rules {
			if ctl.Rules.selects(&c.rules[i]) {
				n++
			}
		}
		if n == 0 {
			return errors.New("rules: the selector picks no catalog rule")
		}
	case CheckDefaultSecurityGroup:
	default:
		return fmt.Errorf("unknown check %q (want findings or default-security-group)", ctl.Check)
	}
	for _, rn := range ctl.Renumbered {
		if !strings.HasPrefix(rn.Versions, "v") || rn.ID == "" {
			return fmt.Errorf("renumbered: want {versions: vX.Y.Z[-vX.Y.Z], id: ...}, got %+v", rn)
		}
	}
	for _, p := range ctl.Providers {
		if !slices.Contains(exposure.Providers(), p) {
			return fmt.Errorf("unknown provider %q (want one of %s)", p, strings.Join(exposure.Providers(), ", "))
		}
	}
	switch ctl.Internet {
	case "", FamilyAny, FamilyIPv4, FamilyIPv6:
	default:
		return fmt.Errorf("internet %q: want ipv4, ipv6 or any", ctl.Internet)
	}
	for _, b := range ctl.Breadth {
		switch exposure.Breadth(b) {
		case exposure.BreadthAnyone, exposure.BreadthBroad, exposure.BreadthNarrow:
		default:
			return fmt.Errorf("unknown breadth %q", b)
		}
	}
	for _, l := range ctl.Levels {
		if l != string(exposure.Effective) && l != string(exposure.Latent) {
			return fmt.Errorf("unknown level %q", l)
		}
	}
	return nil
}

// deriveCompliance fills each rule's Compliance from the controls that
// select it.
func (c *Catalog) deriveCompliance() {
	for i := range c.rules {
		r := &c.rules[i]
		r.Compliance = nil
		for _, fw := range c.frameworks {
			for _, ctl := range fw.Controls {
				if ctl.Check == CheckFindings && ctl.Rules.selects(r) {
					r.Compliance = append(r.Compliance, ComplianceRef{Framework: fw.ID, Control: ctl.ID})
				}
			}
		}
	}
}

// controlsWithCheck returns the controls decided by a layer check.
func (c *Catalog) controlsWithCheck(check string) []ComplianceRef {
	var out []ComplianceRef
	for _, fw := range c.frameworks {
		for _, ctl := range fw.Controls {
			if ctl.Check == check {
				out = append(out, ComplianceRef{Framework: fw.ID, Control: ctl.ID})
			}
		}
	}
	return out
}

// refOrder numbers every control in the order the mappings list them.
func (c *Catalog) refOrder() map[ComplianceRef]int {
	order := map[ComplianceRef]int{}
	for _, fw := range c.frameworks {
		for _, ctl := range fw.Controls {
			order[ComplianceRef{Framework: fw.ID, Control: ctl.ID}] = len(order)
		}
	}
	return order
}

// control returns a control by framework and ID.
func (c *Catalog) control(fw, id string) (*Framework, *Control) {
	for i := range c.frameworks {
		if c.frameworks[i].ID != fw {
			continue
		}
		for j := range c.frameworks[i].Controls {
			if c.frameworks[i].Controls[j].ID == id {
				return &c.frameworks[i], &c.frameworks[i].Controls[j]
			}
		}
	}
	return nil, nil
}

// inScope reports whether an exposure falls in a control's scope.
func (ctl *Control) inScope(v *view) bool {
	if len(ctl.Providers) > 0 && !slices.Contains(ctl.Providers, v.e.Provider) {
		return false
	}
	if len(ctl.Levels) > 0 && !slices.Contains(ctl.Levels, string(v.e.Level)) {
		return false
	}
	if len(ctl.Breadth) > 0 && !slices.Contains(ctl.Breadth, string(v.breadth)) {
		return false
	}
	if len(ctl.LayerKinds) > 0 && !v.admittedBy(ctl.LayerKinds) {
		return false
	}
	switch ctl.Internet {
	case FamilyIPv4:
		return v.wholeInternet(ctl.LayerKinds, FamilyIPv4)
	case FamilyIPv6:
		return v.wholeInternet(ctl.LayerKinds, FamilyIPv6)
	case FamilyAny:
		return v.wholeInternet(ctl.LayerKinds, FamilyIPv4) || v.wholeInternet(ctl.LayerKinds, FamilyIPv6)
	}
	return true
}

// ControlStatus is the outcome of one control.
type ControlStatus string

const (
	StatusPass          ControlStatus = "pass"
	StatusFail          ControlStatus = "fail"
	StatusNotApplicable ControlStatus = "not-applicable"
)

// ControlResult is the outcome of one control with the evidence that
// decides it.
type ControlResult struct {
	Framework string        `json:"framework"`
	Version   string        `json:"version"`
	Control   string        `json:"control"`
	Title     string        `json:"title"`
	Status    ControlStatus `json:"status"`
	// Reason says in one sentence why the status is what it is.
	Reason string `json:"reason"`
	// Evidence lists what fails the control (findings or, for layer
	// checks, misconfigurations).
	Evidence []ControlEvidence `json:"evidence,omitempty"`
	// Excepted lists findings that would fail the control but are
	// covered by an active exception.
	Excepted []ControlEvidence `json:"excepted,omitempty"`
	// Examined is the number of exposures (or layers) the control looked
	// at.
	Examined int `json:"examined"`
}

// ControlEvidence is one finding or misconfiguration behind a control
// result.
type ControlEvidence struct {
	RuleID     string   `json:"ruleId,omitempty"`
	FindingID  string   `json:"findingId,omitempty"`
	ExposureID string   `json:"exposureId,omitempty"`
	Provider   string   `json:"provider"`
	Account    string   `json:"account"`
	Region     string   `json:"region,omitempty"`
	Resource   string   `json:"resource"`
	Level      string   `json:"level,omitempty"`
	Protocol   string   `json:"protocol,omitempty"`
	Port       string   `json:"port,omitempty"`
	Severity   Severity `json:"severity"`
	Detail     string   `json:"detail,omitempty"`
}

func findingEvidence(f *Finding, ids map[*exposure.Exposure]string) ControlEvidence {
	e := f.Exposure
	id, ok := ids[e]
	if !ok {
		id = e.ID()
	}
	port := e.Ports.String()
	if f.Port != 0 {
		port = fmt.Sprint(f.Port)
	}
	return ControlEvidence{
		RuleID: f.RuleID, FindingID: f.ID, ExposureID: id,
		Provider: e.Provider, Account: e.Account, Region: e.Region,
		Resource: e.Target.ID, Level: string(e.Level), Protocol: e.Protocol.String(),
		Port: port, Severity: f.Severity,
	}
}

// evaluateCompliance decides every control of the selected frameworks.
func (c *Catalog) evaluateCompliance(framework string, findings []Finding, views []*view, in Input, misconfigs []Misconfiguration) []ControlResult {
	audited := map[string]bool{}
	for _, p := range in.Providers {
		audited[p] = true
	}
	if len(in.Providers) == 0 {
		for _, v := range views {
			audited[v.e.Provider] = true
		}
		for _, l := range in.Layers {
			if l != nil {
				audited[l.Provider] = true
			}
		}
	}
	ids := make(map[*exposure.Exposure]string, len(views))
	for _, v := range views {
		ids[v.e] = v.id
	}
	byRef := map[ComplianceRef][]int{}
	for j := range findings {
		for _, r := range findings[j].Compliance {
			byRef[r] = append(byRef[r], j)
		}
	}
	var out []ControlResult
	for _, fw := range c.frameworks {
		if framework != "" && fw.ID != framework {
			continue
		}
		for i := range fw.Controls {
			ctl := &fw.Controls[i]
			res := ControlResult{Framework: fw.ID, Version: fw.Version, Control: ctl.ID, Title: ctl.Title}
			applicable := len(ctl.Providers) == 0 && len(audited) > 0
			for _, p := range ctl.Providers {
				applicable = applicable || audited[p]
			}
			switch {
			case !applicable:
				res.Status = StatusNotApplicable
				if len(ctl.Providers) > 0 {
					res.Reason = fmt.Sprintf("no %s resources were audited", strings.Join(ctl.Providers, "/"))
				} else {
					res.Reason = "nothing was audited"
				}
			case ctl.Check == CheckDefaultSecurityGroup:
				decideDefaultSG(&res, in.Layers, misconfigs)
			default:
				for _, v := range views {
					if ctl.scopeProviderLevel(v) {
						res.Examined++
					}
				}
				ref := ComplianceRef{Framework: fw.ID, Control: ctl.ID}
				for _, j := range byRef[ref] {
					f := &findings[j]
					if f.Suppressed != nil {
						res.Excepted = append(res.Excepted, findingEvidence(f, ids))
					} else {
						res.Evidence = append(res.Evidence, findingEvidence(f, ids))
					}
				}
				switch {
				case len(res.Evidence) > 0:
					res.Status = StatusFail
					res.Reason = fmt.Sprintf("%d finding(s) violate the control", len(res.Evidence))
				case len(res.Excepted) > 0:
					res.Status = StatusPass
					res.Reason = fmt.Sprintf("%d exposure(s) examined; %d violation(s) covered by active exceptions", res.Examined, len(res.Excepted))
				default:
					res.Status = StatusPass
					res.Reason = fmt.Sprintf("%d exposure(s) examined, none violates the control", res.Examined)
				}
			}
			sortEvidence(res.Evidence)
			sortEvidence(res.Excepted)
			out = append(out, res)
		}
	}
	return out
}

// scopeProviderLevel is the part of a control's scope that says which
// exposures it examines at all.
func (ctl *Control) scopeProviderLevel(v *view) bool {
	if len(ctl.Providers) > 0 && !slices.Contains(ctl.Providers, v.e.Provider) {
		return false
	}
	return len(ctl.Levels) == 0 || slices.Contains(ctl.Levels, string(v.e.Level))
}

func decideDefaultSG(res *ControlResult, layers []*exposure.Layer, misconfigs []Misconfiguration) {
	if layers == nil {
		res.Status = StatusNotApplicable
		res.Reason = "the inventory's layers were not supplied, so default security groups could not be examined"
		return
	}
	seen := map[string]bool{}
	for _, l := range layers {
		if isDefaultSG(l) && !seen[l.Account+"/"+l.Region+"/"+l.ID] {
			seen[l.Account+"/"+l.Region+"/"+l.ID] = true
			res.Examined++
		}
	}
	for _, m := range misconfigs {
		if m.Kind != MisconfigDefaultSGTraffic {
			continue
		}
		res.Evidence = append(res.Evidence, ControlEvidence{
			Provider: m.Provider, Account: m.Account, Region: m.Region,
			Resource: m.Layer, Severity: m.Severity, Detail: m.Message,
		})
	}
	switch {
	case res.Examined == 0:
		res.Status = StatusNotApplicable
		res.Reason = "no default security group in the inventory"
	case len(res.Evidence) > 0:
		res.Status = StatusFail
		res.Reason = fmt.Sprintf("%d of %d default security group(s) have inbound or outbound rules", len(res.Evidence), res.Examined)
	default:
		res.Status = StatusPass
		res.Reason = fmt.Sprintf("%d default security group(s) examined, none has rules", res.Examined)
	}
}

func sortEvidence(ev []ControlEvidence) {
	slices.SortFunc(ev, func(a, b ControlEvidence) int {
		return cmp.Or(
			cmp.Compare(a.Provider, b.Provider),
			cmp.Compare(a.Account, b.Account),
			cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Resource, b.Resource),
			cmp.Compare(a.RuleID, b.RuleID),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.FindingID, b.FindingID),
			cmp.Compare(a.Detail, b.Detail),
		)
	})
}
