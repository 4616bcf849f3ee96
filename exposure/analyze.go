package exposure

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// Result is the outcome of an analysis.
type Result struct {
	// Effective exposures: reachable from the internet through the whole
	// path, one per target endpoint, protocol, port range and backend.
	Effective []*Exposure
	// Latent exposures: what a layer's own rules admit from the internet
	// that no path delivers today, one per layer, protocol and port range.
	Latent []*Exposure
	// Errors are problems met in the inventory (a nil layer, a reversed
	// port range); the analysis skips what they name and goes on.
	Errors []Error
}

// ephemeral is the port range a client's replies come back to. AWS
// documents 1024-65535 as the range a NACL must allow for replies to reach
// every kind of client (Linux uses 32768-60999, Windows 49152-65535, NAT
// gateways 1024-65535):
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html#nacl-ephemeral-ports
var ephemeral = PortRange{1024, 65535}

// Analyze computes the effective and latent exposures of an inventory. It
// is pure: no I/O, no clock, no shared state. Layers, hops and paths shared
// between targets are evaluated once.
func Analyze(inv *Inventory) *Result {
	a := &analyzer{
		layers:    map[*Layer]*layerEval{},
		layerIdx:  map[*Layer]int{},
		hops:      map[string]*trafficSet{},
		paths:     map[string]*trafficSet{},
		templates: map[string][]segment{},
		cover:     map[string]*trafficSet{},
		res:       &Result{},
	}
	for _, t := range inv.Targets {
		if t == nil {
			continue
		}
		a.target(t)
	}
	a.latent(inv)
	sortExposures(a.res.Effective)
	sortExposures(a.res.Latent)
	return a.res
}

type analyzer struct {
	layers    map[*Layer]*layerEval
	layerIdx  map[*Layer]int
	hops      map[string]*trafficSet
	paths     map[string]*trafficSet
	templates map[string][]segment // path key + family → what gets through, with evidence
	cover     map[string]*trafficSet
	res       *Result
}

// layerEval is a layer's evaluation: what it admits as a hop, and for
// evidence, what each of its rules admitted.
type layerEval struct {
	admits  *trafficSet
	contrib []contribution
}

type contribution struct {
	rule *Rule // nil for an Ordered layer's default allow
	ts   *trafficSet
}

func (a *analyzer) layer(l *Layer) *layerEval {
	if ev, ok := a.layers[l]; ok {
		return ev
	}
	var ev *layerEval
	if l.Mode == Ordered {
		ev = evalOrdered(l)
	} else {
		ev = evalUnion(l)
	}
	if l.Egress {
		ev = replies(ev)
	}
	a.layers[l] = ev
	return ev
}

func validRule(r *Rule) bool {
	for _, p := range r.Ports {
		if p.From > p.To {
			return false
		}
	}
	return true
}

func evalUnion(l *Layer) *layerEval {
	ev := &layerEval{admits: emptyTraffic()}
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Action != Allow || !validRule(r) {
			continue
		}
		ts := ruleTraffic(r)
		ev.contrib = append(ev.contrib, contribution{rule: r, ts: ts})
		ev.admits = ev.admits.union(ts)
	}
	return ev
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

func evalOrdered(l *Layer) *layerEval {
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
	ev := &layerEval{admits: emptyTraffic()}
	undecided := allTraffic(AnySource())
	var open *trafficSet // undecided within the current tier
	tier := 0
	for k, i := range order {
		r := &l.Rules[i]
		if k == 0 || r.Tier != tier {
			tier, open = r.Tier, undecided
		}
		m := open.intersect(ruleTraffic(r))
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
		out.contrib = append(out.contrib, contribution{rule: c.rule, ts: replyTraffic(c.ts)})
	}
	return out
}

