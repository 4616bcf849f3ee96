package iacplan

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Azure NSGs: azurerm_network_security_group (security_rule blocks) and
// azurerm_network_security_rule, written into the subscription's
// network-security-groups.json (the ARM list response, {"value": […]},
// docs/providers/azure.md). Only subscriptions the snapshot holds are
// changed.

const fileNSGs = "network-security-groups.json"

func (s *snapshot) azureSubscriptions() []string {
	if s.base == nil {
		return nil
	}
	ents, err := fs.ReadDir(s.base, exposure.ProviderAzure)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// azureSubscription finds the subscription of a change: from a resource
// ID, else the snapshot's only one.
func (a *applier) azureSubscription(ids ...string) (string, error) {
	for _, id := range ids {
		parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
		if len(parts) > 1 && strings.EqualFold(parts[0], "subscriptions") {
			if !a.snap.hasDir(path.Join(exposure.ProviderAzure, parts[1])) {
				return "", fmt.Errorf("the snapshot has no Azure subscription %s", parts[1])
			}
			return parts[1], nil
		}
	}
	if subs := a.snap.azureSubscriptions(); len(subs) == 1 {
		return subs[0], nil
	}
	return "", errors.New("cannot tell the Azure subscription (the snapshot has not exactly one)")
}

// nsgs returns the subscription's NSG list document.
func (a *applier) nsgs(sub string) (map[string]any, []any) {
	p := path.Join(exposure.ProviderAzure, sub, fileNSGs)
	v, _ := a.snap.file(p)
	doc, _ := v.(map[string]any)
	if doc == nil {
		doc = map[string]any{}
	}
	list, _ := doc["value"].([]any)
	a.snap.setFile(p, doc)
	return doc, list
}

func findNSG(list []any, rg, name string) map[string]any {
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		id, _ := m["id"].(string)
		if strings.EqualFold(fmt.Sprint(m["name"]), name) && strings.Contains(strings.ToLower(id), "/resourcegroups/"+strings.ToLower(rg)+"/") {
			return m
		}
	}
	return nil
}

func nsgID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/networkSecurityGroups/" + name
}

// azureRule reads one rule (a security_rule block or an
// azurerm_network_security_rule); unknown values are read widest.
func (a *applier) azureRule(v Value, nsg string) (map[string]any, []string) {
	var notes []string
	wide := func(what string) {
		notes = append(notes, a.widest(nsg, what))
		a.widest(strings.ToLower(nsg), what)
	}
	props := map[string]any{"provisioningState": "Succeeded"}
	str := func(tf, arm, widest string) {
		s, known := v.Str(tf)
		if !known {
			s = widest
			if widest != "" {
				wide(tf + " read as " + widest)
			}
		}
		if s != "" {
			props[arm] = s
		}
	}
	list := func(tf, arm, widest string) {
		vals, unknown := v.Strs(tf)
		if unknown && widest != "" {
			vals = append(vals, widest)
			wide(tf + " read as " + widest)
		}
		if len(vals) > 0 {
			l := []any{}
			for _, x := range vals {
				l = append(l, x)
			}
			props[arm] = l
		}
	}
	str("protocol", "protocol", "*")
	str("access", "access", "Allow")
	str("direction", "direction", "Inbound")
	str("description", "description", "")
	prio, _, pk := v.Int("priority")
	if !pk {
		prio = 100
		wide("priority read as 100 (evaluated first)")
	}
	props["priority"] = prio
	str("source_port_range", "sourcePortRange", "*")
	list("source_port_ranges", "sourcePortRanges", "")
	str("destination_port_range", "destinationPortRange", "*")
	list("destination_port_ranges", "destinationPortRanges", "")
	str("source_address_prefix", "sourceAddressPrefix", "*")
	list("source_address_prefixes", "sourceAddressPrefixes", "0.0.0.0/0")
	str("destination_address_prefix", "destinationAddressPrefix", "*")
	list("destination_address_prefixes", "destinationAddressPrefixes", "")
	for _, k := range [][2]string{{"source_application_security_group_ids", "sourceApplicationSecurityGroups"}, {"destination_application_security_group_ids", "destinationApplicationSecurityGroups"}} {
		ids, _ := v.Strs(k[0])
		if len(ids) > 0 {
			l := []any{}
			for _, id := range ids {
				l = append(l, map[string]any{"id": id})
			}
			props[k[1]] = l
		}
	}
	// A rule needs one source and one destination form; the ranges and
	// prefixes lists replace the single ones when given.
	if _, ok := props["sourcePortRanges"]; ok {
		delete(props, "sourcePortRange")
	}
	if _, ok := props["destinationPortRanges"]; ok {
		delete(props, "destinationPortRange")
	}
	if _, ok := props["sourceAddressPrefixes"]; ok {
		delete(props, "sourceAddressPrefix")
	}
	if _, ok := props["sourceApplicationSecurityGroups"]; ok {
		delete(props, "sourceAddressPrefix")
	}
	if _, ok := props["destinationAddressPrefixes"]; ok {
		delete(props, "destinationAddressPrefix")
	}
	if _, ok := props["destinationApplicationSecurityGroups"]; ok {
		delete(props, "destinationAddressPrefix")
	}
	name, _ := v.Str("name")
	return map[string]any{"name": name, "id": nsg + "/securityRules/" + name,
		"type": "Microsoft.Network/networkSecurityGroups/securityRules", "properties": props}, notes
}

