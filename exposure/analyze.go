package exposure

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
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

// Address universes, in the analysis's internal form.
var (
	anyAS     = toAddrSet(AnySource())
	public4AS = toAddrSet(public4)
	public6AS = toAddrSet(public6)
	publicAS  = toAddrSet(publicInternet)
	v4AS      = toAddrSet(Sources(anyIPv4))
	v6AS      = subtractSets(toAddrSet(Sources(anyIPv6)), v4AS)
)

// Analyze computes the effective and latent exposures of an inventory. It
// is pure: no I/O, no clock, no shared state. Layers, hops and paths shared
// between targets are evaluated once, so the cost grows with the number of
// distinct paths and rules, not with their product.
func Analyze(inv *Inventory) *Result { return AnalyzeWith(inv, Options{}) }

// Options adjusts an analysis for labs and tests.
type Options struct {
	// LoopbackEndpoints keeps endpoints in 127.0.0.0/8 and ::1 as if they
	// were public addresses. Emulators hand them out (moto's Elastic IPs
	// come from 127.0.0.0/8), and a lab can then probe them where nothing
	// else may be probed. Sources are unaffected: loopback is never an
	// internet client.
	LoopbackEndpoints bool
}

// AnalyzeWith is Analyze with options.
func AnalyzeWith(inv *Inventory, o Options) *Result {
	a := newAnalyzer()
	a.opts = o
	// Which layers are judged for latent exposures, and how, must be known
	// before any target records what it covers of them.
	for _, l := range inv.Layers {
		if l != nil && l.Latent && !l.Egress {
			a.latentIDs[l.ID] = true
			if l.LatentByRule {
				a.byRule[l.ID] = true
			}
		}
	}
	for _, t := range inv.Targets {
		if t != nil {
			a.target(t)
		}
	}
	// Paths are done: their caches would only weigh on the latent phase.
	a.hops, a.paths, a.templates = nil, nil, nil
	a.latent(inv)
	sortExposures(a.res.Effective)
	sortExposures(a.res.Latent)
	return a.res
}

type analyzer struct {
	opts      Options
	sets      map[*netipx.IPSet]addrSet
	layers    map[*Layer]*layerEval
	layerIdx  map[*Layer]int
	hops      map[string]*trafficSet
	paths     map[string]*trafficSet
	templates map[string][]segment
	latentIDs map[string]bool
	byRule    map[string]bool // latent layers judged rule by rule
	cover     map[string][]coverItem
	per       [][]cand // scratch for split
	cuts      []uint32 // scratch for cut
	evs       map[evKey]*Evidence
	ipsets    map[string]*netipx.IPSet // by content
	bigSets   map[setKey]*netipx.IPSet // by backing array
	keyBuf    []byte
	sw        sweeper    // scratch of build and sweep
	items     []item     // scratch of evalUnion
	chunk     []Exposure // where newExposure hands exposures out from
	chunkLen  int
	res       *Result
}

func newAnalyzer() *analyzer {
	return &analyzer{
		sets:      map[*netipx.IPSet]addrSet{},
		layers:    map[*Layer]*layerEval{},
		layerIdx:  map[*Layer]int{},
		hops:      map[string]*trafficSet{},
		paths:     map[string]*trafficSet{},
		templates: map[string][]segment{},
		latentIDs: map[string]bool{},
		byRule:    map[string]bool{},
		cover:     map[string][]coverItem{},
		evs:       map[evKey]*Evidence{},
		ipsets:    map[string]*netipx.IPSet{},
		bigSets:   map[setKey]*netipx.IPSet{},
		res:       &Result{},
	}
}

// newExposure hands out exposures from chunks of growing size (64 up to
// 4096), so that a million exposures cost a few hundred allocations and no
// size-class rounding.
func (a *analyzer) newExposure() *Exposure {
	if len(a.chunk) == 0 {
		a.chunkLen = min(max(2*a.chunkLen, 64), 4096)
		a.chunk = make([]Exposure, a.chunkLen)
	}
	e := &a.chunk[0]
	a.chunk = a.chunk[1:]
	return e
}

// layerSite is where a layer's latent exposures are.
func layerSite(l *Layer) *Site {
	return &Site{Scope: l.Scope, Target: TargetRef{ID: l.ID, Kind: l.Kind, Name: l.Name, Tags: l.Tags}}
}

// set converts a rule's sources once per distinct *IPSet.
func (a *analyzer) set(s *netipx.IPSet) addrSet {
	if s == nil {
		return nil
	}
	if as, ok := a.sets[s]; ok {
		return as
	}
	as := toAddrSet(s)
	a.sets[s] = as
	return as
}

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

