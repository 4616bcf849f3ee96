package iacplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// CloudFormation change sets: `aws cloudformation describe-change-set
// --include-property-values` prints each resource change with its
// properties before and after (BeforeContext, AfterContext: JSON strings)
// and writes values resolved only at execution as
// "{{changeSet:KNOWN_AFTER_APPLY}}". The stack's template resolves the
// references (Ref, Fn::GetAtt) between resources of the same change set.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-view.html

type cfnChangeSet struct {
	StackID    string `json:"StackId"`
	Parameters []struct {
		ParameterKey, ParameterValue, ResolvedValue string
	}
	Changes []struct {
		Type           string
		ResourceChange *struct {
			Action             string
			LogicalResourceId  string
			PhysicalResourceId string
			ResourceType       string
			Replacement        string
			BeforeContext      string
			AfterContext       string
		}
	}
}

// knownAfterApply is how a change set writes a value resolved only when
// it is executed.
const knownAfterApply = "{{changeSet:KNOWN_AFTER_APPLY}}"

// cfnTypes maps the CloudFormation types the overlay models to the
// Terraform type of the same meaning and the property translation.
var cfnTypes = map[string]struct {
	tf   string
	conv func(c *cfnConv, props map[string]any)
}{
	"AWS::EC2::SecurityGroupIngress": {"aws_security_group_rule", func(c *cfnConv, p map[string]any) {
		c.fixed("type", "ingress")
		c.rule(p, "SourceSecurityGroupId", "SourcePrefixListId")
		c.set("security_group_id", p["GroupId"])
	}},
	"AWS::EC2::SecurityGroupEgress": {"aws_security_group_rule", func(c *cfnConv, p map[string]any) {
		c.fixed("type", "egress")
		c.rule(p, "DestinationSecurityGroupId", "DestinationPrefixListId")
		c.set("security_group_id", p["GroupId"])
	}},
	"AWS::EC2::SecurityGroup": {"aws_security_group", func(c *cfnConv, p map[string]any) {
		c.set("vpc_id", p["VpcId"])
		c.set("name", p["GroupName"])
		c.set("description", p["GroupDescription"])
		c.blocks("ingress", p["SecurityGroupIngress"], func(b *cfnConv, r map[string]any) {
			b.rule(r, "SourceSecurityGroupId", "SourcePrefixListId")
		})
		c.blocks("egress", p["SecurityGroupEgress"], func(b *cfnConv, r map[string]any) {
			b.rule(r, "DestinationSecurityGroupId", "DestinationPrefixListId")
		})
	}},
	"AWS::EC2::SubnetRouteTableAssociation": {"aws_route_table_association", func(c *cfnConv, p map[string]any) {
		c.set("subnet_id", p["SubnetId"])
		c.set("route_table_id", p["RouteTableId"])
	}},
	"AWS::EC2::Route": {"aws_route", func(c *cfnConv, p map[string]any) {
		for cfn, tf := range map[string]string{
			"RouteTableId": "route_table_id", "DestinationCidrBlock": "destination_cidr_block",
			"DestinationIpv6CidrBlock": "destination_ipv6_cidr_block", "DestinationPrefixListId": "destination_prefix_list_id",
			"GatewayId": "gateway_id", "NatGatewayId": "nat_gateway_id", "TransitGatewayId": "transit_gateway_id",
			"VpcPeeringConnectionId": "vpc_peering_connection_id", "NetworkInterfaceId": "network_interface_id",
			"EgressOnlyInternetGatewayId": "egress_only_gateway_id", "VpcEndpointId": "vpc_endpoint_id",
		} {
			if v, ok := p[cfn]; ok {
				c.set(tf, v)
			}
		}
	}},
	"AWS::EC2::RouteTable": {"aws_route_table", func(c *cfnConv, p map[string]any) {
		c.set("vpc_id", p["VpcId"])
		// CloudFormation routes are AWS::EC2::Route resources: without a
		// route attribute the table keeps its routes (applyRouteTable).
	}},
	"AWS::EC2::NetworkAclEntry": {"aws_network_acl_rule", func(c *cfnConv, p map[string]any) {
		c.set("network_acl_id", p["NetworkAclId"])
		c.set("rule_number", p["RuleNumber"])
		c.set("egress", p["Egress"])
		c.set("protocol", p["Protocol"])
		c.set("rule_action", p["RuleAction"])
		c.set("cidr_block", p["CidrBlock"])
		c.set("ipv6_cidr_block", p["Ipv6CidrBlock"])
		if pr, ok := p["PortRange"].(map[string]any); ok {
			c.set("from_port", pr["From"])
			c.set("to_port", pr["To"])
		}
		if ic, ok := p["Icmp"].(map[string]any); ok {
			c.set("icmp_type", ic["Type"])
			c.set("icmp_code", ic["Code"])
		}
	}},
	"AWS::EC2::SubnetNetworkAclAssociation": {"aws_network_acl_association", func(c *cfnConv, p map[string]any) {
		c.set("subnet_id", p["SubnetId"])
		c.set("network_acl_id", p["NetworkAclId"])
	}},
	"AWS::EC2::InternetGateway": {"aws_internet_gateway", func(c *cfnConv, p map[string]any) {}},
	"AWS::EC2::VPCGatewayAttachment": {"aws_internet_gateway_attachment", func(c *cfnConv, p map[string]any) {
		c.set("internet_gateway_id", p["InternetGatewayId"])
		c.set("vpc_id", p["VpcId"])
	}},
	"AWS::EC2::EIP": {"aws_eip", func(c *cfnConv, p map[string]any) {
		c.set("instance", p["InstanceId"])
		c.unknown("public_ip")
	}},
	"AWS::EC2::EIPAssociation": {"aws_eip_association", func(c *cfnConv, p map[string]any) {
		c.set("allocation_id", p["AllocationId"])
		c.set("instance_id", p["InstanceId"])
		c.set("network_interface_id", p["NetworkInterfaceId"])
	}},
}

