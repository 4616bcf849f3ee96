package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// view is an exposure prepared for rule evaluation: the service side of a
// port translation, the breadth of its sources per family, and the probe
// observations made on its frontend.
type view struct {
	e  *exposure.Exposure
	id string
	// svcProto and svc are the protocol and ports the traffic reaches: the
	// backend's where a forward translates ports, otherwise the
	// exposure's own.
	svcProto   exposure.Protocol
	svc        exposure.PortRange
	translated bool
	// breadth is the widest of both families; b4 and b6 per family.
	breadth, b4, b6 exposure.Breadth
	// obs are the observations on the exposure's endpoint, protocol and
	// frontend ports.
	obs   []*exposure.Observation
	facts *sourceFacts
	// frontSide marks a view of a translated exposure's frontend, for
	// rules that judge the port the internet connects to.
	frontSide bool
	// run is the union of the target's exposures this one is a piece of
	// (same protocol and sources, adjacent ports), when there is one.
	run *view
}

// obsIndex groups observations by endpoint, and knows each target's
// addresses per family so that an endpoint reached by DNS name only (a load
// balancer's) shares the observations of the addresses the name resolves
// to: the same listener answers on both.
type obsIndex struct {
	byEndpoint map[string][]*exposure.Observation
	// addrs lists, per target and family ("4"/"6"), the target's IP
	// endpoints.
	addrs map[string][]string
}

func indexObservations(obs []exposure.Observation, exps []*exposure.Exposure) obsIndex {
	idx := obsIndex{byEndpoint: map[string][]*exposure.Observation{}, addrs: map[string][]string{}}
	for i := range obs {
		o := &obs[i]
		idx.byEndpoint[o.Endpoint] = append(idx.byEndpoint[o.Endpoint], o)
	}
	if len(obs) == 0 {
		return idx
	}
	seen := map[string]bool{}
	for _, x := range exps {
		if x == nil || x.Site == nil || x.Level != exposure.Effective || !x.Endpoint.IP.IsValid() {
			continue
		}
		k := familyKey(x.Target.ID, x.Endpoint.Is6())
		ep := x.Endpoint.String()
		if !seen[k+"\x00"+ep] {
			seen[k+"\x00"+ep] = true
			idx.addrs[k] = append(idx.addrs[k], ep)
		}
	}
	return idx
}

func familyKey(target string, v6 bool) string {
	if v6 {
		return target + "\x006"
	}
	return target + "\x004"
}

// observationsAt returns the observations made on an exposure's endpoint:
// its address, or for a DNS name the target's addresses of the same family.
func (idx obsIndex) observationsAt(e *exposure.Exposure) []*exposure.Observation {
	if e.Endpoint.IP.IsValid() || e.Endpoint.Host == "" {
		return idx.byEndpoint[e.Endpoint.String()]
	}
	out := idx.byEndpoint[e.Endpoint.Host]
	for _, a := range idx.addrs[familyKey(e.Target.ID, e.Endpoint.Is6())] {
		out = append(slices.Clip(out), idx.byEndpoint[a]...)
	}
	return out
}

// sourceCache memoizes source-set facts within one evaluation: analyses
// produce many exposures with equal source sets, and classifying a set
// against the public internet is the costliest step of evaluation. The
// analysis hands out one *IPSet per distinct set, so the pointer finds
// most sets without rendering the content key.
type sourceCache struct {
	byKey map[string]*sourceFacts
	byPtr map[*netipx.IPSet]*sourceFacts
}

func newSourceCache() sourceCache {
	return sourceCache{byKey: map[string]*sourceFacts{}, byPtr: map[*netipx.IPSet]*sourceFacts{}}
}

type sourceFacts struct {
	b4, b6   exposure.Breadth
	prefixes []string // lazily: the public prefixes, for CEL
}

func (sc sourceCache) facts(s *netipx.IPSet) *sourceFacts {
	if f, ok := sc.byPtr[s]; ok {
		return f
	}
	key := setKey(s)
	f, ok := sc.byKey[key]
	if !ok {
		f = &sourceFacts{}
		f.b4, f.b6 = familyBreadth(s)
		sc.byKey[key] = f
	}
	sc.byPtr[s] = f
	return f
}

// setKey renders a set's ranges; equal sets get equal keys.
func setKey(s *netipx.IPSet) string {
	if s == nil {
		return "nil"
	}
	var b strings.Builder
	for _, r := range s.Ranges() {
		b.WriteString(r.String())
		b.WriteByte(',')
	}
	return b.String()
}

// widerBreadth returns the wider of two breadths.
func widerBreadth(a, b exposure.Breadth) exposure.Breadth {
	rank := func(x exposure.Breadth) int {
		switch x {
		case exposure.BreadthAnyone:
			return 3
		case exposure.BreadthBroad:
			return 2
		case exposure.BreadthNarrow:
			return 1
		}
		return 0
	}
	if rank(a) >= rank(b) {
		return a
	}
	return b
}

