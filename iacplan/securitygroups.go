package iacplan

import (
	"fmt"
	"slices"
	"strings"
)

// Security groups: aws_security_group (with its ingress and egress
// blocks), aws_security_group_rule and aws_vpc_security_group_*_rule,
// written as the IpPermissions of ec2-describe-security-groups.json.

const fileSGs = "ec2-describe-security-groups.json"

// sgRule is one rule in the form every Terraform rule resource reduces to.
type sgRule struct {
	egress             bool
	proto              string
	from, to           int64
	hasPorts           bool
	cidrs, cidrs6, pls []string
	groups             []string
	description        string
}

// protoName is the IpProtocol the API writes: tcp, udp, icmp, icmpv6 or
// -1 for all; other protocol numbers stay numbers.
func protoName(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "-1", "all", "":
		return "-1"
	case "6", "tcp":
		return "tcp"
	case "17", "udp":
		return "udp"
	case "1", "icmp":
		return "icmp"
	case "58", "icmpv6":
		return "icmpv6"
	}
	return strings.ToLower(p)
}

// readRule reads a rule from Terraform attributes. names maps the
// meaning to the attribute name (they differ between the resources).
// Unknown values are read widest: any protocol, every port, the whole
// internet, and the returned notes say so.
func (a *applier) readRule(rc *ResourceChange, v Value, refPrefix string, names map[string]string, group string) (sgRule, []string) {
	var r sgRule
	var notes []string
	wide := func(what string) { notes = append(notes, a.widest(group, what)) }
	if s, known := v.Str(names["protocol"]); known {
		r.proto = protoName(s)
	} else {
		r.proto = "-1"
		wide("protocol read as all")
	}
	if r.proto != "-1" {
		from, fset, fk := v.Int(names["from"])
		to, tset, tk := v.Int(names["to"])
		switch {
		case !fk || !tk:
			from, to = 0, 65535
			if r.proto == "icmp" || r.proto == "icmpv6" {
				from, to = -1, -1
			}
			wide("ports read as all")
		case !fset && !tset:
			from, to = -1, -1
		}
		r.from, r.to, r.hasPorts = from, to, true
	}
	list := func(name, widest string) []string {
		if name == "" {
			return nil
		}
		vals, unknown := v.Strs(name)
		if unknown {
			wide(name + " read as " + widest)
			return append(vals, widest)
		}
		return vals
	}
	r.cidrs = list(names["cidrs"], "0.0.0.0/0")
	r.cidrs6 = list(names["cidrs6"], "::/0")
	if n := names["pls"]; n != "" {
		vals, unknown := v.Strs(n)
		r.pls = vals
		if unknown {
			// A prefix list unknown until apply may hold any address.
			r.cidrs = append(r.cidrs, "0.0.0.0/0")
			r.cidrs6 = append(r.cidrs6, "::/0")
			wide(n + " read as the whole internet")
		}
	}
	if n := names["groups"]; n != "" {
		ids, unresolved := a.refIDs(rc, v, n, refPrefix+n)
		r.groups = ids
		if unresolved && len(rc.Refs(refPrefix+n)) > 0 {
			// A group reference admits instances, never the internet:
			// leaving an unresolvable one out narrows nothing internet-wide.
			// (Without a reference the attribute is merely computed.)
			notes = append(notes, n+" known after apply and not a planned resource: left out (group references admit no internet source)")
		}
	}
	if n := names["self"]; n != "" {
		if self, _, _ := v.Bool(n); self {
			r.groups = append(r.groups, group)
		}
	}
	r.description, _ = v.Str("description")
	return r, notes
}

func (r sgRule) permission() map[string]any {
	p := map[string]any{"IpProtocol": r.proto}
	if r.hasPorts {
		p["FromPort"], p["ToPort"] = r.from, r.to
	}
	ranges := []any{}
	for _, c := range r.cidrs {
		ranges = append(ranges, map[string]any{"CidrIp": c})
	}
	ranges6 := []any{}
	for _, c := range r.cidrs6 {
		ranges6 = append(ranges6, map[string]any{"CidrIpv6": c})
	}
	pls := []any{}
	for _, c := range r.pls {
		pls = append(pls, map[string]any{"PrefixListId": c})
	}
	pairs := []any{}
	for _, g := range r.groups {
		pairs = append(pairs, map[string]any{"GroupId": g})
	}
	p["IpRanges"], p["Ipv6Ranges"], p["PrefixListIds"], p["UserIdGroupPairs"] = ranges, ranges6, pls, pairs
	return p
}