// ParseChangeSet reads a change set described with
// --include-property-values, and optionally the stack's template (JSON or
// YAML, short-form tags included).
func ParseChangeSet(r io.Reader, template []byte) (*Plan, error) {
	var cs cfnChangeSet
	if err := json.NewDecoder(io.LimitReader(r, maxPlanBytes)).Decode(&cs); err != nil {
		return nil, fmt.Errorf("decode change set: %w", err)
	}
	if cs.Changes == nil {
		return nil, errors.New("decode change set: no Changes: not the output of aws cloudformation describe-change-set")
	}
	var tmpl map[string]any
	if len(template) > 0 {
		var err error
		if tmpl, err = parseTemplate(template); err != nil {
			return nil, err
		}
	}
	p := &Plan{Source: CloudFormation}
	// arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
	if parts := strings.Split(cs.StackID, ":"); len(parts) >= 6 {
		p.Region, p.Account = parts[3], parts[4]
	}
	res := &cfnResolver{params: map[string]string{}, physical: map[string]string{}, added: map[string]bool{}}
	for _, pr := range cs.Parameters {
		v := pr.ParameterValue
		if pr.ResolvedValue != "" {
			v = pr.ResolvedValue
		}
		res.params[pr.ParameterKey] = v
	}
	if tr, ok := tmpl["Resources"].(map[string]any); ok {
		res.template = tr
	}
	for _, c := range cs.Changes {
		rc := c.ResourceChange
		if c.Type != "Resource" || rc == nil {
			continue
		}
		if rc.Action == "Add" {
			res.added[rc.LogicalResourceId] = true
		} else if rc.PhysicalResourceId != "" {
			res.physical[rc.LogicalResourceId] = rc.PhysicalResourceId
		}
	}
	for i, c := range cs.Changes {
		x := c.ResourceChange
		if c.Type != "Resource" || x == nil {
			continue
		}
		if x.LogicalResourceId == "" || x.ResourceType == "" {
			return nil, fmt.Errorf("change set Changes[%d]: no LogicalResourceId or ResourceType", i)
		}
		out := &ResourceChange{Address: x.LogicalResourceId, NativeType: x.ResourceType, Type: x.ResourceType, refs: map[string][]string{}}
		switch x.Action {
		case "Add":
			out.Action = Create
		case "Modify":
			out.Action = Update
			if x.Replacement == "True" {
				out.Action = Replace
			}
		case "Remove":
			out.Action = Delete
		default: // Import, Dynamic, SyncWithActual: nothing the overlay can apply
			out.Type = "cloudformation:" + x.Action
			p.Changes = append(p.Changes, out)
			continue
		}
		spec, ok := cfnTypes[x.ResourceType]
		if !ok {
			p.Changes = append(p.Changes, out)
			continue
		}
		out.Type = spec.tf
		conv := func(ctx string, useTemplate bool) (Value, bool, error) {
			props, known := map[string]any{}, false
			if ctx != "" {
				var doc struct{ Properties map[string]any }
				if err := json.Unmarshal([]byte(ctx), &doc); err != nil {
					return Value{}, false, fmt.Errorf("change set %s: decode context: %w", x.LogicalResourceId, err)
				}
				props, known = doc.Properties, true
			}
			if useTemplate {
				if tr, _ := res.template[x.LogicalResourceId].(map[string]any); tr != nil {
					tp, _ := tr["Properties"].(map[string]any)
					props = overlayTemplate(props, tp)
					known = true
				}
			}
			if props == nil {
				props = map[string]any{}
			}
			cv := &cfnConv{res: res, v: map[string]any{}, u: map[string]any{}, refs: out.refs}
			spec.conv(cv, props)
			return Value{V: cv.v, U: cv.u}, known, nil
		}
		if out.Action != Create {
			v, known, err := conv(x.BeforeContext, false)
			if err != nil {
				return nil, err
			}
			if !known {
				return nil, fmt.Errorf("change set %s: no BeforeContext: describe the change set with --include-property-values", x.LogicalResourceId)
			}
			v.V["id"] = x.PhysicalResourceId
			out.Before = v
		}
		if out.Action != Delete {
			v, known, err := conv(x.AfterContext, true)
			if err != nil {
				return nil, err
			}
			if !known {
				return nil, fmt.Errorf("change set %s: no AfterContext and no template: describe the change set with --include-property-values, or pass --template", x.LogicalResourceId)
			}
			if out.Action == Create {
				v.U.(map[string]any)["id"] = true
			} else {
				v.V["id"] = x.PhysicalResourceId
			}
			out.After = v
		}
		p.Changes = append(p.Changes, out)
	}
	return p, nil
}