func newView(e *exposure.Exposure, idx obsIndex, sc sourceCache) *view {
	v := &view{e: e, id: e.ID(), svcProto: e.Protocol, svc: e.Ports}
	if e.Backend != nil {
		v.translated = e.Backend.Ports != e.Ports
		v.svc = e.Backend.Ports
		if e.Backend.Protocol != 0 {
			v.svcProto = e.Backend.Protocol
		}
	}
	v.facts = sc.facts(e.Sources)
	v.b4, v.b6 = v.facts.b4, v.facts.b6
	// SourceBreadth thresholds are per family, so the widest family's
	// breadth is the whole set's.
	v.breadth = widerBreadth(v.b4, v.b6)
	if ep := e.Endpoint.String(); ep != "" && e.Level == exposure.Effective {
		for _, o := range idx.observationsAt(e) {
			if o.Protocol == e.Protocol && e.Ports.Contains(o.Port) {
				v.obs = append(v.obs, o)
			}
		}
	}
	return v
}

// publicV4 and publicV6 are the public internet per family; IPSets are
// immutable, so sharing them is safe.
var publicV4, publicV6 = publicFamily(FamilyIPv4), publicFamily(FamilyIPv6)

// familyBreadth classifies the IPv4 and the IPv6 part of a source set with
// exposure.SourceBreadth (which counts a family's whole public internet
// less at most a /16 of IPv4 or a /32 of IPv6 as "anyone": a NACL that
// denies a few abusive hosts in front of 0.0.0.0/0 leaves the port open).
func familyBreadth(s *netipx.IPSet) (b4, b6 exposure.Breadth) {
	if s == nil {
		return exposure.BreadthNone, exposure.BreadthNone
	}
	return exposure.FamilyBreadth(s)
}

// familyBreadth returns the breadth a rule of the given family judges.
func (v *view) familyBreadth(family string) exposure.Breadth {
	switch family {
	case FamilyIPv4:
		return v.b4
	case FamilyIPv6:
		return v.b6
	}
	return v.breadth
}

// admittedBy reports whether a layer of one of the kinds let the exposure
// in: an allowing evidence entry, or the layer itself for latent exposures.
func (v *view) admittedBy(kinds []string) bool {
	if v.e.Level == exposure.Latent && slices.Contains(kinds, v.e.Target.Kind) {
		return true
	}
	for _, ev := range v.e.Evidence {
		if slices.Contains(kinds, ev.LayerKind) && ev.Action != exposure.Deny.String() {
			return true
		}
	}
	return false
}

// internetNames are the ways providers write "the whole internet" for each
// family: AWS and GCP CIDRs, Azure service tags and wildcards
// (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules).
var internetNames = map[string][]string{
	FamilyIPv4: {"0.0.0.0/0", "0.0.0.0", "*", "any", "internet"},
	FamilyIPv6: {"::/0", "*", "any", "internet"},
}

// wholeInternet reports whether the exposure admits the whole internet of
// a family: its sources of that family are every public address, or a
// layer of one of the kinds (any layer when kinds is empty) names the
// whole internet as its source. The second test matters for controls that
// judge a rule itself (CIS AWS 5.2: a rule with 0.0.0.0/0) when another
// layer narrows what gets through.
func (v *view) wholeInternet(kinds []string, family string) bool {
	b := v.b4
	if family == FamilyIPv6 {
		b = v.b6
	}
	if b == exposure.BreadthAnyone {
		return true
	}
	names := internetNames[family]
	for _, ev := range v.e.Evidence {
		if len(kinds) > 0 && !slices.Contains(kinds, ev.LayerKind) {
			continue
		}
		if ev.Action == exposure.Deny.String() {
			continue
		}
		for _, s := range ev.Sources {
			if slices.Contains(names, strings.ToLower(strings.TrimSpace(s))) {
				return true
			}
		}
	}
	return false
}

// servicePort maps a frontend port to the port it reaches on the service.
func (v *view) servicePort(front uint16) uint16 {
	if v.e.Backend == nil || v.frontSide {
		return front
	}
	if v.svc.Size() == v.e.Ports.Size() {
		return v.svc.From + (front - v.e.Ports.From)
	}
	return v.svc.From
}

// wide reports whether port rules are reported through the structural rule
// that covers them rather than one by one.
func (v *view) wide(threshold int) bool {
	if v.run != nil {
		return v.run.wide(threshold)
	}
	return v.svcProto == exposure.ProtocolAll || v.svc.Size() > threshold
}

