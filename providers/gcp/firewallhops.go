package gcp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Firewall hops and layers: the compiled rules (firewall.go) that apply to
// an interface become its firewall hop, and every allow rule a latent layer.

// firewallHop builds the hop that GCP's firewall makes in front of
// network interface n: every rule that applies to n (targets, network,
// region), in evaluation order, and the implied ingress deny.
//
// The rules form one Ordered evaluation. It is given to the analysis as
// one Ordered layer per applicable allow rule, each holding that allow
// rule and every applicable deny and goto_next rule (with their tiers and
// priorities): traffic passes the full ordered list exactly when some allow
// rule is the first to decide it, which is exactly when it passes that
// allow rule's layer, so the hop (a union) admits what the full list
// admits. Each layer carries its allow rule's ID, the same ID as the
// rule's own latent layer in Inventory.Layers, so what a rule delivers to
// a live target is not reported again as latent, and what it admits
// nowhere (a tag no instance carries, a hierarchical deny above it) is.
// Layers are shared between interfaces with the same applicable rules.
func (e *estate) firewallHop(n *nic) exposure.Hop {
	ni := e.networks[n.network]
	if ni == nil {
		e.unknownNetwork(n)
		return exposure.Hop{Layers: []*exposure.Layer{e.unknownLayer(n.network, "network not in the snapshot (Shared VPC host project not collected?)")}}
	}
	if ni.unknown != "" {
		return exposure.Hop{Layers: []*exposure.Layer{e.unknownLayer(ni.key, ni.unknown)}}
	}
	type applied struct {
		tier int
		r    *compiledRule
	}
	var rs []applied
	for i, pol := range ni.hierarchy {
		for _, r := range pol {
			if r.appliesTo(n) {
				rs = append(rs, applied{i, r})
			}
		}
	}
	vpcTier, globalTier, regionalTier := tierNetworkBase, tierNetworkBase+1, tierNetworkBase+2
	if strings.EqualFold(ni.order, "BEFORE_CLASSIC_FIREWALL") {
		globalTier, regionalTier, vpcTier = tierNetworkBase, tierNetworkBase+1, tierNetworkBase+2
	}
	for _, r := range ni.vpc {
		if r.appliesTo(n) {
			rs = append(rs, applied{vpcTier, r})
		}
	}
	for _, r := range ni.global {
		if r.appliesTo(n) {
			rs = append(rs, applied{globalTier, r})
		}
	}
	for _, r := range ni.regional[n.inst.region] {
		if r.appliesTo(n) {
			rs = append(rs, applied{regionalTier, r})
		}
	}
	var key, blockKey strings.Builder
	key.WriteString(ni.key)
	blockKey.WriteString(ni.key)
	var blockers []exposure.Rule
	for _, a := range rs {
		fmt.Fprintf(&key, "|%d:%d", a.tier, a.r.uid)
		if a.r.action != exposure.Allow {
			fmt.Fprintf(&blockKey, "|%d:%d", a.tier, a.r.uid)
			blockers = append(blockers, a.r.rules(a.tier)...)
		}
	}
	if h, ok := e.hops[key.String()]; ok {
		return h
	}
	var h exposure.Hop
	for _, a := range rs {
		if a.r.action != exposure.Allow {
			continue
		}
		// Interfaces whose rule sets differ only in other allow rules
		// share this rule's layer.
		lk := fmt.Sprintf("%s#%d:%d", blockKey.String(), a.tier, a.r.uid)
		if l, ok := e.layers[lk]; ok {
			h.Layers = append(h.Layers, l)
			continue
		}
		rules := append(append([]exposure.Rule{}, blockers...), a.r.rules(a.tier)...)
		sort.SliceStable(rules, func(i, j int) bool {
			x, y := rules[i], rules[j]
			if x.Tier != y.Tier {
				return x.Tier < y.Tier
			}
			return x.Priority < y.Priority
		})
		l := &exposure.Layer{
			Scope: exposure.Scope{Provider: Provider, Account: a.r.project},
			ID:    a.r.id, Kind: a.r.kind(), Name: a.r.name, Mode: exposure.Ordered, Default: exposure.Deny,
			Latent: true, Attached: true, Rules: rules,
			Tags: map[string]string{"network": ni.name, "level": a.r.level},
		}
		e.layers[lk] = l
		h.Layers = append(h.Layers, l)
	}
	e.hops[key.String()] = h
	return h
}

// unknownNetwork reports an interface in a network that is not in the
// snapshot (a Shared VPC host project that was not collected): its rules
// are unknown, so its hop admits nothing, and the gap is reported once.
func (e *estate) unknownNetwork(n *nic) {
	if e.unknown[n.network] {
		return
	}
	e.unknown[n.network] = true
	e.n.errorf(n.inst.project, n.inst.region, n.network,
		"network of instance %s is not in the snapshot (Shared VPC host project not collected?): its firewall rules are unknown and nothing is inferred through them", n.inst.inst.Name)
}

// unknownLayer returns the one placeholder of a network's firewall whose
// rules could not be read (see exposure.Layer.Unknown).
func (e *estate) unknownLayer(network, why string) *exposure.Layer {
	k := "unknown " + network
	if l := e.layers[k]; l != nil {
		return l
	}
	proj := network
	if rest, ok := strings.CutPrefix(network, "projects/"); ok {
		proj, _, _ = strings.Cut(rest, "/")
	}
	l := exposure.UnknownLayer(exposure.Scope{Provider: Provider, Account: proj}, "firewall of "+network, exposure.LayerFirewall, why)
	e.layers[k] = l
	return l
}

// latentLayers adds one AllowUnion layer per allow rule — VPC firewall
// rule or firewall policy rule — so that what each rule admits from the
// internet on its own is judged, as CIS GCP 3.6 and 3.7 judge rules,
// whether or not an instance carries its target tag today.
func (e *estate) latentLayers() {
	seen := map[string]bool{}
	for _, ni := range e.sortedNetworks() {
		var all []*compiledRule
		for _, pol := range ni.hierarchy {
			all = append(all, pol...)
		}
		all = append(all, ni.vpc...)
		all = append(all, ni.global...)
		for _, region := range sortedKeys(ni.regional) {
			all = append(all, ni.regional[region]...)
		}
		for _, r := range all {
			if r.action != exposure.Allow || seen[r.id] {
				continue
			}
			seen[r.id] = true
			attached := false
			for _, n := range ni.members {
				if n.inst.live && r.appliesTo(n) {
					attached = true
					break
				}
			}
			tags := map[string]string{"level": r.level}
			if r.level != levelHierarchy {
				// Hierarchical rules apply to many networks.
				tags["network"] = ni.name
			}
			if len(r.targetTags) > 0 {
				tags["targetTags"] = strings.Join(r.targetTags, ",")
			}
			if len(r.targetSAs) > 0 {
				tags["targetServiceAccounts"] = strings.Join(r.targetSAs, ",")
			}
			rules := r.rules(0)
			for i := range rules {
				rules[i].Tier, rules[i].Priority = 0, 0
			}
			e.n.inv.Layers = append(e.n.inv.Layers, &exposure.Layer{
				Scope: exposure.Scope{Provider: Provider, Account: r.project},
				ID:    r.id, Kind: r.kind(), Name: r.name, Mode: exposure.AllowUnion,
				Latent: true, Rules: rules, Attached: attached, Tags: tags,
			})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