// overlayTemplate fills the properties the change set left unknown (or
// left out) from the template, whose references the resolver can follow.
func overlayTemplate(props, tmpl map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range tmpl {
		out[k] = v
	}
	for k, v := range props {
		if s, ok := v.(string); ok && s == knownAfterApply {
			if _, ok := tmpl[k]; ok {
				continue
			}
		}
		out[k] = v
	}
	return out
}

type cfnResolver struct {
	params   map[string]string
	physical map[string]string // logical ID → physical ID, for resources that exist
	added    map[string]bool   // logical IDs the change set creates
	template map[string]any
}

// resolve returns a property's value: a plain value, a Ref or GetAtt of
// an existing resource or a parameter resolved, or unknown with the
// planned resources it refers to.
func (r *cfnResolver) resolve(v any) (val any, unknown bool, refs []string) {
	switch x := v.(type) {
	case string:
		if x == knownAfterApply {
			return nil, true, nil
		}
		return x, false, nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			if p, ok := r.params[ref]; ok {
				return p, false, nil
			}
			if id, ok := r.physical[ref]; ok {
				return id, false, nil
			}
			return nil, true, []string{ref}
		}
		if ga, ok := x["Fn::GetAtt"]; ok {
			var logical, attr string
			switch g := ga.(type) {
			case []any:
				if len(g) == 2 {
					logical, _ = g[0].(string)
					attr, _ = g[1].(string)
				}
			case string:
				logical, attr, _ = strings.Cut(g, ".")
			}
			// GroupId, AllocationId and the like of an existing resource
			// are its physical ID for the EC2 types modelled here.
			if id, ok := r.physical[logical]; ok && (strings.HasSuffix(attr, "Id") || attr == "Id") {
				return id, false, nil
			}
			return nil, true, []string{logical}
		}
		for k := range x {
			if strings.HasPrefix(k, "Fn::") {
				return nil, true, nil
			}
		}
		return x, false, nil
	}
	return v, false, nil
}

