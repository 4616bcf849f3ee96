package iacplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Terraform's JSON plan representation, as `terraform show -json PLAN`
// prints it (format_version 1.x). Only what the overlay needs is decoded;
// unknown fields are ignored, as the format's compatibility promise asks
// of readers of minor versions.
// https://developer.hashicorp.com/terraform/internals/json-format
type tfPlan struct {
	FormatVersion   string `json:"format_version"`
	ResourceChanges []struct {
		Address       string `json:"address"`
		ModuleAddress string `json:"module_address"`
		Mode          string `json:"mode"`
		Type          string `json:"type"`
		Name          string `json:"name"`
		Change        struct {
			Actions      []string       `json:"actions"`
			Before       map[string]any `json:"before"`
			After        map[string]any `json:"after"`
			AfterUnknown any            `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
	Configuration struct {
		ProviderConfig map[string]struct {
			Name        string                     `json:"name"`
			Expressions map[string]json.RawMessage `json:"expressions"`
		} `json:"provider_config"`
		RootModule tfModule `json:"root_module"`
	} `json:"configuration"`
}

type tfModule struct {
	Resources []struct {
		Address     string                     `json:"address"`
		Mode        string                     `json:"mode"`
		Expressions map[string]json.RawMessage `json:"expressions"`
	} `json:"resources"`
	ModuleCalls map[string]struct {
		Module tfModule `json:"module"`
	} `json:"module_calls"`
}

// maxPlanBytes bounds what is read: plans of large estates are tens of
// megabytes.
const maxPlanBytes = 512 << 20

// ParseTerraform reads the output of `terraform show -json PLANFILE`.
// Data sources and no-op, read and forget actions change nothing and are
// left out; replace (["delete","create"] or ["create","delete"]) is one
// Replace change.
func ParseTerraform(r io.Reader) (*Plan, error) {
	var tp tfPlan
	dec := json.NewDecoder(io.LimitReader(r, maxPlanBytes))
	if err := dec.Decode(&tp); err != nil {
		return nil, fmt.Errorf("decode terraform plan: %w", err)
	}
	if tp.FormatVersion == "" {
		return nil, errors.New("decode terraform plan: no format_version: not the output of terraform show -json")
	}
	if major, _, _ := strings.Cut(tp.FormatVersion, "."); major != "1" {
		return nil, fmt.Errorf("terraform plan format_version %q: only 1.x is supported", tp.FormatVersion)
	}
	refs := map[string]map[string][]string{}
	collectModuleRefs("", tp.Configuration.RootModule, refs)
	p := &Plan{Source: Terraform}
	accounts := map[string]bool{}
	if pc, ok := tp.Configuration.ProviderConfig["aws"]; ok {
		var e struct {
			ConstantValue any `json:"constant_value"`
		}
		if raw, ok := pc.Expressions["region"]; ok && json.Unmarshal(raw, &e) == nil {
			if s, ok := e.ConstantValue.(string); ok {
				p.Region = s
			}
		}
	}
	for i, c := range tp.ResourceChanges {
		if c.Mode == "data" {
			continue
		}
		if c.Address == "" || c.Type == "" {
			return nil, fmt.Errorf("terraform plan resource_changes[%d]: no address or type", i)
		}
		var a Action
		switch strings.Join(c.Change.Actions, ",") {
		case "create":
			a = Create
		case "update":
			a = Update
		case "delete":
			a = Delete
		case "delete,create", "create,delete":
			a = Replace
		case "no-op", "read", "forget", "":
			continue
		default:
			return nil, fmt.Errorf("terraform plan %s: unknown actions %v", c.Address, c.Change.Actions)
		}
		rc := &ResourceChange{Address: c.Address, Type: c.Type, NativeType: c.Type, Action: a}
		if a != Create && c.Change.Before != nil {
			rc.Before = Value{V: c.Change.Before}
		}
		if a != Delete {
			rc.After = Value{V: c.Change.After, U: c.Change.AfterUnknown}
			if rc.After.V == nil {
				rc.After.V = map[string]any{}
			}
		}
		rc.refs = refs[configAddress(c.Address)]
		p.Changes = append(p.Changes, rc)
		for _, v := range []map[string]any{c.Change.Before, c.Change.After} {
			if arn, _ := v["arn"].(string); strings.HasPrefix(arn, "arn:") {
				if parts := strings.Split(arn, ":"); len(parts) > 4 && parts[4] != "" {
					accounts[parts[4]] = true
				}
			}
		}
	}
	// The plan names its account only through the ARNs of resources that
	// exist; when they all agree, that is the account.
	if len(accounts) == 1 {
		for k := range accounts {
			p.Account = k
		}
	}
	return p, nil
}

// configAddress drops instance keys: the configuration describes
// "module.a.aws_x.y", the plan "module.a[0].aws_x.y[1]".
func configAddress(addr string) string {
	var b strings.Builder
	depth := 0
	for _, r := range addr {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// collectModuleRefs records, per resource of a module and its calls, the
// resources each attribute expression refers to.
func collectModuleRefs(prefix string, m tfModule, out map[string]map[string][]string) {
	for _, r := range m.Resources {
		if r.Mode == "data" {
			continue
		}
		attrs := map[string][]string{}
		for name, raw := range r.Expressions {
			collectExprRefs(prefix, name, raw, attrs)
		}
		out[prefix+r.Address] = attrs
	}
	for name, call := range m.ModuleCalls {
		collectModuleRefs(prefix+"module."+name+".", call.Module, out)
	}
}

// collectExprRefs reads one expression, or a nested block (an object of
// expressions, or a list of them), recording references under name and,
// for a block's attributes, "name.attr".
func collectExprRefs(prefix, name string, raw json.RawMessage, attrs map[string][]string) {
	var expr struct {
		References []string `json:"references"`
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		_, isExpr := obj["references"]
		_, isConst := obj["constant_value"]
		if isExpr || isConst || len(obj) == 0 {
			_ = json.Unmarshal(raw, &expr)
			for _, ref := range expr.References {
				if a := resourceRef(prefix, ref); a != "" && !contains(attrs[name], a) {
					attrs[name] = append(attrs[name], a)
				}
			}
			return
		}
		for k, v := range obj {
			sub := map[string][]string{}
			collectExprRefs(prefix, k, v, sub)
			for _, refs := range sub {
				for _, a := range refs {
					if !contains(attrs[name+"."+k], a) {
						attrs[name+"."+k] = append(attrs[name+"."+k], a)
					}
					if !contains(attrs[name], a) {
						attrs[name] = append(attrs[name], a)
					}
				}
			}
		}
		return
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, e := range list {
			collectExprRefs(prefix, name, e, attrs)
		}
	}
}

// resourceRef turns a reference ("aws_security_group.web.id",
// "aws_subnet.a[0].id") into the resource's address, or "" when it is not
// a managed resource of this module (var., local., data., module. …).
func resourceRef(prefix, ref string) string {
	parts := strings.SplitN(ref, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	switch parts[0] {
	case "var", "local", "each", "count", "path", "terraform", "self":
		// Known at plan time: a value unknown despite them comes from
		// something else the expression refers to.
		return ""
	case "data", "module":
		// A data source read at apply or a module output: a reference,
		// but not to a planned resource the overlay can follow.
		return "?" + prefix + ref
	}
	return prefix + parts[0] + "." + parts[1]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
