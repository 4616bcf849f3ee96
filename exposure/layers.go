package exposure

import "sort"

// ephemeral is the port range a client's replies come back to. AWS
// documents 1024-65535 as the range a NACL must allow for replies to reach
// every kind of client (Linux uses 32768-60999, Windows 49152-65535, NAT
// gateways 1024-65535):
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html#nacl-ephemeral-ports
var ephemeral = PortRange{1024, 65535}

// layerEval is a layer's evaluation: what it admits as a hop, and for
// evidence, what each of its rules admitted, indexed by protocol.
type layerEval struct {
	admits  *trafficSet
	contrib []contribution
	atoms   map[Protocol][]atom
}

// contribution is what one rule admitted: the rule's own item in an
// AllowUnion layer, what was still undecided when it matched (ts) in an
// Ordered or Egress layer.
type contribution struct {
	rule *Rule // nil for an Ordered layer's default allow
	it   item
	ts   *trafficSet
}

// atom is one port segment a rule admitted. Its Evidence is built only if
// an exposure shows it.
type atom struct {
	ports PortRange
	set   addrSet
	rule  *Rule
}

func (a *analyzer) layer(l *Layer) *layerEval {
	if ev, ok := a.layers[l]; ok {
		return ev
	}
	var ev *layerEval
	if l.Mode == Ordered {
		ev = a.evalOrdered(l)
	} else {
		ev = a.evalUnion(l)
	}
	if l.Egress {
		if l.Mode != Ordered {
			ev.contrib = a.unionContrib(l)
		}
		ev = replies(ev)
	}
	ev.atoms = map[Protocol][]atom{}
	a.layers[l] = ev
	if l.Latent && !l.Egress {
		a.latentIDs[l.ID] = true
		if l.LatentByRule {
			a.byRule[l.ID] = true
		}
	}
	return ev
}

// eachAtom calls f for what each rule of l admitted for p on ports
// overlapping within, as port segments. An AllowUnion layer's rules are
// their own atoms, and a rule whose ports miss within costs no set lookup;
// the segments of Ordered and Egress layers are built once and kept.
func (a *analyzer) eachAtom(l *Layer, p Protocol, within PortRange, f func(ports PortRange, set addrSet, r *Rule)) {
	if l.Mode != Ordered && !l.Egress {
		for i := range l.Rules {
			r := &l.Rules[i]
			if r.Action != Allow || (r.Protocol != p && r.Protocol != ProtocolAll) || r.Sources == nil {
				continue
			}
			probe := item{proto: r.Protocol, ports: r.Ports}
			prs := probe.portsFor(p)
			hit := false
			for _, pr := range prs {
				if pr.Overlaps(within) {
					hit = true
					break
				}
			}
			if !hit || !validRule(r) {
				continue
			}
			set := a.set(r.Sources)
			if len(set) == 0 {
				continue
			}
			for _, pr := range prs {
				if pr.Overlaps(within) {
					f(pr, set, r)
				}
			}
		}
		return
	}
	for _, at := range a.atomsFor(l, p) {
		if at.ports.From > within.To {
			break // atoms are sorted by their first port
		}
		if at.ports.Overlaps(within) {
			f(at.ports, at.set, at.rule)
		}
	}
}

// atomsFor lists what each rule of an Ordered or Egress layer admitted
// for p.
func (a *analyzer) atomsFor(l *Layer, p Protocol) []atom {
	ev := a.layer(l)
	if at, ok := ev.atoms[p]; ok {
		return at
	}
	at := make([]atom, 0, len(ev.contrib))
	for _, c := range ev.contrib {
		if c.ts == nil {
			if c.it.proto == p || c.it.proto == ProtocolAll {
				for _, r := range c.it.portsFor(p) {
					at = append(at, atom{r, c.it.set, c.rule})
				}
			}
			continue
		}
		m := c.ts.get(p)
		for i, s := range m.sets {
			if len(s) > 0 {
				at = append(at, atom{PortRange{m.starts[i], m.end(i)}, s, c.rule})
			}
		}
	}
	sort.SliceStable(at, func(i, j int) bool { return at[i].ports.From < at[j].ports.From })
	ev.atoms[p] = at
	return at
}

func validRule(r *Rule) bool {
	for _, p := range r.Ports {
		if p.From > p.To {
			return false
		}
	}
	return true
}

func (a *analyzer) ruleItem(r *Rule) item {
	return item{proto: r.Protocol, ports: r.Ports, set: a.set(r.Sources)}
}

