package fix

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// supported says which layer kinds a fix may change: the firewalls whose
// rules the clouds' CLIs edit. Route tables, listeners, Azure Firewall
// DNAT and the stand-in layers for what the snapshot lacks are not
// offered.
func supported(l *exposure.Layer) bool {
	switch l.Kind {
	case exposure.LayerSecurityGroup, exposure.LayerNetworkACL, exposure.LayerNSG:
		return l.Provider == exposure.ProviderAWS || l.Provider == exposure.ProviderAzure
	case exposure.LayerFirewall:
		return l.Provider == exposure.ProviderGCP
	}
	return false
}

// candidates lists, per hop of the path, the change sets that would stop
// the hop admitting the traffic: revoke (or, with keep, narrow) every
// admitting rule of every admitting layer; narrow the admitting security
// group rules to the ports the exposure does not use; insert a deny ahead
// of the admitting rules of ordered layers. They are verified afterwards.
func candidates(hops []hopTraffic, keep *netipx.IPSet) [][]Change {
	var out [][]Change
	for _, ht := range hops {
		closing := ht
		if keep != nil && !ht.proxied {
			closing.sources = subtract(ht.sources, keep)
		}
		if empty(closing.sources) {
			continue
		}
		var adm []admitted
		ok := true
		for _, l := range ht.hop.Layers {
			if l == nil {
				continue
			}
			a := admitted{l: l}
			if l.Mode == exposure.Ordered {
				a.rules, a.dflt = firstMatch(l, closing.proto, closing.ports, closing.sources)
			} else {
				a.rules = admittingUnion(l, closing.proto, closing.ports, closing.sources)
			}
			if len(a.rules) == 0 && !a.dflt {
				continue
			}
			if l.Egress || !supported(l) {
				ok = false
				break
			}
			adm = append(adm, a)
		}
		if !ok || len(adm) == 0 {
			continue
		}

		// Revoke or narrow every admitting rule.
		var revoke []Change
		for _, a := range adm {
			cs, good := revokeLayer(a.l, closing, keep)
			if !good {
				revoke = nil
				break
			}
			revoke = append(revoke, cs...)
		}
		if len(revoke) > 0 {
			out = append(out, revoke)
		}

		// Narrow security-group rules to the ports the exposure does not
		// use, where a rule admits more ports than the exposure's.
		if keep == nil {
			var narrow []Change
			changed, groups := false, true
			for _, a := range adm {
				if a.l.Mode == exposure.Ordered || a.l.Kind != exposure.LayerSecurityGroup {
					groups = false
					break
				}
				for _, i := range a.rules {
					r := &a.l.Rules[i]
					rest := portsMinus(rulePorts(r, closing.proto), closing.ports)
					if r.Protocol == exposure.ProtocolAll || !r.Protocol.HasPorts() || len(rest) == 0 {
						narrow = append(narrow, ruleChange(a.l, r, ActionRevoke, sgEdit(a.l, r, opRevoke)))
						continue
					}
					e := sgEdit(a.l, r, opNarrowPorts)
					e.ports = rest
					c := ruleChange(a.l, r, ActionNarrow, e)
					c.Rule.NewPorts = rest
					narrow = append(narrow, c)
					changed = true
				}
			}
			if changed && groups {
				out = append(out, narrow)
			}
		}

		// Insert a deny where every admitting layer is ordered.
		if keep == nil {
			if cs := insertDeny(adm, closing); len(cs) > 0 {
				out = append(out, cs)
			}
		}
	}
	return out
}

// admitted is a layer of a hop with the rules that admit the traffic.
type admitted struct {
	l     *exposure.Layer
	rules []int
	dflt  bool
}

// sgEdit names one source of a security-group permission; other layers'
// rules are named by rule ID alone (an NSG or GCP rule, a NACL entry).
func sgEdit(l *exposure.Layer, r *exposure.Rule, op editOp) edit {
	e := edit{op: op, scope: l.Scope, layerID: l.ID, kind: l.Kind, ruleID: r.ID}
	if l.Kind == exposure.LayerSecurityGroup && len(r.SourceNames) == 1 {
		e.sourceName = r.SourceNames[0]
	}
	return e
}

