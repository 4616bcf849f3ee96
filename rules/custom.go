package rules

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"gopkg.in/yaml.v3"

	"github.com/portcullis-sec/portcullis/exposure"
)

// CELExposure is what a custom rule's condition sees as the variable
// `exposure`: one exposure, flattened. Field names are the CEL names.
type CELExposure struct {
	Provider string `cel:"provider"` // aws, gcp, azure
	Account  string `cel:"account"`
	Region   string `cel:"region"`
	Level    string `cel:"level"`    // effective, latent
	Protocol string `cel:"protocol"` // tcp, udp, icmp, icmpv6, all, or the number
	// FromPort and ToPort are the exposed (frontend) ports.
	FromPort int64 `cel:"fromPort"`
	ToPort   int64 `cel:"toPort"`
	// BackendFromPort and BackendToPort are the ports the traffic reaches
	// behind a forward; equal to FromPort/ToPort when nothing translates.
	BackendFromPort int64 `cel:"backendFromPort"`
	BackendToPort   int64 `cel:"backendToPort"`
	// BackendPort is BackendFromPort (the usual single-port case).
	BackendPort int64 `cel:"backendPort"`
	// Translated is true when a forward maps the ports to others.
	Translated bool `cel:"translated"`
	// Breadth is anyone, broad, narrow (the widest family); per family in
	// BreadthIPv4 and BreadthIPv6 (none when the family is absent).
	Breadth     string   `cel:"breadth"`
	BreadthIPv4 string   `cel:"breadthIPv4"`
	BreadthIPv6 string   `cel:"breadthIPv6"`
	Sources     []string `cel:"sources"` // the public source prefixes
	Endpoint    string   `cel:"endpoint"`
	IPv6        bool     `cel:"ipv6"`
	TargetID    string   `cel:"targetId"`
	TargetKind  string   `cel:"targetKind"`
	TargetName  string   `cel:"targetName"`
	Owner       string   `cel:"owner"`
	// Tags are the target's tags or labels (latent exposures: the layer's
	// tags when the provider sets them).
	Tags map[string]string `cel:"tags"`
	// LayerKinds and Layers are the kinds and IDs of the layers in the
	// evidence.
	LayerKinds []string `cel:"layerKinds"`
	Layers     []string `cel:"layers"`
	// Service and ProbeState come from the most telling probe of the
	// exposure's ports, when there was one.
	Service    string `cel:"service"`
	ProbeState string `cel:"probeState"`
}

// celExposureType is the CEL type name NativeTypes gives CELExposure.
const celExposureType = "rules.CELExposure"

// newCELEnv declares the `exposure` variable, the native type behind it
// and the helper methods exposure.covers(port) and
// exposure.overlaps(from, to) on the backend (service) ports.
func newCELEnv() (*cel.Env, error) {
	objType := cel.ObjectType(celExposureType)
	self := func(v ref.Val) *CELExposure {
		switch x := v.Value().(type) {
		case *CELExposure:
			return x
		case CELExposure:
			return &x
		}
		return nil
	}
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[CELExposure](), ext.ParseStructTags(true)),
		cel.Variable("exposure", objType),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.Function("covers",
			cel.MemberOverload("exposure_covers_int", []*cel.Type{objType, cel.IntType}, cel.BoolType,
				cel.BinaryBinding(func(lhs, rhs ref.Val) ref.Val {
					e, p := self(lhs), rhs.Value().(int64)
					if e == nil {
						return types.NewErr("covers: not an exposure")
					}
					return types.Bool(p >= e.BackendFromPort && p <= e.BackendToPort)
				}))),
		cel.Function("overlaps",
			cel.MemberOverload("exposure_overlaps_int_int", []*cel.Type{objType, cel.IntType, cel.IntType}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					e := self(args[0])
					if e == nil {
						return types.NewErr("overlaps: not an exposure")
					}
					from, to := args[1].Value().(int64), args[2].Value().(int64)
					return types.Bool(from <= e.BackendToPort && e.BackendFromPort <= to)
				}))),
	)
}