// evalUnion builds what an AllowUnion layer admits. Its rules are their
// own evidence atoms (eachAtom reads them from the layer), so nothing per
// rule is kept: a million rules cost no per-rule memory here.
func (a *analyzer) evalUnion(l *Layer) *layerEval {
	items := a.items[:0]
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Action != Allow || !validRule(r) {
			continue
		}
		if it := a.ruleItem(r); len(it.set) > 0 {
			items = append(items, it)
		}
	}
	ev := &layerEval{admits: a.sw.build(items)}
	clear(items)
	a.items = items[:0]
	return ev
}

// unionContrib lists the contributions of an AllowUnion layer's rules (for
// Egress layers, which convert them).
func (a *analyzer) unionContrib(l *Layer) []contribution {
	var out []contribution
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Action != Allow || !validRule(r) {
			continue
		}
		if it := a.ruleItem(r); len(it.set) > 0 {
			out = append(out, contribution{rule: r, it: it})
		}
	}
	return out
}

// actionRank orders rules of equal priority: deny first ("deny wins" in
// GCP firewall rules), then goto_next, then allow.
func actionRank(a Action) int {
	switch a {
	case Deny:
		return 0
	case Next:
		return 1
	}
	return 2
}

// EvaluationOrder returns the indices of an ordered layer's valid rules
// (Rule.Valid) in the order the analysis evaluates them: by tier, then
// priority, then deny before goto_next before allow at equal priority,
// the layer's own order breaking ties.
func (l *Layer) EvaluationOrder() []int {
	order := make([]int, 0, len(l.Rules))
	for i := range l.Rules {
		if validRule(&l.Rules[i]) {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		x, y := &l.Rules[order[i]], &l.Rules[order[j]]
		if x.Tier != y.Tier {
			return x.Tier < y.Tier
		}
		if x.Priority != y.Priority {
			return x.Priority < y.Priority
		}
		return actionRank(x.Action) < actionRank(y.Action)
	})
	return order
}

// Valid reports whether every port range of r is well formed; the analysis
// never evaluates a rule that is not.
func (r *Rule) Valid() bool { return validRule(r) }

func (a *analyzer) evalOrdered(l *Layer) *layerEval {
	order := l.EvaluationOrder()
	ev := &layerEval{admits: emptyTraffic()}
	undecided := allTraffic(anyAS)
	var open *trafficSet // undecided within the current tier
	for k, i := range order {
		r := &l.Rules[i]
		if k == 0 || r.Tier != l.Rules[order[k-1]].Tier {
			open = undecided
		}
		if open.empty() {
			continue
		}
		m := open.intersect(build([]item{a.ruleItem(r)}))
		if m.empty() {
			continue
		}
		open = open.subtract(m)
		switch r.Action {
		case Allow:
			ev.admits = ev.admits.union(m)
			ev.contrib = append(ev.contrib, contribution{rule: r, ts: m})
			undecided = undecided.subtract(m)
		case Deny:
			undecided = undecided.subtract(m)
		}
		// Next: the traffic leaves this tier undecided and falls through.
	}
	if l.Default == Allow && !undecided.empty() {
		ev.admits = ev.admits.union(undecided)
		ev.contrib = append(ev.contrib, contribution{ts: undecided})
	}
	return ev
}

// replies turns a stateless egress layer (whose rules name destinations)
// into what it admits inbound: traffic from client c of protocol p passes
// when replies of p may go back to c on some ephemeral port.
func replies(ev *layerEval) *layerEval {
	out := &layerEval{admits: replyTraffic(ev.admits)}
	for _, c := range ev.contrib {
		ts := c.ts
		if ts == nil {
			ts = build([]item{c.it})
		}
		out.contrib = append(out.contrib, contribution{rule: c.rule, ts: replyTraffic(ts)})
	}
	return out
}

func replyTraffic(t *trafficSet) *trafficSet {
	conv := func(p Protocol, m *portMap) *portMap {
		var s addrSet
		for i, set := range m.sets {
			if !p.HasPorts() || (PortRange{m.starts[i], m.end(i)}).Overlaps(ephemeral) {
				s = unionSets(s, set)
			}
		}
		return uniformMap(s)
	}
	out := &trafficSet{rest: conv(ProtocolAll, t.rest)}
	if len(t.protos) > 0 {
		out.protos = map[Protocol]*portMap{}
	}
	for p, m := range t.protos {
		out.protos[p] = conv(p, m)
	}
	return out
}
