package exposure

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// evidence lists the rules of the layers that admitted (p, ports, src).
func (a *analyzer) evidence(layers []*Layer, p Protocol, ports PortRange, src addrSet) []*Evidence {
	var out []*Evidence
	for _, l := range layers {
		a.eachAtom(l, p, ports, func(r PortRange, set addrSet, rule *Rule) {
			if r.Overlaps(ports) && overlapsSets(set, src) {
				if e := a.evidenceOf(l, rule); !containsEvidence(out, e) {
					out = append(out, e)
				}
			}
		})
	}
	return out
}

// evidenceOf returns the one Evidence value of a rule (or a layer's
// default), shared by every exposure it admits.
func (a *analyzer) evidenceOf(l *Layer, r *Rule) *Evidence {
	k := evKey{l, r}
	if e, ok := a.evs[k]; ok {
		return e
	}
	e := &Evidence{Layer: l.ID, LayerKind: l.Kind, LayerName: l.Name, Action: Allow.String()}
	if r == nil {
		e.Rule = "default"
	} else {
		e.Rule = r.ID
		e.Sources = r.SourceNames
		e.Note = r.Description
	}
	if l.Egress {
		e.Note = strings.TrimSpace("replies " + e.Note)
	}
	a.evs[k] = e
	return e
}

type evKey struct {
	l *Layer
	r *Rule
}

func containsEvidence(list []*Evidence, e *Evidence) bool {
	for _, x := range list {
		if x == e || (x.Layer == e.Layer && x.Rule == e.Rule && x.LayerKind == e.LayerKind && x.Note == e.Note) {
			return true
		}
	}
	return false
}

func samePointers(a, b []*Evidence) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type cand struct {
	ev    *Evidence
	ports PortRange
}

// split cuts segments where the rules that admit them change, so that each
// exposure's evidence names exactly the rules that let its ports in.
// segs come as segments lists them: grouped by protocol, in port order
// within one. Each layer's rules are read once for all the segments of a
// protocol, not once per segment.
func (a *analyzer) split(layers []*Layer, segs []segment) []segment {
	// One candidate list per segment; the slots' lists are reused.
	per := slices.Grow(a.per[:0], len(segs))[:len(segs)]
	for k := range per {
		per[k] = per[k][:0]
	}
	for lo := 0; lo < len(segs); {
		hi := lo + 1
		for hi < len(segs) && segs[hi].proto == segs[lo].proto {
			hi++
		}
		group := segs[lo:hi]
		span := PortRange{group[0].ports.From, group[len(group)-1].ports.To}
		for _, l := range layers {
			a.eachAtom(l, group[0].proto, span, func(pr PortRange, set addrSet, rule *Rule) {
				// The first segment that ends at or after pr starts.
				k, _ := slices.BinarySearchFunc(group, pr.From, func(s segment, from uint16) int {
					return cmp.Compare(s.ports.To, from)
				})
				for ; k < len(group) && group[k].ports.From <= pr.To; k++ {
					s := &group[k]
					if !overlapsSets(set, s.sources) {
						continue
					}
					r := PortRange{max(pr.From, s.ports.From), min(pr.To, s.ports.To)}
					per[lo+k] = append(per[lo+k], cand{a.evidenceOf(l, rule), r})
				}
			})
		}
		lo = hi
	}
	var out []segment
	for k, s := range segs {
		out = a.cut(out, s, per[k])
		clear(per[k]) // drop the scratch's references
	}
	a.per = per
	return out
}

// cut appends s to out in pieces, one wherever the candidates' ranges
// start or end, each naming the rules that admit it; neighbours with the
// same rules are merged.
func (a *analyzer) cut(out []segment, s segment, cands []cand) []segment {
	cuts := append(a.cuts[:0], uint32(s.ports.From), uint32(s.ports.To)+1)
	for _, c := range cands {
		cuts = append(cuts, uint32(c.ports.From), uint32(c.ports.To)+1)
	}
	slices.Sort(cuts)
	a.cuts = cuts[:0]
	first := len(out)
	for i := 0; i+1 < len(cuts); i++ {
		if cuts[i] == cuts[i+1] {
			continue
		}
		// cuts[i] < cuts[i+1] <= To+1 <= 65536: both ends fit in a uint16.
		piece := PortRange{uint16(cuts[i]), uint16(cuts[i+1] - 1)} //nolint:gosec // G115: bounded, see above
		var ev []*Evidence
		for _, c := range cands {
			if c.ports.Overlaps(piece) && !containsEvidence(ev, c.ev) {
				ev = append(ev, c.ev)
			}
		}
		if n := len(out); n > first && samePointers(out[n-1].evs, ev) {
			out[n-1].ports.To = piece.To
			continue
		}
		out = append(out, segment{proto: s.proto, ports: piece, sources: s.sources, evs: ev})
	}
	return out
}