func ruleChange(l *exposure.Layer, r *exposure.Rule, action string, e edit) Change {
	c := Change{
		Provider: l.Provider, Account: l.Account, Region: l.Region,
		Layer: l.Kind, Resource: l.ID, ResourceName: l.Name, Action: action,
		Rule: Rule{ID: r.ID, Action: r.Action.String(), Protocol: r.Protocol, Ports: r.Ports, Sources: r.SourceNames},
		edit: e,
	}
	if l.Mode == exposure.Ordered {
		c.Rule.Priority = r.Priority
	}
	if e.sourceName != "" {
		c.Rule.Sources = []string{e.sourceName}
	}
	return c
}

// revokeLayer revokes (or narrows to keep) the rules of l that admit the
// traffic. In an ordered layer, a revoked allow lets the traffic fall to
// the next rule, which may allow it too: the rules that then admit it are
// revoked as well, until the layer no longer admits it. ok is false when
// the layer's default admits it or a narrowed rule cannot be written.
func revokeLayer(l *exposure.Layer, ht hopTraffic, keep *netipx.IPSet) ([]Change, bool) {
	scratch := *l
	scratch.Rules = slices.Clone(l.Rules)
	var out []Change
	done := map[string]bool{}
	for range 16 {
		var idx []int
		dflt := false
		if scratch.Mode == exposure.Ordered {
			idx, dflt = firstMatch(&scratch, ht.proto, ht.ports, ht.sources)
		} else {
			idx = admittingUnion(&scratch, ht.proto, ht.ports, ht.sources)
		}
		if dflt {
			return nil, false
		}
		if len(idx) == 0 {
			return out, true
		}
		var edits []edit
		for _, i := range idx {
			r := scratch.Rules[i]
			e := sgEdit(&scratch, &r, opRevoke)
			k := e.ruleID + "\x00" + e.sourceName
			if done[k] {
				continue
			}
			done[k] = true
			action := ActionRevoke
			var c Change
			if keep != nil {
				if kept := intersect(r.Sources, keep); !empty(kept) {
					names := exposure.Addrs(kept)
					if l.Kind == exposure.LayerNetworkACL && len(names) != 1 {
						return nil, false // a NACL entry holds one CIDR
					}
					e.op, e.sources, e.names, action = opNarrowSources, kept, names, ActionNarrow
				}
			}
			c = ruleChange(l, &r, action, e)
			if e.op == opNarrowSources {
				c.Rule.NewSources = e.names
			}
			out = append(out, c)
			edits = append(edits, e)
		}
		if len(edits) == 0 {
			return nil, false // the same rules admit it again: a narrowed rule still admits
		}
		for _, e := range edits {
			applyLayer(&scratch, e)
		}
	}
	return nil, false
}

// portsMinus is prs without r.
func portsMinus(prs []exposure.PortRange, r exposure.PortRange) []exposure.PortRange {
	var out []exposure.PortRange
	for _, p := range prs {
		if !p.Overlaps(r) {
			out = append(out, p)
			continue
		}
		if p.From < r.From {
			out = append(out, exposure.PortRange{From: p.From, To: r.From - 1})
		}
		if p.To > r.To {
			out = append(out, exposure.PortRange{From: r.To + 1, To: p.To})
		}
	}
	return out
}

