package exposure

// layerSite is where a layer's latent exposures are.
func layerSite(l *Layer) *Site {
	return &Site{Scope: l.Scope, Target: TargetRef{ID: l.ID, Kind: l.Kind, Name: l.Name, Tags: l.Tags}}
}

// addCover records that (p, ports, src) reached a target through each
// latent layer named in ev.
func (a *analyzer) addCover(ev []*Evidence, p Protocol, ports PortRange, src addrSet) {
	var last string
	for _, e := range ev {
		if a.byRule[e.Layer] {
			k := ruleCoverKey(e.Layer, e.Rule)
			a.cover[k] = append(a.cover[k], coverItem{p, ports, src})
		}
		if e.Layer == last || !a.latentIDs[e.Layer] {
			continue
		}
		last = e.Layer
		a.cover[e.Layer] = append(a.cover[e.Layer], coverItem{p, ports, src})
	}
}

// coverItem is a piece of effective exposure credited to a latent layer.
type coverItem struct {
	proto Protocol
	ports PortRange
	set   addrSet
}

// subtractCover removes from own what the cover items reached. Coverage is
// exact per protocol: a piece of the "all" bucket (protocols not reported
// separately) covers only that bucket, never TCP or UDP, unlike a rule for
// every protocol.
func (a *analyzer) subtractCover(own *trafficSet, cs []coverItem) *trafficSet {
	byProto := map[Protocol][]item{}
	ports := make([]PortRange, len(cs)) // one allocation for every item's port list
	for i, c := range cs {
		ports[i] = c.ports
		byProto[c.proto] = append(byProto[c.proto], item{proto: c.proto, ports: ports[i : i+1 : i+1], set: c.set})
	}
	exact := func(p Protocol) *portMap {
		if its, ok := byProto[p]; ok {
			if p == ProtocolAll {
				for i := range its {
					its[i].proto = ProtocolTCP // any protocol with ports: keep the ranges as given
				}
			}
			return a.sw.sweep(its, ProtocolTCP)
		}
		return emptyMap
	}
	out := &trafficSet{rest: combineMaps(own.rest, exact(ProtocolAll), subtractSets), protos: map[Protocol]*portMap{}}
	keys := map[Protocol]bool{ProtocolTCP: true, ProtocolUDP: true, ProtocolICMP: true, ProtocolICMPv6: true}
	for p := range own.protos {
		keys[p] = true
	}
	for p := range byProto {
		if p != ProtocolAll {
			keys[p] = true
		}
	}
	for p := range keys {
		out.protos[p] = combineMaps(own.get(p), exact(p), subtractSets)
	}
	return out
}

// latent reports, per latent layer, what its own rules admit from the
// internet that no effective exposure covers.
func (a *analyzer) latent(inv *Inventory) {
	seen := map[string]bool{}
	var layers []*Layer
	add := func(l *Layer) {
		if l == nil || !l.Latent || l.Egress || seen[l.ID] {
			return
		}
		seen[l.ID] = true
		layers = append(layers, l)
	}
	// Inventory.Layers first: they hold each construct whole, where target
	// paths may hold per-target variants.
	for _, l := range inv.Layers {
		add(l)
	}
	for _, t := range inv.Targets {
		if t == nil {
			continue
		}
		for _, l := range pathLayers(t.Path) {
			add(l)
		}
		for _, f := range t.Forwards {
			for _, l := range pathLayers(f.BackendPath) {
				add(l)
			}
		}
	}
	for _, l := range layers {
		a.latentLayer(l)
		// Nothing after this layer needs its evaluation or coverage:
		// releasing them keeps the latent phase from holding every
		// layer's at once.
		delete(a.layers, l)
		delete(a.cover, l.ID)
	}
}

// latentLayer reports what l's own rules admit from the internet that no
// effective exposure covers.
func (a *analyzer) latentLayer(l *Layer) {
	if l.LatentByRule {
		a.latentRules(l)
		for i := range l.Rules {
			delete(a.cover, ruleCoverKey(l.ID, l.Rules[i].ID))
		}
		return
	}
	universe := publicAS
	if l.Internal != nil {
		universe = subtractSets(publicAS, a.set(l.Internal))
	}
	own := a.layer(l).admits.restrictSources(universe)
	if c := a.cover[l.ID]; len(c) > 0 {
		own = a.subtractCover(own, c)
	}
	site := layerSite(l)
	for _, s := range a.split([]*Layer{l}, segments(own)) {
		e := a.newExposure()
		*e = Exposure{Level: Latent, Site: site, Protocol: s.proto, Ports: s.ports, Sources: a.ipSet(s.sources), Evidence: s.evs}
		a.res.Latent = append(a.res.Latent, e)
	}
}

func ruleCoverKey(layer, rule string) string { return layer + "\x00rule\x00" + rule }

// latentRules reports, for each allow rule of l on its own, what it admits
// from the internet that no effective exposure it let in covers.
func (a *analyzer) latentRules(l *Layer) {
	universe := publicAS
	if l.Internal != nil {
		universe = subtractSets(publicAS, a.set(l.Internal))
	}
	site := layerSite(l)
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Action != Allow || !validRule(r) {
			continue
		}
		own := build([]item{a.ruleItem(r)}).restrictSources(universe)
		if c := a.cover[ruleCoverKey(l.ID, r.ID)]; len(c) > 0 {
			own = a.subtractCover(own, c)
		}
		ev := []*Evidence{a.evidenceOf(l, r)}
		for _, s := range segments(own) {
			e := a.newExposure()
			*e = Exposure{Level: Latent, Site: site, Protocol: s.proto, Ports: s.ports, Sources: a.ipSet(s.sources), Evidence: ev}
			a.res.Latent = append(a.res.Latent, e)
		}
	}
}