// template is what reaches a target's own ports through path p from the
// public internet of one family, with evidence; shared by every target
// with the same path. Building it also records what it covers of each
// latent layer, once per path rather than once per target.
func (a *analyzer) template(p Path, v6 bool) []segment {
	k := a.pathKey(p) + "/" + strconv.FormatBool(v6)
	if segs, ok := a.templates[k]; ok {
		return segs
	}
	layers := pathLayers(p)
	segs := a.split(layers, segments(a.pathFrom(p, familyUniverse(v6))))
	for i := range segs {
		piece := &segs[i]
		piece.ipset = a.ipSet(piece.sources)
		a.addCover(piece.evs, piece.proto, piece.ports, piece.sources)
		piece.sources = nil // not needed once instantiated
	}
	a.templates[k] = segs
	return segs
}

func (a *analyzer) target(t *Target) {
	for hi, h := range t.Path {
		for _, l := range h.Layers {
			if l == nil {
				a.res.Errors = append(a.res.Errors, Error{Scope: t.Scope, Resource: t.ID, Stage: "analyze",
					Message: fmt.Sprintf("hop %d has a nil layer; it is ignored", hi)})
			}
		}
	}
	path, ok := a.knownPath(t.Scope, t.ID, "path", t.Path)
	if !ok {
		return
	}
	if !samePath(path, t.Path) {
		c := *t
		c.Path = path
		t = &c
	}
	ref := TargetRef{ID: t.ID, Kind: t.Kind, Name: t.Name, Owner: t.Owner, Tags: t.Tags}
	for _, ep := range t.Endpoints {
		if ep.IP.IsValid() && !IsPublic(ep.IP) && !(a.opts.LoopbackEndpoints && ep.IP.Unmap().IsLoopback()) {
			continue // a private or special-purpose address is not reachable from the internet
		}
		v6 := ep.Is6()
		if len(t.Forwards) == 0 {
			segs := a.template(t.Path, v6)
			if len(segs) == 0 {
				continue
			}
			site := &Site{Scope: t.Scope, Target: ref, Endpoint: ep}
			for _, s := range segs {
				e := a.newExposure()
				*e = Exposure{Level: Effective, Site: site, Protocol: s.proto, Ports: s.ports, Sources: s.ipset, Evidence: s.evs}
				a.res.Effective = append(a.res.Effective, e)
			}
			continue
		}
		a.forwards(t, &Site{Scope: t.Scope, Target: ref, Endpoint: ep}, v6)
	}
}

