package iacplan

import (
	"fmt"
	"strings"
)

// Network ACLs: aws_network_acl (with ingress and egress blocks and
// subnet_ids), aws_network_acl_rule and aws_network_acl_association,
// written as the Entries and Associations of ec2-describe-network-acls.json.

// aclProto is the protocol number string the API writes in entries.
func aclProto(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "-1", "all", "":
		return "-1"
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	case "icmpv6":
		return "58"
	}
	return p
}

func aclEntry(num int64, proto, action string, egress bool, cidr, cidr6 string, ports, icmp *[2]int64) map[string]any {
	e := map[string]any{"RuleNumber": num, "Protocol": proto, "RuleAction": action, "Egress": egress}
	if cidr != "" {
		e["CidrBlock"] = cidr
	}
	if cidr6 != "" {
		e["Ipv6CidrBlock"] = cidr6
	}
	if ports != nil {
		e["PortRange"] = map[string]any{"From": ports[0], "To": ports[1]}
	}
	if icmp != nil {
		e["IcmpTypeCode"] = map[string]any{"Type": icmp[0], "Code": icmp[1]}
	}
	return e
}

// readACLEntry reads a NACL rule; unknown values are read widest: allow,
// every protocol and port, the whole internet.
func (a *applier) readACLEntry(v Value, names map[string]string, egress bool, acl string) (map[string]any, []string) {
	var notes []string
	wide := func(what string) { notes = append(notes, a.widest(acl, what)) }
	num, _, nk := v.Int(names["num"])
	if !nk {
		num = 1
		wide(names["num"] + " read as 1 (evaluated first)")
	}
	action, ak := v.Str(names["action"])
	if !ak {
		action = "allow"
		wide(names["action"] + " read as allow")
	}
	ps, pk := v.Str("protocol")
	proto := aclProto(ps)
	if !pk {
		proto = "-1"
		wide("protocol read as all")
	}
	cidr, ck := v.Str("cidr_block")
	cidr6, c6k := v.Str("ipv6_cidr_block")
	if !ck {
		cidr = "0.0.0.0/0"
		wide("cidr_block read as 0.0.0.0/0")
	}
	if !c6k {
		cidr6 = "::/0"
		wide("ipv6_cidr_block read as ::/0")
	}
	var ports, icmp *[2]int64
	switch proto {
	case "6", "17":
		from, _, fk := v.Int("from_port")
		to, _, tk := v.Int("to_port")
		if !fk || !tk {
			from, to = 0, 65535
			wide("ports read as all")
		}
		ports = &[2]int64{from, to}
	case "1", "58":
		t, tset, tk := v.Int("icmp_type")
		c, cset, ck := v.Int("icmp_code")
		if !tk || !tset {
			t = -1
		}
		if !ck || !cset {
			c = -1
		}
		icmp = &[2]int64{t, c}
	}
	return aclEntry(num, proto, strings.ToLower(action), egress, cidr, cidr6, ports, icmp), notes
}

var aclBlockNames = map[string]string{"num": "rule_no", "action": "action"}
var aclRuleNames = map[string]string{"num": "rule_number", "action": "rule_action"}

// associateACL moves a subnet to a NACL (a subnet has exactly one).
func associateACL(r *region, acl map[string]any, subnet string) {
	for _, other := range r.items(fileACLs) {
		assocs, _ := other["Associations"].([]any)
		var keep []any
		for _, e := range assocs {
			if m, _ := e.(map[string]any); m != nil && m["SubnetId"] == subnet {
				continue
			}
			keep = append(keep, e)
		}
		if keep == nil {
			keep = []any{}
		}
		other["Associations"] = keep
	}
	if acl != nil {
		assocs, _ := acl["Associations"].([]any)
		acl["Associations"] = append(assocs, map[string]any{"SubnetId": subnet, "NetworkAclId": acl["NetworkAclId"]})
	}
	r.touch(fileACLs)
}