// cfnConv builds Terraform-shaped attributes from CloudFormation
// properties.
type cfnConv struct {
	res    *cfnResolver
	v, u   map[string]any
	refs   map[string][]string
	prefix string
}

func (c *cfnConv) fixed(name string, v any) { c.v[name] = v }
func (c *cfnConv) unknown(name string)      { c.u[name] = true }

func (c *cfnConv) set(name string, cfn any) {
	if cfn == nil {
		return
	}
	val, unknown, refs := c.res.resolve(cfn)
	if len(refs) > 0 {
		c.refs[c.prefix+name] = append(c.refs[c.prefix+name], refs...)
	}
	if unknown {
		c.u[name] = true
		return
	}
	switch x := val.(type) {
	case string, bool, float64, int, int64:
		c.v[name] = x
	case []any:
		list, ul := []any{}, []any{}
		anyUnknown := false
		for _, e := range x {
			ev, eu, er := c.res.resolve(e)
			if len(er) > 0 {
				c.refs[c.prefix+name] = append(c.refs[c.prefix+name], er...)
			}
			list, ul = append(list, ev), append(ul, eu)
			anyUnknown = anyUnknown || eu
		}
		c.v[name] = list
		if anyUnknown {
			c.u[name] = ul
		}
	}
}

// setList sets a one-element list attribute (cidr_blocks) from a single
// CloudFormation property (CidrIp).
func (c *cfnConv) setList(name string, cfn any) {
	if cfn == nil {
		return
	}
	c.set(name, []any{cfn})
}

// rule translates one security-group rule's properties.
func (c *cfnConv) rule(p map[string]any, groupProp, plProp string) {
	c.set("protocol", p["IpProtocol"])
	c.set("from_port", p["FromPort"])
	c.set("to_port", p["ToPort"])
	c.setList("cidr_blocks", p["CidrIp"])
	c.setList("ipv6_cidr_blocks", p["CidrIpv6"])
	c.setList("prefix_list_ids", p[plProp])
	if c.prefix == "" {
		c.set("source_security_group_id", p[groupProp])
	} else {
		c.setList("security_groups", p[groupProp])
	}
	c.set("description", p["Description"])
}

func (c *cfnConv) blocks(name string, cfn any, each func(*cfnConv, map[string]any)) {
	list, ok := cfn.([]any)
	if !ok {
		if _, unknown, _ := c.res.resolve(cfn); unknown {
			c.u[name] = true
		}
		return
	}
	vs, us := []any{}, []any{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		b := &cfnConv{res: c.res, v: map[string]any{}, u: map[string]any{}, refs: c.refs, prefix: name + "."}
		each(b, m)
		vs, us = append(vs, b.v), append(us, b.u)
	}
	c.v[name], c.u[name] = vs, us
}

// parseTemplate reads a JSON or YAML template; YAML short-form tags
// (!Ref X, !GetAtt A.B, !Sub …) become their long form.
func parseTemplate(b []byte) (map[string]any, error) {
	var out map[string]any
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("decode template: %w", err)
		}
		return out, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	v, err := yamlValue(&n)
	if err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	out, _ = v.(map[string]any)
	if out == nil {
		return nil, errors.New("decode template: not a mapping")
	}
	return out, nil
}

func yamlValue(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			val, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	default:
		var s any
		if err := n.Decode(&s); err != nil {
			s = n.Value
		}
		if strings.HasPrefix(n.Tag, "!") {
			s = n.Value
		}
		v = s
		// Keep numbers as JSON would decode them.
		switch x := s.(type) {
		case int:
			v = float64(x)
		}
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn := strings.TrimPrefix(n.Tag, "!")
		switch fn {
		case "Ref":
			return map[string]any{"Ref": v}, nil
		case "GetAtt":
			if s, ok := v.(string); ok {
				l, a, _ := strings.Cut(s, ".")
				return map[string]any{"Fn::GetAtt": []any{l, a}}, nil
			}
			return map[string]any{"Fn::GetAtt": v}, nil
		default:
			return map[string]any{"Fn::" + fn: v}, nil
		}
	}
	return v, nil
}