// forwards computes what reaches a load balancer's or NAT rule's backends.
func (a *analyzer) forwards(t *Target, site *Site, v6 bool) {
	front := a.path(t.Path).restrictSources(familyUniverse(v6))
	frontLayers := pathLayers(t.Path)
	// Forwards sharing an ID (one listener, several backends) are judged
	// together: a terminating listener is open once, whatever its backends.
	var order []string
	groups := map[string][]*Forward{}
	for i := range t.Forwards {
		f := &t.Forwards[i]
		if _, ok := groups[f.ID]; !ok {
			order = append(order, f.ID)
		}
		groups[f.ID] = append(groups[f.ID], f)
	}
	emit := func(x Exposure, src addrSet) {
		e := a.newExposure()
		*e = x
		e.Level, e.Site = Effective, site
		e.Sources = a.ipSet(src)
		a.res.Effective = append(a.res.Effective, e)
	}
	for _, id := range order {
		fs := groups[id]
		f0 := fs[0]
		listen := front.intersect(build([]item{{proto: f0.Protocol, ports: []PortRange{f0.Frontend}, set: anyAS}}))
		var delivered []item
		for _, f := range fs {
			if f.Backend == "" && len(f.BackendPath) == 0 {
				continue // no registered backend
			}
			backPath, ok := a.knownPath(t.Scope, t.ID, "backend "+f.Backend+" of "+f.ID, f.BackendPath)
			if !ok {
				continue
			}
			back := a.path(backPath)
			backLayers := pathLayers(backPath)
			proxied := f.proxyFor(v6) != nil && !f.MaybeProxied
			proxy := a.set(f.proxyFor(v6))
			for _, s := range segments(listen) {
				for _, d := range deliver(f, proxied, proxy, s, back) {
					ev := a.evidence(frontLayers, s.proto, d.front, d.sources)
					a.addCover(ev, s.proto, d.front, d.sources)
					ev = append(ev, forwardEvidence(f, s.proto, d))
					backSrc := d.sources
					switch {
					case proxied:
						backSrc = proxy // the backend sees the proxy, not the client
					case f.MaybeProxied:
						backSrc = unionSets(d.sources, proxy) // it sees one of them
					}
					bev := a.evidence(backLayers, s.proto, d.back, backSrc)
					if !proxied {
						a.addCover(bev, s.proto, d.back, d.sources)
					}
					emit(Exposure{Protocol: s.proto, Ports: d.front, Evidence: append(ev, bev...),
						Backend: &Backend{ID: f.Backend, Name: f.BackendName, Forward: f.ID, Protocol: s.proto, Ports: d.back}}, d.sources)
					delivered = append(delivered, item{proto: s.proto, ports: []PortRange{d.front}, set: d.sources})
				}
			}
		}
		if !f0.Terminates {
			continue
		}
		// A proxy accepts the connection itself: what no backend takes is
		// still an open frontend port.
		for _, s := range segments(listen.subtract(build(delivered))) {
			ev := a.evidence(frontLayers, s.proto, s.ports, s.sources)
			a.addCover(ev, s.proto, s.ports, s.sources)
			emit(Exposure{Protocol: s.proto, Ports: s.ports,
				Evidence: append(ev, forwardEvidence(f0, s.proto, delivery{front: s.ports}))}, s.sources)
		}
	}
}

type delivery struct {
	front, back PortRange
	sources     addrSet
}

// deliver splits one frontend segment by what the backend path admits on
// the translated port(s).
// When proxied, the backend sees proxy instead of the clients.
func deliver(f *Forward, proxied bool, proxy addrSet, s segment, back *trafficSet) []delivery {
	m := back.get(s.proto)
	admitted := func(b addrSet) addrSet {
		if proxied || f.MaybeProxied {
			if overlapsSets(b, proxy) {
				return s.sources // the proxy delivers every client that reached it
			}
			if proxied {
				return nil
			}
		}
		return intersectSets(s.sources, b)
	}
	if f.BackendPort != 0 && s.proto.HasPorts() {
		src := admitted(m.at(f.BackendPort))
		if len(src) == 0 {
			return nil
		}
		return []delivery{{front: s.ports, back: Port(f.BackendPort), sources: src}}
	}
	var out []delivery
	for i, b := range m.sets {
		seg := PortRange{m.starts[i], m.end(i)}
		if !seg.Overlaps(s.ports) {
			continue
		}
		r := PortRange{max(seg.From, s.ports.From), min(seg.To, s.ports.To)}
		if src := admitted(b); len(src) > 0 {
			if n := len(out); n > 0 && out[n-1].front.To+1 == r.From && sameSet(out[n-1].sources, src) {
				out[n-1].front.To, out[n-1].back.To = r.To, r.To
				continue
			}
			out = append(out, delivery{front: r, back: r, sources: src})
		}
	}
	return out
}

func forwardEvidence(f *Forward, p Protocol, d delivery) *Evidence {
	kind := f.Kind
	if kind == "" {
		kind = LayerListener
	}
	rule := p.String() + " " + d.front.String()
	if d.back != (PortRange{}) {
		rule += " → " + d.back.String()
		if f.Backend != "" {
			rule += " on " + f.Backend
		}
	}
	return &Evidence{Layer: f.ID, LayerKind: kind, LayerName: f.Name, Rule: rule, Action: "forward", Unknown: f.Unknown}
}