// insertDeny adds, in each admitting ordered layer, a deny for the
// traffic just ahead of the first rule that admits it: the NACL rule
// number just below, the NSG priority just below, a GCP firewall rule one
// priority higher (GCP evaluates deny first at equal priority, and a deny
// without target tags applies to the whole network).
func insertDeny(adm []admitted, ht hopTraffic) []Change {
	var out []Change
	networks := map[string]bool{}
	var ports []exposure.PortRange
	if ht.proto.HasPorts() || ht.proto.IsICMP() {
		if !ht.ports.IsAll() {
			ports = []exposure.PortRange{ht.ports}
		}
	}
	for _, a := range adm {
		l := a.l
		if l.Mode != exposure.Ordered || len(a.rules) == 0 && !a.dflt {
			return nil
		}
		// The first admitting rule (by tier and priority) and the
		// sources the admitting rules name.
		first := -1
		var names []string
		var sets []*netipx.IPSet
		for _, i := range a.rules {
			r := &l.Rules[i]
			if first < 0 || r.Tier < l.Rules[first].Tier || r.Tier == l.Rules[first].Tier && r.Priority < l.Rules[first].Priority {
				first = i
			}
			for _, n := range r.SourceNames {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			sets = append(sets, intersect(r.Sources, ht.sources))
		}
		if a.dflt || first < 0 {
			return nil // a default allow: no rule to get ahead of (AWS NACL defaults are rules)
		}
		fr := &l.Rules[first]
		used := map[int]bool{}
		for _, r := range l.Rules {
			if r.Tier == fr.Tier {
				used[r.Priority] = true
			}
		}
		mk := func(id string, prio int, srcNames []string, src *netipx.IPSet) exposure.Rule {
			return exposure.Rule{ID: id, Description: "inserted by portcullis explain --fix", Action: exposure.Deny,
				Tier: fr.Tier, Priority: prio, Protocol: ht.proto, Ports: ports, Sources: src, SourceNames: srcNames}
		}
		change := func(r exposure.Rule, e edit) Change {
			return Change{Provider: l.Provider, Account: l.Account, Region: l.Region, Layer: l.Kind, Resource: l.ID,
				ResourceName: l.Name, Action: ActionInsertDeny,
				Rule: Rule{ID: r.ID, Action: "deny", Priority: r.Priority, Protocol: r.Protocol, Ports: r.Ports, Sources: r.SourceNames}, edit: e}
		}
		base := edit{op: opInsert, scope: l.Scope, layerID: l.ID, kind: l.Kind}
		switch l.Kind {
		case exposure.LayerNetworkACL:
			// One entry per CIDR, each with its own free number below
			// the admitting entry's.
			n := fr.Priority - 1
			for _, name := range names {
				p, err := netip.ParsePrefix(name)
				if err != nil {
					return nil
				}
				for n >= 1 && used[n] {
					n--
				}
				if n < 1 {
					return nil
				}
				used[n] = true
				e := base
				e.rule = mk(strconv.Itoa(n), n, []string{name}, exposure.Sources(p))
				out = append(out, change(e.rule, e))
			}
		case exposure.LayerNSG:
			// Azure NSG priorities run from 100 to 4096 and are unique
			// within a direction.
			// https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules
			n := fr.Priority - 1
			for n >= 100 && used[n] {
				n--
			}
			if n < 100 {
				return nil
			}
			e := base
			e.rule = mk(denyName(ht.proto, ht.ports), n, names, union(sets...))
			out = append(out, change(e.rule, e))
		case exposure.LayerFirewall:
			// GCP: one network-wide deny ahead of every admitting rule of
			// the hop, whose layers are one per allow rule.
			// https://cloud.google.com/firewall/docs/firewalls#priority_order_for_firewall_rules
			network := l.Tags["network"]
			if network == "" {
				return nil
			}
			key := l.Account + "/" + network
			if networks[key] {
				continue
			}
			networks[key] = true
			prio, tier := fr.Priority, fr.Tier
			var allNames []string
			for _, b := range adm {
				if b.l.Account != l.Account || b.l.Tags["network"] != network {
					continue
				}
				for _, i := range b.rules {
					r := &b.l.Rules[i]
					if r.Tier != tier {
						return nil // admitted in different tiers: one deny cannot get ahead of both
					}
					prio = min(prio, r.Priority)
					for _, n := range r.SourceNames {
						if _, err := netip.ParsePrefix(n); err == nil && !slices.Contains(allNames, n) {
							allNames = append(allNames, n)
						}
					}
				}
			}
			if len(allNames) == 0 {
				return nil
			}
			var src []*netipx.IPSet
			for _, n := range allNames {
				src = append(src, exposure.Sources(netip.MustParsePrefix(n)))
			}
			e := base
			e.network = network
			e.rule = mk(denyName(ht.proto, ht.ports), max(prio-1, 0), allNames, union(src...))
			e.rule.Tier = tier
			c := change(e.rule, e)
			c.Resource, c.ResourceName = network, network
			out = append(out, c)
		default:
			return nil
		}
	}
	return out
}

// denyName names an inserted NSG or GCP firewall rule: lower-case letters,
// digits and hyphens, which both clouds accept.
func denyName(p exposure.Protocol, ports exposure.PortRange) string {
	s := "portcullis-deny-" + strings.ToLower(p.String())
	if (p.HasPorts() || p.IsICMP()) && !ports.IsAll() {
		s += "-" + ports.String()
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