func applyNetworkACL(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		id, _ := before.Str("id")
		if r := a.regionOf(id); r != nil {
			// Its subnets go back to the VPC's default NACL, which the
			// normalizer uses for subnets without an association.
			r.remove(fileACLs, "NetworkAclId", id)
		}
		return id, nil, nil
	}
	id := a.newID(rc)
	r, vpcID, err := a.inVPC(rc, *after, id)
	if err != nil {
		return "", nil, err
	}
	acl := r.find(fileACLs, "NetworkAclId", id)
	if acl == nil {
		acl = map[string]any{"NetworkAclId": id, "VpcId": vpcID, "IsDefault": false, "Associations": []any{}}
		r.add(fileACLs, acl)
	}
	var notes []string
	// The * rules (32767, and 32768 for IPv6) end every NACL.
	entries := []any{
		aclEntry(32767, "-1", "deny", false, "0.0.0.0/0", "", nil, nil),
		aclEntry(32767, "-1", "deny", true, "0.0.0.0/0", "", nil, nil),
		aclEntry(32768, "-1", "deny", false, "", "::/0", nil, nil),
		aclEntry(32768, "-1", "deny", true, "", "::/0", nil, nil),
	}
	for _, dir := range []string{"ingress", "egress"} {
		blocks, unknown := after.Blocks(dir)
		if unknown {
			notes = append(notes, a.widest(id, dir+" read as allow all"))
			entries = append(entries, aclEntry(1, "-1", "allow", dir == "egress", "0.0.0.0/0", "", nil, nil),
				aclEntry(2, "-1", "allow", dir == "egress", "", "::/0", nil, nil))
		}
		for _, b := range blocks {
			e, n := a.readACLEntry(b, aclBlockNames, dir == "egress", id)
			notes = append(notes, n...)
			// A block with both families is two entries in the API.
			if e["CidrBlock"] != nil && e["Ipv6CidrBlock"] != nil {
				e6 := map[string]any{}
				for k, v := range e {
					e6[k] = v
				}
				delete(e, "Ipv6CidrBlock")
				delete(e6, "CidrBlock")
				entries = append(entries, e6)
			}
			entries = append(entries, e)
		}
	}
	acl["Entries"] = entries
	acl["Tags"] = tagList(*after)
	if subnets, unresolved := a.refIDs(rc, *after, "subnet_ids", "subnet_ids"); true {
		if unresolved {
			notes = append(notes, "subnet_ids known after apply and not planned subnets: those associations are left out")
		}
		if before != nil {
			old, _ := before.Strs("subnet_ids")
			for _, s := range old {
				if !contains(subnets, s) {
					associateACL(r, nil, s)
				}
			}
		}
		for _, s := range subnets {
			associateACL(r, acl, s)
		}
	}
	r.touch(fileACLs)
	return id, dedupe(notes), nil
}

func applyNetworkACLRule(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	var notes []string
	var aclID string
	if before != nil {
		aclID, _ = before.Str("network_acl_id")
		if r := a.regionOf(aclID); r != nil {
			acl := r.find(fileACLs, "NetworkAclId", aclID)
			num, _, _ := before.Int("rule_number")
			egress, _, _ := before.Bool("egress")
			removeACLEntry(acl, num, egress)
			r.touch(fileACLs)
		}
	}
	if after != nil {
		id, ok := a.refID(rc, *after, "network_acl_id", "network_acl_id")
		if !ok {
			return "", nil, fmt.Errorf("network_acl_id known after apply and not a planned network ACL")
		}
		aclID = id
		r := a.regionOf(aclID)
		if r == nil {
			return aclID, nil, fmt.Errorf("network ACL %s is neither in the snapshot nor planned", aclID)
		}
		a.setRegion(rc, r)
		acl := r.find(fileACLs, "NetworkAclId", aclID)
		egress, _, ek := after.Bool("egress")
		if !ek {
			notes = append(notes, "egress known after apply: read as ingress")
		}
		e, n := a.readACLEntry(*after, aclRuleNames, egress, aclID)
		notes = append(notes, n...)
		num, _ := e["RuleNumber"].(int64)
		removeACLEntry(acl, num, egress)
		entries, _ := acl["Entries"].([]any)
		acl["Entries"] = append(entries, e)
		r.touch(fileACLs)
	}
	return aclID, dedupe(notes), nil
}

func removeACLEntry(acl map[string]any, num int64, egress bool) {
	if acl == nil {
		return
	}
	entries, _ := acl["Entries"].([]any)
	var keep []any
	for _, e := range entries {
		m, _ := e.(map[string]any)
		if m != nil && toInt(m["RuleNumber"]) == num && m["Egress"] == egress && num < 32767 {
			continue
		}
		keep = append(keep, e)
	}
	if keep == nil {
		keep = []any{}
	}
	acl["Entries"] = keep
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	}
	return -1
}

func applyNetworkACLAssociation(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if before != nil {
		subnet, _ := before.Str("subnet_id")
		acl, _ := before.Str("network_acl_id")
		if r := a.regionOf(acl); r != nil && after == nil {
			associateACL(r, nil, subnet)
		}
	}
	if after == nil {
		acl, _ := before.Str("network_acl_id")
		return acl, nil, nil
	}
	aclID, ok := a.refID(rc, *after, "network_acl_id", "network_acl_id")
	if !ok {
		return "", nil, fmt.Errorf("network_acl_id known after apply and not a planned network ACL")
	}
	subnet, ok := a.refID(rc, *after, "subnet_id", "subnet_id")
	if !ok {
		return "", nil, fmt.Errorf("subnet_id known after apply and not a planned subnet")
	}
	r := a.regionOf(aclID)
	if r == nil {
		return aclID, nil, fmt.Errorf("network ACL %s is neither in the snapshot nor planned", aclID)
	}
	a.setRegion(rc, r)
	associateACL(r, r.find(fileACLs, "NetworkAclId", aclID), subnet)
	return aclID, nil, nil
}