// protocolCovers reports whether traffic of proto is among protos. An
// exposure of protocol "all" is the analysis's bucket for every protocol
// it does not report separately (TCP, UDP, ICMP and ICMPv6 always are), so
// it covers no port rule: only the all-traffic rule judges it.
func protocolCovers(protos []exposure.Protocol, proto exposure.Protocol) bool {
	return proto != exposure.ProtocolAll && slices.Contains(protos, proto)
}

// probeRank orders observations: an open port says most, then closed and
// filtered, then errors and skips.
func probeRank(s exposure.ProbeState) int {
	switch s {
	case exposure.ProbeOpen:
		return 3
	case exposure.ProbeClosed:
		return 2
	case exposure.ProbeFiltered:
		return 1
	}
	return 0
}

// bestObservation picks the most telling observation among those whose
// service port satisfies keep.
func (v *view) bestObservation(keep func(o *exposure.Observation, svcPort uint16) bool) *exposure.Observation {
	var best *exposure.Observation
	for _, o := range v.obs {
		if !keep(o, v.servicePort(o.Port)) {
			continue
		}
		if best == nil || probeRank(o.State) > probeRank(best.State) {
			best = o
		}
	}
	return best
}

// rulePortIn returns the first port of the rule within the service range.
func (r *Rule) rulePortIn(svc exposure.PortRange) (uint16, bool) {
	for _, pr := range r.m.ports {
		if pr.Overlaps(svc) {
			return max(pr.From, svc.From), true
		}
	}
	return 0, false
}

// candidate is a rule match before severity, compliance and exceptions.
type candidate struct {
	rule      *Rule
	port      uint16
	service   string
	probe     *exposure.Observation
	matchedBy string
	subsumes  []*Rule
	// contradicted is set when a probe fingerprinted another service on
	// the port: the port is open but not the rule's service.
	contradicted bool
}

// match applies one catalog rule to an exposure.
func (c *Catalog) match(r *Rule, v *view) []candidate {
	if !r.m.levels[v.e.Level] {
		return nil
	}
	if b := v.familyBreadth(r.Match.Family); b == exposure.BreadthNone || !r.m.breadth[b] {
		return nil
	}
	switch r.Match.Kind {
	case KindPorts:
		return c.matchPorts(r, v)
	case KindProtocol:
		if slices.Contains(r.m.protocols, v.svcProto) {
			return []candidate{{rule: r, matchedBy: "protocol"}}
		}
	case KindAllTraffic:
		if v.e.Protocol == exposure.ProtocolAll {
			return []candidate{{rule: r, matchedBy: "protocol", subsumes: c.subsumed(v)}}
		}
	case KindAllPorts:
		if slices.Contains(r.m.protocols, v.svcProto) && v.svc.From <= 1 && v.svc.To == 65535 {
			return []candidate{{rule: r, matchedBy: "range", subsumes: c.subsumed(v)}}
		}
	case KindWideRange:
		if v.svcProto.HasPorts() && (len(r.m.protocols) == 0 || slices.Contains(r.m.protocols, v.svcProto)) &&
			v.svc.Size() > c.wideRange && !(v.svc.From <= 1 && v.svc.To == 65535) {
			return []candidate{{rule: r, matchedBy: "range", subsumes: c.subsumed(v)}}
		}
	case KindICMPAll:
		if slices.Contains(r.m.protocols, v.e.Protocol) && v.e.Ports.From == 0 && v.e.Ports.To >= 255 {
			return []candidate{{rule: r, matchedBy: "protocol"}}
		}
	case KindServicePort:
		return c.matchServicePort(r, v)
	}
	return nil
}

// frontendView is v seen from the internet's side of a port translation:
// the frontend protocol and ports, no mapping to the backend.
func (v *view) frontendView() *view {
	fv := *v
	fv.svcProto, fv.svc, fv.translated, fv.frontSide = v.e.Protocol, v.e.Ports, false, true
	return &fv
}

// webFrontend reports whether what the internet reaches in front of a
// port translation is a web endpoint: a web frontend port, or a probe
// that fingerprinted a web server there.
func (c *Catalog) webFrontend(v *view) bool {
	if c.webPorts.covers(v.e.Protocol, v.e.Ports) {
		return true
	}
	for _, o := range v.obs {
		if o.State == exposure.ProbeOpen && webFingerprint(o.Service) {
			return true
		}
	}
	return false
}

