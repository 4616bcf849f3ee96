// Package iacplan checks an infrastructure change before it is applied,
// the way Portcullis audits an estate: along the whole path. It reads a
// Terraform plan (`terraform show -json`) or a CloudFormation change set,
// applies the planned creates, updates and deletes of the network
// resources the exposure model knows onto an in-memory copy of a snapshot
// (an fs.FS serving modified describe-*.json files), and, once the caller
// has audited the snapshot before and after, reports the difference: what
// the change newly exposes, widens, narrows or closes.
//
// The package never calls a cloud and never audits: the caller (the CLI)
// runs audit.Run on Overlay.Base and Overlay.Planned and hands the two
// reports to Compare.
package iacplan

import (
	"fmt"
	"slices"
	"strings"
)

// Action is what a plan does to one resource.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Replace Action = "replace"
)

// Source says which tool wrote a plan.
type Source string

const (
	Terraform      Source = "terraform"
	CloudFormation Source = "cloudformation"
)

// Plan is a parsed infrastructure change: the resource changes in the
// plan's order, in the shape of Terraform's AWS provider attributes
// (CloudFormation change sets are translated into the same shape).
type Plan struct {
	Source  Source
	Changes []*ResourceChange
	// Region and Account are what the plan itself says about where it
	// applies (the Terraform AWS provider's region, a stack ARN); empty
	// when it does not say.
	Region, Account string
}

// ResourceChange is one planned change of one resource.
type ResourceChange struct {
	// Address names the resource in the plan: "aws_security_group.web",
	// "module.net.aws_route_table_association.a[0]", or a CloudFormation
	// logical ID.
	Address string
	// Type is the Terraform resource type ("aws_security_group"); for a
	// CloudFormation change it is the equivalent Terraform type, and
	// NativeType keeps "AWS::EC2::SecurityGroupIngress".
	Type, NativeType string
	Action           Action
	// Before and After are the resource's attributes before and after the
	// change (nil for a create or a delete respectively).
	Before, After Value
	// refs maps an attribute name (top-level, or "block.attr") to the
	// addresses of the resources its configuration expression refers to:
	// how a value unknown until apply is tied to another planned resource.
	refs map[string][]string
}

// Value is an attribute tree of a resource with the parts unknown until
// apply: V holds the known values (JSON-decoded), U mirrors it with true
// where a value is "(known after apply)" (Terraform's after_unknown).
type Value struct {
	V map[string]any
	U any
}

// IsZero says whether there are no attributes at all.
func (v Value) IsZero() bool { return v.V == nil && v.U == nil }

// unknownAt descends the unknown tree by a key or an index.
func unknownAt(u any, k any) any {
	switch x := u.(type) {
	case bool:
		if x {
			return true
		}
	case map[string]any:
		if s, ok := k.(string); ok {
			return x[s]
		}
	case []any:
		if i, ok := k.(int); ok && i >= 0 && i < len(x) {
			return x[i]
		}
	}
	return nil
}

func isTrue(u any) bool { b, ok := u.(bool); return ok && b }

// Unknown says whether attribute name is unknown until apply.
func (v Value) Unknown(name string) bool { return isTrue(unknownAt(v.U, name)) }

// Str returns a string attribute and whether it is known (absent or null
// counts as known and empty).
func (v Value) Str(name string) (string, bool) {
	if v.Unknown(name) {
		return "", false
	}
	switch x := v.V[name].(type) {
	case string:
		return x, true
	case float64:
		return fmt.Sprint(x), true
	case bool:
		return fmt.Sprint(x), true
	}
	return "", true
}

// Int returns a number attribute (ports, rule numbers) and whether it is
// known; strings holding numbers are accepted (CloudFormation).
func (v Value) Int(name string) (int64, bool, bool) {
	if v.Unknown(name) {
		return 0, false, false
	}
	switch x := v.V[name].(type) {
	case float64:
		return int64(x), true, true
	case string:
		var n int64
		if _, err := fmt.Sscan(x, &n); err == nil {
			return n, true, true
		}
	}
	return 0, false, true
}

// Bool returns a boolean attribute: its value, whether it is set, and
// whether it is known.
func (v Value) Bool(name string) (val, set, known bool) {
	if v.Unknown(name) {
		return false, false, false
	}
	switch x := v.V[name].(type) {
	case bool:
		return x, true, true
	case string:
		return strings.EqualFold(x, "true"), true, true
	}
	return false, false, true
}

// Strs returns a list (or set) of strings: the known elements, and
// whether any element (or the whole list) is unknown.
func (v Value) Strs(name string) (known []string, unknown bool) {
	u := unknownAt(v.U, name)
	if isTrue(u) {
		return nil, true
	}
	switch x := v.V[name].(type) {
	case []any:
		for i, e := range x {
			if isTrue(unknownAt(u, i)) {
				unknown = true
				continue
			}
			if s, ok := e.(string); ok && s != "" {
				known = append(known, s)
			}
		}
	case string:
		if x != "" {
			known = append(known, x)
		}
	}
	return known, unknown
}

// Blocks returns the nested blocks of a list- or set-typed block (e.g. a
// security group's ingress), and whether the whole list is unknown.
func (v Value) Blocks(name string) ([]Value, bool) {
	u := unknownAt(v.U, name)
	if isTrue(u) {
		return nil, true
	}
	var out []Value
	if xs, ok := v.V[name].([]any); ok {
		for i, e := range xs {
			m, _ := e.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			out = append(out, Value{V: m, U: unknownAt(u, i)})
		}
	}
	return out, false
}

// Refs returns the addresses of the planned resources attribute attr's
// expression refers to.
func (rc *ResourceChange) Refs(attr string) []string { return rc.refs[attr] }

// String names the change for messages: "create aws_security_group.web".
func (rc *ResourceChange) String() string { return string(rc.Action) + " " + rc.Address }

// byAddress finds a planned change by address; with count or for_each a
// reference names the resource without the index, so "aws_eip.x"
// matches "aws_eip.x[0]" when it is the only instance (or the instance
// with the referring resource's own index).
func (p *Plan) byAddress(addr, index string) *ResourceChange {
	var cands []*ResourceChange
	for _, rc := range p.Changes {
		if rc.Address == addr {
			return rc
		}
		if strings.HasPrefix(rc.Address, addr+"[") {
			cands = append(cands, rc)
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	if index != "" {
		if i := slices.IndexFunc(cands, func(rc *ResourceChange) bool { return rc.Address == addr+index }); i >= 0 {
			return cands[i]
		}
	}
	return nil
}

// indexOf returns the instance key of an address ("[0]", `["a"]`), or "".
func indexOf(addr string) string {
	if strings.HasSuffix(addr, "]") {
		if i := strings.LastIndex(addr, "["); i >= 0 {
			return addr[i:]
		}
	}
	return ""
}