func permKey(p map[string]any) string {
	num := func(k string) string {
		if f, ok := p[k].(float64); ok {
			return fmt.Sprint(int64(f))
		}
		if i, ok := p[k].(int64); ok {
			return fmt.Sprint(i)
		}
		return "-"
	}
	proto, _ := p["IpProtocol"].(string)
	proto = protoName(proto)
	if proto == "-1" {
		return proto
	}
	return proto + "/" + num("FromPort") + "/" + num("ToPort")
}

// revoke removes a rule's sources from a group's permissions; it reports
// whether anything matched.
func revoke(sg map[string]any, r sgRule) bool {
	field := "IpPermissions"
	if r.egress {
		field = "IpPermissionsEgress"
	}
	perms, _ := sg[field].([]any)
	key := permKey(r.permission())
	matched := false
	var keep []any
	for _, e := range perms {
		p, ok := e.(map[string]any)
		if !ok || permKey(p) != key {
			keep = append(keep, e)
			continue
		}
		drop := func(list, field string, vals []string) {
			items, _ := p[list].([]any)
			var out []any
			for _, it := range items {
				m, _ := it.(map[string]any)
				if s, _ := m[field].(string); m != nil && slices.Contains(vals, s) {
					matched = true
					continue
				}
				out = append(out, it)
			}
			p[list] = out
		}
		drop("IpRanges", "CidrIp", r.cidrs)
		drop("Ipv6Ranges", "CidrIpv6", r.cidrs6)
		drop("PrefixListIds", "PrefixListId", r.pls)
		drop("UserIdGroupPairs", "GroupId", r.groups)
		empty := true
		for _, l := range []string{"IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"} {
			if items, _ := p[l].([]any); len(items) > 0 {
				empty = false
			}
		}
		if !empty {
			keep = append(keep, p)
		}
	}
	if keep == nil {
		keep = []any{}
	}
	sg[field] = keep
	return matched
}

func authorize(sg map[string]any, r sgRule) {
	field := "IpPermissions"
	if r.egress {
		field = "IpPermissionsEgress"
	}
	perms, _ := sg[field].([]any)
	sg[field] = append(perms, r.permission())
}

var blockNames = map[string]string{
	"protocol": "protocol", "from": "from_port", "to": "to_port", "cidrs": "cidr_blocks",
	"cidrs6": "ipv6_cidr_blocks", "pls": "prefix_list_ids", "groups": "security_groups", "self": "self",
}

func applySecurityGroup(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		id, _ := before.Str("id")
		r := a.regionOf(id)
		if r == nil || !r.remove(fileSGs, "GroupId", id) {
			return id, []string{"not in the snapshot: nothing to delete"}, nil
		}
		// Interfaces cannot keep a deleted group; AWS refuses the delete
		// while one does, so the same plan must detach it.
		for _, eni := range r.items(fileENIs) {
			groups, _ := eni["Groups"].([]any)
			var keep []any
			for _, g := range groups {
				if m, _ := g.(map[string]any); m != nil && m["GroupId"] == id {
					continue
				}
				keep = append(keep, g)
			}
			if len(keep) != len(groups) {
				eni["Groups"] = keep
				r.touch(fileENIs)
			}
		}
		return id, nil, nil
	}
	id := a.newID(rc)
	r, vpcID, err := a.inVPC(rc, *after, id)
	if err != nil {
		return "", nil, err
	}
	sg := r.find(fileSGs, "GroupId", id)
	if sg == nil {
		name, _ := after.Str("name")
		desc, _ := after.Str("description")
		sg = map[string]any{"GroupId": id, "GroupName": name, "Description": desc, "VpcId": vpcID, "OwnerId": r.account}
		r.add(fileSGs, sg)
	}
	sg["Tags"] = tagList(*after)
	var notes []string
	for _, dir := range []string{"ingress", "egress"} {
		field := map[string]string{"ingress": "IpPermissions", "egress": "IpPermissionsEgress"}[dir]
		blocks, unknown := after.Blocks(dir)
		perms := []any{}
		switch {
		case unknown && dir == "egress":
			// Egress is computed when not configured (AWS's default
			// allow-all rule) and never decides ingress: groups are
			// stateful.
			perms = append(perms, sgRule{proto: "-1", cidrs: []string{"0.0.0.0/0"}}.permission())
		case unknown:
			notes = append(notes, a.widest(id, "ingress read as all traffic from the whole internet"))
			perms = append(perms, sgRule{proto: "-1", cidrs: []string{"0.0.0.0/0"}, cidrs6: []string{"::/0"}}.permission())
		}
		for _, b := range blocks {
			rule, n := a.readRule(rc, b, dir+".", blockNames, id)
			rule.egress = dir == "egress"
			notes = append(notes, n...)
			perms = append(perms, rule.permission())
		}
		sg[field] = perms
	}
	r.touch(fileSGs)
	return id, dedupe(notes), nil
}