func replyTraffic(t *trafficSet) *trafficSet {
	conv := func(p Protocol, m *portMap) *portMap {
		var s *netipx.IPSet = emptySet
		for i, set := range m.sets {
			seg := PortRange{m.starts[i], m.end(i)}
			if !p.HasPorts() || seg.Overlaps(ephemeral) {
				s = union(s, set)
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

func (a *analyzer) layerKey(l *Layer) string {
	i, ok := a.layerIdx[l]
	if !ok {
		i = len(a.layerIdx)
		a.layerIdx[l] = i
	}
	return strconv.Itoa(i)
}

func (a *analyzer) hopKey(h Hop) string {
	var b strings.Builder
	for i, l := range h.Layers {
		if i > 0 {
			b.WriteByte(',')
		}
		if l == nil {
			b.WriteByte('-')
			continue
		}
		b.WriteString(a.layerKey(l))
	}
	return b.String()
}

func (a *analyzer) pathKey(p Path) string {
	keys := make([]string, len(p))
	for i, h := range p {
		keys[i] = a.hopKey(h)
	}
	return strings.Join(keys, "|")
}

func (a *analyzer) hop(h Hop) *trafficSet {
	k := a.hopKey(h)
	if ts, ok := a.hops[k]; ok {
		return ts
	}
	ts := emptyTraffic()
	for _, l := range h.Layers {
		if l != nil {
			ts = ts.union(a.layer(l).admits)
		}
	}
	a.hops[k] = ts
	return ts
}

// path is what gets through every hop, from any address.
func (a *analyzer) path(p Path) *trafficSet {
	k := a.pathKey(p)
	if ts, ok := a.paths[k]; ok {
		return ts
	}
	ts := allTraffic(AnySource())
	for _, h := range p {
		ts = ts.intersect(a.hop(h))
	}
	a.paths[k] = ts
	return ts
}

// segment is one protocol and port range of a traffic set with its
// sources.
type segment struct {
	proto    Protocol
	ports    PortRange
	sources  *netipx.IPSet
	evidence []Evidence
}

func familyUniverse(v6 bool) *netipx.IPSet {
	if v6 {
		return public6
	}
	return public4
}

// segments lists the non-empty segments of t, reporting ICMP only for
// IPv4 sources and ICMPv6 only for IPv6 sources.
func segments(t *trafficSet) []segment {
	var out []segment
	emit := func(p Protocol, m *portMap) {
		for i, s := range m.sets {
			switch p {
			case ProtocolICMP:
				s = intersect(s, public4All)
			case ProtocolICMPv6:
				s = intersect(s, public6All)
			}
			if isEmpty(s) {
				continue
			}
			out = append(out, segment{proto: p, ports: PortRange{m.starts[i], m.end(i)}, sources: s})
		}
	}
	for _, p := range t.reportedProtocols() {
		emit(p, t.get(p))
	}
	emit(ProtocolAll, t.rest)
	return out
}

var (
	public4All = Sources(anyIPv4)
	public6All = Sources(anyIPv6)
)

// evidence lists the rules of a path's layers that admitted (p, ports,
// sources).
func (a *analyzer) evidence(path Path, p Protocol, ports PortRange, src *netipx.IPSet) []Evidence {
	var out []Evidence
	for _, h := range path {
		for _, l := range h.Layers {
			if l != nil {
				out = append(out, a.layerEvidence(l, p, ports, src)...)
			}
		}
	}
	return out
}

func (a *analyzer) layerEvidence(l *Layer, p Protocol, ports PortRange, src *netipx.IPSet) []Evidence {
	var out []Evidence
	for _, c := range a.layer(l).contrib {
		if !admitsAny(c.ts.get(p), ports, src) {
			continue
		}
		if e := evidenceOf(l, c.rule); !containsEvidence(out, e) {
			out = append(out, e)
		}
	}
	return out
}

func evidenceOf(l *Layer, r *Rule) Evidence {
	e := Evidence{Layer: l.ID, LayerKind: l.Kind, LayerName: l.Name, Action: Allow.String()}
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
	return e
}

func admitsAny(m *portMap, ports PortRange, src *netipx.IPSet) bool {
	for i, s := range m.sets {
		if isEmpty(s) || !(PortRange{m.starts[i], m.end(i)}).Overlaps(ports) {
			continue
		}
		if s.Overlaps(src) {
			return true
		}
	}
	return false
}

// template is what reaches a target's own ports through path p from the
// public internet of one family, with evidence; shared by every target
// with the same path.
func (a *analyzer) template(p Path, v6 bool) []segment {
	k := a.pathKey(p) + "/" + strconv.FormatBool(v6)
	if segs, ok := a.templates[k]; ok {
		return segs
	}
	var layers []*Layer
	for _, h := range p {
		for _, l := range h.Layers {
			if l != nil {
				layers = append(layers, l)
			}
		}
	}
	var segs []segment
	for _, s := range segments(a.path(p).restrictSources(familyUniverse(v6))) {
		segs = append(segs, a.split(layers, s)...)
	}
	a.templates[k] = segs
	return segs
}

// split cuts a segment where the rules that admit it change, so that each
// exposure's evidence names exactly the rules that let its ports in.
func (a *analyzer) split(layers []*Layer, s segment) []segment {
	type cand struct {
		ev    Evidence
		ports PortRange
	}
	var cands []cand
	cuts := map[uint32]bool{uint32(s.ports.From): true, uint32(s.ports.To) + 1: true}
	for _, l := range layers {
		for _, c := range a.layer(l).contrib {
			m := c.ts.get(s.proto)
			for i, set := range m.sets {
				r := PortRange{m.starts[i], m.end(i)}
				if isEmpty(set) || !r.Overlaps(s.ports) || !set.Overlaps(s.sources) {
					continue
				}
				r = PortRange{max(r.From, s.ports.From), min(r.To, s.ports.To)}
				cands = append(cands, cand{evidenceOf(l, c.rule), r})
				cuts[uint32(r.From)], cuts[uint32(r.To)+1] = true, true
			}
		}
	}
	points := make([]uint32, 0, len(cuts))
	for p := range cuts {
		points = append(points, p)
	}
	sort.Slice(points, func(i, j int) bool { return points[i] < points[j] })
	var out []segment
	for i := 0; i+1 < len(points); i++ {
		piece := PortRange{uint16(points[i]), uint16(points[i+1] - 1)}
		var ev []Evidence
		for _, c := range cands {
			if c.ports.Overlaps(piece) && !containsEvidence(ev, c.ev) {
				ev = append(ev, c.ev)
			}
		}
		if n := len(out); n > 0 && reflect.DeepEqual(out[n-1].evidence, ev) {
			out[n-1].ports.To = piece.To
			continue
		}
		out = append(out, segment{proto: s.proto, ports: piece, sources: s.sources, evidence: ev})
	}
	return out
}

func containsEvidence(list []Evidence, e Evidence) bool {
	for _, x := range list {
		if x.Layer == e.Layer && x.Rule == e.Rule && x.LayerKind == e.LayerKind {
			return true
		}
	}
	return false
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
	ref := TargetRef{ID: t.ID, Kind: t.Kind, Name: t.Name, Owner: t.Owner, Tags: t.Tags}
	for _, ep := range t.Endpoints {
		if ep.IP.IsValid() && !IsPublic(ep.IP) {
			continue // a private or special-purpose address is not reachable from the internet
		}
		v6 := ep.Is6()
		if len(t.Forwards) == 0 {
			for _, s := range a.template(t.Path, v6) {
				a.emit(&Exposure{Level: Effective, Scope: t.Scope, Target: ref, Endpoint: ep,
					Protocol: s.proto, Ports: s.ports, Sources: s.sources, Evidence: s.evidence})
			}
			continue
		}
		a.forwards(t, ref, ep, v6)
	}
}

// forwards computes what reaches a load balancer's or NAT rule's backends.
func (a *analyzer) forwards(t *Target, ref TargetRef, ep Endpoint, v6 bool) {
	front := a.path(t.Path).restrictSources(familyUniverse(v6))
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
	for _, id := range order {
		fs := groups[id]
		f0 := fs[0]
		listen := front.intersect(ruleTraffic(&Rule{Protocol: f0.Protocol, Ports: []PortRange{f0.Frontend}, Sources: AnySource()}))
		delivered := emptyTraffic()
		for _, f := range fs {
			if f.Backend == "" && len(f.BackendPath) == 0 {
				continue // no registered backend
			}
			back := a.path(f.BackendPath)
			for _, s := range segments(listen) {
				for _, d := range deliver(f, s, back) {
					fr := d.front
					ev := append(a.evidence(t.Path, s.proto, fr, d.sources), forwardEvidence(f, s.proto, d))
					backSrc := d.sources
					if f.ProxySources != nil {
						backSrc = f.ProxySources
					} else {
						a.addCover(f.BackendPath, s.proto, d.back, d.sources)
					}
					ev = append(ev, a.evidence(f.BackendPath, s.proto, d.back, backSrc)...)
					a.emit(&Exposure{Level: Effective, Scope: t.Scope, Target: ref, Endpoint: ep,
						Protocol: s.proto, Ports: fr, Sources: d.sources, Evidence: ev,
						Backend: &Backend{ID: f.Backend, Name: f.BackendName, Forward: f.ID, Protocol: s.proto, Ports: d.back}})
					delivered = delivered.union(ruleTraffic(&Rule{Protocol: s.proto, Ports: []PortRange{fr}, Sources: d.sources}))
				}
			}
		}
		if !f0.Terminates {
			continue
		}
		// A proxy accepts the connection itself: what no backend takes is
		// still an open frontend port.
		for _, s := range segments(listen.subtract(delivered)) {
			ev := append(a.evidence(t.Path, s.proto, s.ports, s.sources), forwardEvidence(f0, s.proto, delivery{front: s.ports}))
			a.emit(&Exposure{Level: Effective, Scope: t.Scope, Target: ref, Endpoint: ep,
				Protocol: s.proto, Ports: s.ports, Sources: s.sources, Evidence: ev})
		}
	}
}

type delivery struct {
	front, back PortRange
	sources     *netipx.IPSet
}

// deliver splits one frontend segment by what the backend path admits on
// the translated port(s).
func deliver(f *Forward, s segment, back *trafficSet) []delivery {
	m := back.get(s.proto)
	admitted := func(b *netipx.IPSet) *netipx.IPSet {
		if f.ProxySources != nil {
			if b.Overlaps(f.ProxySources) {
				return s.sources // the proxy delivers every client that reached it
			}
			return emptySet
		}
		return intersect(s.sources, b)
	}
	if f.BackendPort != 0 && s.proto.HasPorts() {
		src := admitted(m.at(f.BackendPort))
		if isEmpty(src) {
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
		if src := admitted(b); !isEmpty(src) {
			if n := len(out); n > 0 && out[n-1].front.To+1 == r.From && setsEqual(out[n-1].sources, src) {
				out[n-1].front.To, out[n-1].back.To = r.To, r.To
				continue
			}
			out = append(out, delivery{front: r, back: r, sources: src})
		}
	}
	return out
}

func forwardEvidence(f *Forward, p Protocol, d delivery) Evidence {
	kind := f.Kind
	if kind == "" {
		kind = LayerListener
	}
	rule := p.String() + " " + d.front.String()
	if d.back != (PortRange{}) {
		rule += " → " + d.back.String()
	}
	if f.Backend != "" && d.back != (PortRange{}) {
		rule += " on " + f.Backend
	}
	return Evidence{Layer: f.ID, LayerKind: kind, LayerName: f.Name, Rule: rule, Action: "forward"}
}

// emit records an effective exposure and what it covers of each latent
// layer on its path.
func (a *analyzer) emit(e *Exposure) {
	a.res.Effective = append(a.res.Effective, e)
	if e.Backend != nil {
		// Only the frontend layers saw the client directly; the backend
		// layers were covered in forwards().
		for _, ev := range e.Evidence {
			if ev.Action == "forward" {
				break
			}
			a.coverLayer(ev.Layer, e.Protocol, e.Ports, e.Sources)
		}
		return
	}
	for _, ev := range e.Evidence {
		a.coverLayer(ev.Layer, e.Protocol, e.Ports, e.Sources)
	}
}

func (a *analyzer) addCover(p Path, proto Protocol, ports PortRange, src *netipx.IPSet) {
	for _, ev := range a.evidence(p, proto, ports, src) {
		a.coverLayer(ev.Layer, proto, ports, src)
	}
}

func (a *analyzer) coverLayer(id string, p Protocol, ports PortRange, src *netipx.IPSet) {
	ts := ruleTraffic(&Rule{Protocol: p, Ports: []PortRange{ports}, Sources: src})
	if c, ok := a.cover[id]; ok {
		ts = c.union(ts)
	}
	a.cover[id] = ts
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
		for _, h := range t.Path {
			for _, l := range h.Layers {
				add(l)
			}
		}
		for _, f := range t.Forwards {
			for _, h := range f.BackendPath {
				for _, l := range h.Layers {
					add(l)
				}
			}
		}
	}
	for _, l := range layers {
		own := a.layer(l).admits.restrictSources(PublicInternet())
		if c, ok := a.cover[l.ID]; ok {
			own = own.subtract(c)
		}
		ref := TargetRef{ID: l.ID, Kind: l.Kind, Name: l.Name, Tags: l.Tags}
		for _, seg := range segments(own) {
			for _, s := range a.split([]*Layer{l}, seg) {
				a.res.Latent = append(a.res.Latent, &Exposure{Level: Latent, Scope: l.Scope, Target: ref,
					Protocol: s.proto, Ports: s.ports, Sources: s.sources, Evidence: s.evidence})
			}
		}
	}
}

func sortExposures(es []*Exposure) {
	sort.SliceStable(es, func(i, j int) bool {
		x, y := es[i], es[j]
		if x.Provider != y.Provider {
			return x.Provider < y.Provider
		}
		if x.Account != y.Account {
			return x.Account < y.Account
		}
		if x.Region != y.Region {
			return x.Region < y.Region
		}
		if x.Target.ID != y.Target.ID {
			return x.Target.ID < y.Target.ID
		}
		if ex, ey := x.Endpoint.String(), y.Endpoint.String(); ex != ey {
			return endpointLess(x.Endpoint, y.Endpoint)
		}
		if x.Protocol != y.Protocol {
			return protoRank(x.Protocol) < protoRank(y.Protocol)
		}
		if x.Ports != y.Ports {
			return x.Ports.From < y.Ports.From
		}
		return backendKey(x) < backendKey(y)
	})
}

func endpointLess(a, b Endpoint) bool {
	if a.IP.IsValid() && b.IP.IsValid() {
		return a.IP.Less(b.IP)
	}
	return a.String() < b.String()
}

func protoRank(p Protocol) int {
	switch p {
	case ProtocolTCP:
		return -4
	case ProtocolUDP:
		return -3
	case ProtocolICMP:
		return -2
	case ProtocolICMPv6:
		return -1
	case ProtocolAll:
		return 1000
	}
	return int(p)
}

func backendKey(e *Exposure) string {
	if e.Backend == nil {
		return ""
	}
	return e.Backend.Forward + "\x00" + e.Backend.ID
}

// Addrs lists the prefixes of a source set as strings.
func Addrs(s *netipx.IPSet) []string {
	if s == nil {
		return nil
	}
	ps := s.Prefixes()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
