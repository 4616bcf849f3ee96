package exposure

import (
	"encoding/binary"

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