func (a *analyzer) evalOrdered(l *Layer) *layerEval {
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
	if len(h.Layers) == 1 && h.Layers[0] != nil {
		return a.layer(h.Layers[0]).admits
	}
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

// path is what gets through every hop, from any address; cached for
// the backend paths of forwards, which many listeners share.
func (a *analyzer) path(p Path) *trafficSet {
	k := a.pathKey(p)
	if ts, ok := a.paths[k]; ok {
		return ts
	}
	ts := a.pathUncached(p)
	a.paths[k] = ts
	return ts
}

// pathUncached evaluates a path whose result the caller caches itself.
func (a *analyzer) pathUncached(p Path) *trafficSet { return a.pathFrom(p, anyAS) }

// pathFrom is what gets through every hop of p from the sources in
// universe; starting from the universe rather than restricting afterwards
// saves a pass over the path's segments.
func (a *analyzer) pathFrom(p Path, universe addrSet) *trafficSet {
	ts := allTraffic(universe)
	for _, h := range p {
		ts = ts.intersect(a.hop(h))
		if ts.empty() {
			break
		}
	}
	return ts
}

// ipSet converts a set for the API, once per distinct content: exposures
// with the same sources share one *IPSet, whichever computation produced
// them. Sets of up to maxKeyedSpans spans are keyed by their bytes; larger
// ones (rare: a source list of many CIDRs) by their backing array, as sets
// are never modified once built.
func (a *analyzer) ipSet(s addrSet) *netipx.IPSet {
	if len(s) == 0 {
		return &netipx.IPSet{}
	}
	if len(s) > maxKeyedSpans {
		k := setKey{&s[0], len(s)}
		if r, ok := a.bigSets[k]; ok {
			return r
		}
		r := s.ipSet()
		a.bigSets[k] = r
		return r
	}
	key := a.keyBuf[:0]
	for _, sp := range s {
		key = binary.LittleEndian.AppendUint64(key, sp.from.hi)
		key = binary.LittleEndian.AppendUint64(key, sp.from.lo)
		key = binary.LittleEndian.AppendUint64(key, sp.to.hi)
		key = binary.LittleEndian.AppendUint64(key, sp.to.lo)
	}
	a.keyBuf = key
	if r, ok := a.ipsets[string(key)]; ok { // no allocation for the lookup
		return r
	}
	r := s.ipSet()
	a.ipsets[string(key)] = r
	return r
}

// maxKeyedSpans bounds the sets ipSet keys by content (32 bytes a span).
const maxKeyedSpans = 64

// setKey identifies an addrSet by its backing array.
type setKey struct {
	first *span
	n     int
}

// segment is one protocol and port range of a traffic set with its
// sources and the rules that admitted it.
type segment struct {
	proto   Protocol
	ports   PortRange
	sources addrSet
	ipset   *netipx.IPSet
	evs     []*Evidence
}

func familyUniverse(v6 bool) addrSet {
	if v6 {
		return public6AS
	}
	return public4AS
}

// segments lists the non-empty segments of t, reporting ICMP only for
// IPv4 sources and ICMPv6 only for IPv6 sources.
func segments(t *trafficSet) []segment {
	var out []segment
	emit := func(p Protocol, m *portMap) {
		for i, s := range m.sets {
			switch p {
			case ProtocolICMP:
				s = intersectSets(s, v4AS)
			case ProtocolICMPv6:
				s = intersectSets(s, v6AS)
			}
			if len(s) > 0 {
				out = append(out, segment{proto: p, ports: PortRange{m.starts[i], m.end(i)}, sources: s})
			}
		}
	}
	for _, p := range t.reportedProtocols() {
		emit(p, t.get(p))
	}
	emit(ProtocolAll, t.rest)
	return out
}

func pathLayers(p Path) []*Layer {
	var out []*Layer
	for _, h := range p {
		for _, l := range h.Layers {
			if l != nil {
				out = append(out, l)
			}
		}
	}
	return out
}

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

// knownPath returns p without its unknown layers (Layer.Unknown), and
// ok=false when a hop holds unknown layers only: nothing is inferred
// through an unknown layer, so such a path is not analysed. Either way an
// error names the target (and, for a backend path, the forward) and what
// was lost.
func (a *analyzer) knownPath(scope Scope, resource, what string, p Path) (Path, bool) {
	var unknown []string
	whole := false
	for _, h := range p {
		known := 0
		for _, l := range h.Layers {
			if l != nil && l.Unknown != "" {
				unknown = append(unknown, l.Kind+" "+l.ID+": "+l.Unknown)
			} else {
				known++
			}
		}
		if known == 0 && len(h.Layers) > 0 {
			whole = true
		}
	}
	if len(unknown) == 0 {
		return p, true
	}
	if whole {
		a.res.Errors = append(a.res.Errors, Error{Scope: scope, Resource: resource, Stage: "analyze",
			Message: what + " not analysed: it crosses an unknown layer (" + strings.Join(unknown, "; ") + "); nothing is inferred through it"})
		return nil, false
	}
	a.res.Errors = append(a.res.Errors, Error{Scope: scope, Resource: resource, Stage: "analyze",
		Message: what + " may admit more than reported: " + strings.Join(unknown, "; ")})
	out := make(Path, 0, len(p))
	for _, h := range p {
		var hop Hop
		for _, l := range h.Layers {
			if l == nil || l.Unknown == "" {
				hop.Layers = append(hop.Layers, l)
			}
		}
		out = append(out, hop)
	}
	return out, true
}

func samePath(a, b Path) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }

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

func sortExposures(es []*Exposure) {
	slices.SortStableFunc(es, func(x, y *Exposure) int {
		if c := strings.Compare(x.Provider, y.Provider); c != 0 {
			return c
		}
		if c := strings.Compare(x.Account, y.Account); c != 0 {
			return c
		}
		if c := strings.Compare(x.Region, y.Region); c != 0 {
			return c
		}
		if c := strings.Compare(x.Target.ID, y.Target.ID); c != 0 {
			return c
		}
		if x.Endpoint != y.Endpoint {
			if endpointLess(x.Endpoint, y.Endpoint) {
				return -1
			}
			return 1
		}
		if x.Protocol != y.Protocol {
			return protoRank(x.Protocol) - protoRank(y.Protocol)
		}
		if x.Ports.From != y.Ports.From {
			return int(x.Ports.From) - int(y.Ports.From)
		}
		return strings.Compare(backendKey(x), backendKey(y))
	})
}

func endpointLess(a, b Endpoint) bool {
	if a.IP.IsValid() && b.IP.IsValid() && a.IP != b.IP {
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