var ruleNames = map[string]string{
	"protocol": "protocol", "from": "from_port", "to": "to_port", "cidrs": "cidr_blocks",
	"cidrs6": "ipv6_cidr_blocks", "pls": "prefix_list_ids", "groups": "source_security_group_id", "self": "self",
}

var vpcRuleNames = map[string]string{
	"protocol": "ip_protocol", "from": "from_port", "to": "to_port", "cidrs": "cidr_ipv4",
	"cidrs6": "cidr_ipv6", "pls": "prefix_list_id", "groups": "referenced_security_group_id",
}

func applySecurityGroupRule(a *applier, rc *ResourceChange) (string, []string, error) {
	return applyRuleResource(a, rc, ruleNames, func(v Value) bool { t, _ := v.Str("type"); return t == "egress" })
}

func applyVPCSecurityGroupRule(a *applier, rc *ResourceChange) (string, []string, error) {
	return applyRuleResource(a, rc, vpcRuleNames, func(Value) bool { return rc.Type == "aws_vpc_security_group_egress_rule" })
}

// applyRuleResource revokes the before rule and authorizes the after one.
func applyRuleResource(a *applier, rc *ResourceChange, names map[string]string, egress func(Value) bool) (string, []string, error) {
	before, after := beforeAfter(rc)
	var notes []string
	var group string
	if before != nil {
		group, _ = before.Str("security_group_id")
		r := a.regionOf(group)
		sg := (*region)(nil).nilSafeFind(r, fileSGs, "GroupId", group)
		if sg == nil {
			notes = append(notes, "group "+group+" not in the snapshot: nothing to revoke")
		} else {
			rule, _ := a.readRule(rc, *before, "", names, group)
			rule.egress = egress(*before)
			if !revoke(sg, rule) {
				notes = append(notes, "the rule was not in the snapshot's group: nothing revoked")
			}
			r.touch(fileSGs)
		}
	}
	if after != nil {
		g, ok := a.refID(rc, *after, "security_group_id", "security_group_id")
		if !ok {
			return "", nil, fmt.Errorf("security_group_id known after apply and not a planned group")
		}
		group = g
		r := a.regionOf(group)
		sg := (*region)(nil).nilSafeFind(r, fileSGs, "GroupId", group)
		if sg == nil {
			return group, nil, fmt.Errorf("security group %s is neither in the snapshot nor planned", group)
		}
		a.setRegion(rc, r)
		rule, n := a.readRule(rc, *after, "", names, group)
		rule.egress = egress(*after)
		notes = append(notes, n...)
		authorize(sg, rule)
		r.touch(fileSGs)
	}
	return group, dedupe(notes), nil
}

// nilSafeFind finds an object in a region that may be nil.
func (*region) nilSafeFind(r *region, file, field, id string) map[string]any {
	if r == nil {
		return nil
	}
	return r.find(file, field, id)
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