// celView flattens an exposure for CEL.
func celView(v *view) *CELExposure {
	e := v.e
	ce := &CELExposure{
		Provider: e.Provider, Account: e.Account, Region: e.Region,
		Level: string(e.Level), Protocol: e.Protocol.String(),
		FromPort: int64(e.Ports.From), ToPort: int64(e.Ports.To),
		BackendFromPort: int64(v.svc.From), BackendToPort: int64(v.svc.To), BackendPort: int64(v.svc.From),
		Translated: v.translated,
		Breadth:    string(v.breadth), BreadthIPv4: string(v.b4), BreadthIPv6: string(v.b6),
		Sources:  []string{},
		Endpoint: e.Endpoint.String(), IPv6: e.Endpoint.Is6(),
		TargetID: e.Target.ID, TargetKind: e.Target.Kind, TargetName: e.Target.Name, Owner: e.Target.Owner,
		Tags:       map[string]string{},
		LayerKinds: []string{}, Layers: []string{},
	}
	if v.facts.prefixes == nil {
		v.facts.prefixes = []string{}
		if e.Sources != nil {
			for _, p := range exposure.Intersect(e.Sources, exposure.PublicInternet()).Prefixes() {
				v.facts.prefixes = append(v.facts.prefixes, p.String())
			}
		}
	}
	ce.Sources = v.facts.prefixes
	for k, val := range e.Target.Tags {
		ce.Tags[k] = val
	}
	seen := map[string]bool{}
	for _, ev := range e.Evidence {
		if !seen["k"+ev.LayerKind] {
			seen["k"+ev.LayerKind] = true
			ce.LayerKinds = append(ce.LayerKinds, ev.LayerKind)
		}
		if !seen["l"+ev.Layer] {
			seen["l"+ev.Layer] = true
			ce.Layers = append(ce.Layers, ev.Layer)
		}
	}
	if o := v.bestObservation(func(*exposure.Observation, uint16) bool { return true }); o != nil {
		ce.Service, ce.ProbeState = o.Service, string(o.State)
	}
	return ce
}

// customRule is a user rule with its compiled condition.
type customRule struct {
	Rule
	program cel.Program
}

// remediationText accepts a plain string or a per-provider map.
type remediationText map[string]string

func (r *remediationText) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = remediationText{"default": n.Value}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*r = m
	return nil
}

type customFile struct {
	Rules []struct {
		ID          string          `yaml:"id"`
		Title       string          `yaml:"title"`
		Description string          `yaml:"description"`
		Service     string          `yaml:"service"`
		Category    string          `yaml:"category"`
		Severity    Severity        `yaml:"severity"`
		Floor       Severity        `yaml:"floor"`
		Remediation remediationText `yaml:"remediation"`
		References  []string        `yaml:"references"`
		Tags        []string        `yaml:"tags"`
		Compliance  []string        `yaml:"compliance"`
		Condition   string          `yaml:"condition"`
	} `yaml:"rules"`
}

// loadCustomRules reads, validates and compiles a custom rules file. Every
// problem is reported with file:line (file:line:col for CEL errors); no
// rule is kept when any is wrong.
func loadCustomRules(path string, c *Catalog) ([]*customRule, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the custom rules file the user named (Options.CustomRulesFile); reading it is the point
	if err != nil {
		return nil, fmt.Errorf("read custom rules: %w", err)
	}
	rules, err := parseCustomRules(path, data, c)
	if err != nil {
		return nil, fmt.Errorf("load custom rules: %w", err)
	}
	return rules, nil
}