func (c *Catalog) matchPorts(r *Rule, v *view) []candidate {
	if r.Match.Side == SideFrontend && v.translated {
		// The rule judges what the internet connects to (a public web
		// endpoint), whatever port the service behind listens on.
		v = v.frontendView()
	}
	if !protocolCovers(r.m.protocols, v.svcProto) {
		return nil
	}
	port, ok := r.rulePortIn(v.svc)
	if ok && v.translated && c.webPorts.covers(v.svcProto, v.svc) && c.webFrontend(v) {
		// A web listener forwarding to a backend's 8080 or 8443 is a web
		// endpoint with a web server behind it: the backend port is the
		// usual port of web servers behind load balancers and says nothing
		// the frontend does not. The frontend's own rules judge it.
		ok = false
	}
	if ok {
		inRule := func(o *exposure.Observation, sp uint16) bool {
			return r.expectsPort(o.Protocol, sp) && v.svc.Contains(sp)
		}
		probe := v.bestObservation(inRule)
		reported := true
		if v.wide(c.wideRange) {
			// Inside a wide range the structural rule reports the port,
			// unless a probe found it open with this rule's service (or
			// no fingerprint at all).
			probe = v.bestObservation(func(o *exposure.Observation, sp uint16) bool {
				return inRule(o, sp) && o.State == exposure.ProbeOpen && (o.Service == "" || r.servesService(o.Service))
			})
			reported = probe != nil
			if reported {
				port = v.servicePort(probe.Port)
			}
		} else if probe != nil && probe.State == exposure.ProbeOpen {
			port = v.servicePort(probe.Port)
		}
		if reported {
			cand := candidate{rule: r, port: port, probe: probe, matchedBy: "port", service: r.Service}
			if v.translated {
				cand.matchedBy = "backend-port"
			}
			if probe != nil && probe.Service != "" && !r.servesService(probe.Service) && len(r.m.services) > 0 {
				cand.contradicted = true
			}
			return []candidate{cand}
		}
	}
	// Not the rule's port: a probe may still have found its service here
	// (SSH on 2222).
	probe := v.bestObservation(func(o *exposure.Observation, sp uint16) bool {
		return o.State == exposure.ProbeOpen && r.servesService(o.Service) && protocolCovers(r.m.protocols, o.Protocol)
	})
	if probe == nil {
		return nil
	}
	return []candidate{{rule: r, port: v.servicePort(probe.Port), probe: probe, matchedBy: "service", service: r.Service}}
}

// matchServicePort reports catalog services a probe found on ports the
// catalog does not expect them on (SSH on 443, Redis on 8080).
func (c *Catalog) matchServicePort(r *Rule, v *view) []candidate {
	var out []candidate
	for _, o := range v.obs {
		if o.State != exposure.ProbeOpen || o.Service == "" {
			continue
		}
		// Web servers answer on every port under the sun, and the probe's
		// http/https/tls fingerprint does not say which application speaks
		// (Jenkins on 8080, Elasticsearch on 9200): only services with a
		// protocol of their own (SSH, Redis, MySQL…) are judged here.
		if webFingerprint(o.Service) {
			continue
		}
		sp := v.servicePort(o.Port)
		served, expected := false, false
		for i := range c.rules {
			cr := &c.rules[i]
			if cr.Match.Kind != KindPorts || !cr.servesService(o.Service) {
				continue
			}
			served = true
			// The probe saw the frontend port; the backend port is where
			// a forward delivers it. Either one expected is no mismatch.
			if cr.expectsPort(o.Protocol, sp) || cr.expectsPort(o.Protocol, o.Port) {
				expected = true
			}
		}
		if served && !expected {
			out = append(out, candidate{rule: r, port: sp, probe: o, matchedBy: "service", service: strings.ToLower(o.Service)})
		}
	}
	return out
}

// subsumed lists the port and protocol rules a structural match covers.
func (c *Catalog) subsumed(v *view) []*Rule {
	var out []*Rule
	for i := range c.rules {
		r := &c.rules[i]
		if !r.m.levels[v.e.Level] {
			continue
		}
		if b := v.familyBreadth(r.Match.Family); b == exposure.BreadthNone || !r.m.breadth[b] {
			continue
		}
		switch r.Match.Kind {
		case KindPorts:
			// The all-traffic rule's finding names every port rule an
			// allow-all rule breaks, and carries their controls.
			if _, ok := r.rulePortIn(v.svc); ok && (v.svcProto == exposure.ProtocolAll || protocolCovers(r.m.protocols, v.svcProto)) {
				out = append(out, r)
			}
		case KindProtocol:
			if v.svcProto == exposure.ProtocolAll {
				out = append(out, r)
			}
		}
	}
	return out
}

// findingID is stable across runs for the same rule, exposure and port.
func findingID(ruleID, exposureID string, port uint16, service string) string {
	h := sha256.New()
	for _, s := range []string{ruleID, exposureID, strconv.Itoa(int(port)), service} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// webFingerprint reports whether a fingerprinted service is generic web
// or TLS, which says nothing about the application behind it.
func webFingerprint(service string) bool {
	switch strings.ToLower(service) {
	case "http", "https", "tls", "http-proxy", "ssl":
		return true
	}
	return false
}