func nsgRules(nsg map[string]any) (map[string]any, []any) {
	props, _ := nsg["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		nsg["properties"] = props
	}
	rules, _ := props["securityRules"].([]any)
	return props, rules
}

func applyAzureNSG(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	v := after
	if v == nil {
		v = before
	}
	rg, _ := v.Str("resource_group_name")
	name, nk := v.Str("name")
	if !nk || name == "" || rg == "" {
		return "", nil, errors.New("name or resource_group_name known after apply")
	}
	id, _ := v.Str("id")
	sub, err := a.azureSubscription(id)
	if err != nil {
		return "", nil, err
	}
	if id == "" {
		id = nsgID(sub, rg, name)
	}
	doc, list := a.nsgs(sub)
	nsg := findNSG(list, rg, name)
	if after == nil {
		var keep []any
		for _, e := range list {
			if m, _ := e.(map[string]any); m != nil && nsg != nil && m["id"] == nsg["id"] {
				continue
			}
			keep = append(keep, e)
		}
		if keep == nil {
			keep = []any{}
		}
		doc["value"] = keep
		return id, nil, nil
	}
	if nsg == nil {
		loc, _ := after.Str("location")
		nsg = map[string]any{"name": name, "id": id, "type": "Microsoft.Network/networkSecurityGroups", "location": loc,
			"properties": map[string]any{"provisioningState": "Succeeded", "securityRules": []any{}}}
		doc["value"] = append(list, nsg)
	} else if s, _ := nsg["id"].(string); s != "" {
		id = s
	}
	props, _ := nsgRules(nsg)
	blocks, unknown := after.Blocks("security_rule")
	var notes []string
	rules := []any{}
	if unknown {
		return "", nil, errors.New("security_rule known after apply: the group's rules are unknown")
	}
	for _, b := range blocks {
		r, n := a.azureRule(b, id)
		notes = append(notes, n...)
		rules = append(rules, r)
	}
	props["securityRules"] = rules
	return id, dedupe(notes), nil
}

func applyAzureNSGRule(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	v := after
	if v == nil {
		v = before
	}
	rg, _ := v.Str("resource_group_name")
	group, gk := v.Str("network_security_group_name")
	if !gk || group == "" || rg == "" {
		return "", nil, errors.New("network_security_group_name or resource_group_name known after apply")
	}
	rid, _ := v.Str("id")
	sub, err := a.azureSubscription(rid)
	if err != nil {
		return "", nil, err
	}
	_, list := a.nsgs(sub)
	nsg := findNSG(list, rg, group)
	if nsg == nil {
		return "", nil, fmt.Errorf("network security group %s/%s is not in the snapshot", rg, group)
	}
	id, _ := nsg["id"].(string)
	props, rules := nsgRules(nsg)
	drop := func(name string) {
		var keep []any
		for _, e := range rules {
			if m, _ := e.(map[string]any); m != nil && strings.EqualFold(fmt.Sprint(m["name"]), name) {
				continue
			}
			keep = append(keep, e)
		}
		rules = keep
	}
	if before != nil {
		n, _ := before.Str("name")
		drop(n)
	}
	var notes []string
	if after != nil {
		n, _ := after.Str("name")
		drop(n)
		r, ns := a.azureRule(*after, id)
		notes = ns
		rules = append(rules, r)
	}
	if rules == nil {
		rules = []any{}
	}
	props["securityRules"] = rules
	return id, dedupe(notes), nil
}