func parseCustomRules(name string, data []byte, c *Catalog) ([]*customRule, error) {
	var cf customFile
	f, err := decodeYAML(name, data, &cf)
	if err != nil {
		return nil, err
	}
	if len(cf.Rules) == 0 {
		return nil, fmt.Errorf("%s: no rules (want a top-level rules: list)", name)
	}
	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("create CEL environment: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	var out []*customRule
	var errs []error
	ids := map[string]string{}
	for i, cr := range cf.Rules {
		r := Rule{
			ID: cr.ID, Title: cr.Title, Description: cr.Description, Service: cr.Service,
			Category: cr.Category, Severity: cr.Severity, Floor: cr.Floor,
			Remediation: cr.Remediation, References: cr.References, Tags: cr.Tags,
			Condition: cr.Condition, Source: f.itemPos("rules", i),
		}
		if r.Category == "" {
			r.Category = "custom"
		}
		if r.Remediation == nil {
			r.Remediation = map[string]string{}
		}
		if verrs := r.validate(true); len(verrs) > 0 {
			for _, err := range verrs {
				errs = append(errs, fmt.Errorf("%s: %w", r.Source, err))
			}
			continue
		}
		if _, ok := c.byID[r.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: rule %s: the ID is a catalog rule's; pick another", r.Source, r.ID))
			continue
		}
		if prev, ok := ids[r.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: rule %s: duplicate ID (first at %s)", r.Source, r.ID, prev))
			continue
		}
		ids[r.ID] = r.Source
		for _, ref := range cr.Compliance {
			fw, ctl, ok := strings.Cut(ref, ":")
			if _, known := c.control(fw, ctl); !ok || known == nil {
				errs = append(errs, fmt.Errorf("%s: rule %s: compliance %q: unknown control (want framework:control, e.g. nist-800-53:CM-7)", f.fieldPos("rules", i, "compliance"), r.ID, ref))
				continue
			}
			r.Compliance = append(r.Compliance, ComplianceRef{Framework: fw, Control: ctl})
		}
		ast, iss := env.Compile(r.Condition)
		if iss.Err() != nil {
			var condNode *yaml.Node
			if items := f.items("rules"); i < len(items) {
				condNode = mapValue(items[i], "condition")
			}
			for _, ce := range iss.Errors() {
				errs = append(errs, fmt.Errorf("%s: rule %s: condition: %s", celPos(name, lines, condNode, ce.Location.Line(), ce.Location.Column()), r.ID, ce.Message))
			}
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			errs = append(errs, fmt.Errorf("%s: rule %s: condition must be a bool expression, not %s", f.fieldPos("rules", i, "condition"), r.ID, ast.OutputType()))
			continue
		}
		prg, err := env.Program(ast, cel.CostLimit(1_000_000))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rule %s: condition: %w", f.fieldPos("rules", i, "condition"), r.ID, err))
			continue
		}
		out = append(out, &customRule{Rule: r, program: prg})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// celPos maps a position inside a condition (1-based line, 0-based column)
// to file:line:col, following how the YAML scalar is written: a block
// scalar (| or >) starts on the next line at its indentation; a plain or
// quoted scalar at the node's own column.
func celPos(name string, lines []string, n *yaml.Node, line, col int) string {
	if n == nil {
		return fmt.Sprintf("%s:%d:%d", name, line, col+1)
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		first := n.Line + 1 // the first content line (1-based)
		indent := 0
		for l := first; l <= len(lines); l++ {
			s := lines[l-1]
			if strings.TrimSpace(s) == "" {
				first++
				continue
			}
			indent = len(s) - len(strings.TrimLeft(s, " "))
			break
		}
		return fmt.Sprintf("%s:%d:%d", name, first+line-1, indent+col+1)
	}
	c := n.Column + col
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		c++
	}
	if line > 1 {
		return fmt.Sprintf("%s:%d:%d", name, n.Line+line-1, col+1)
	}
	return fmt.Sprintf("%s:%d:%d", name, n.Line, c)
}

// RuleError is a custom rule that failed while evaluating one exposure
// (a missing map key, a type error): reported, and the rule goes on with
// the other exposures.
type RuleError struct {
	RuleID     string `json:"ruleId"`
	Source     string `json:"source"`
	ExposureID string `json:"exposureId"`
	Target     string `json:"target"`
	Message    string `json:"message"`
}

func (e RuleError) Error() string {
	return fmt.Sprintf("%s: rule %s on exposure %s (%s): %s", e.Source, e.RuleID, e.ExposureID, e.Target, e.Message)
}

// eval runs a custom rule's condition on one exposure.
func (cr *customRule) eval(ce *CELExposure) (bool, error) {
	out, _, err := cr.program.Eval(map[string]any{"exposure": ce})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %s, not bool", out.Type().TypeName())
	}
	return b, nil
}
