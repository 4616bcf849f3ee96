package fix

import (
	"slices"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

type editOp uint8

const (
	opRevoke editOp = iota
	opNarrowSources
	opNarrowPorts
	opInsert
)

// edit is a change as it applies to the model: which rules of which
// layers, and what becomes of them. A provider rule may be several model
// rules (one per protocol, per source or per port entry) on several layer
// values (the per-target variants of one construct), so an edit names
// them by layer ID and rule ID rather than by pointer.
type edit struct {
	op      editOp
	scope   exposure.Scope // provider and account; layers' regions vary
	layerID string
	kind    string
	ruleID  string
	// sourceName, when set, limits the edit to the model rules of ruleID
	// for that one source (a security-group permission holds one model
	// rule per CIDR, each revoked on its own).
	sourceName string
	sources    *netipx.IPSet
	names      []string
	ports      []exposure.PortRange
	// rule is the rule an insert adds; network, when set, adds it to
	// every ordered firewall layer of that GCP network instead of to the
	// layers of layerID.
	rule    exposure.Rule
	network string
}

func (e *edit) layerMatches(l *exposure.Layer) bool {
	if l.Egress || l.Provider != e.scope.Provider || l.Account != e.scope.Account {
		return false
	}
	if e.op == opInsert && e.network != "" {
		return l.Mode == exposure.Ordered && l.Kind == exposure.LayerFirewall && l.Tags["network"] == e.network
	}
	return l.ID == e.layerID && l.Kind == e.kind
}

func (e *edit) ruleMatches(r *exposure.Rule) bool {
	if r.ID != e.ruleID || r.Action != exposure.Allow {
		return false
	}
	return e.sourceName == "" || slices.Equal(r.SourceNames, []string{e.sourceName})
}

// applyLayer applies e to l if it concerns l; it reports whether l changed.
func applyLayer(l *exposure.Layer, e edit) bool {
	if !e.layerMatches(l) {
		return false
	}
	if e.op == opInsert {
		l.Rules = append(l.Rules, e.rule)
		return true
	}
	changed := false
	out := l.Rules[:0:0]
	for _, r := range l.Rules {
		if !e.ruleMatches(&r) {
			out = append(out, r)
			continue
		}
		changed = true
		switch e.op {
		case opNarrowSources:
			r.Sources, r.SourceNames = e.sources, e.names
			out = append(out, r)
		case opNarrowPorts:
			if len(e.ports) > 0 {
				r.Ports = e.ports
				out = append(out, r)
			}
		}
		// opRevoke: dropped
	}
	l.Rules = out
	return changed
}

// rulePorts is the port axis a rule covers for traffic of protocol p.
func rulePorts(r *exposure.Rule, p exposure.Protocol) []exposure.PortRange {
	if len(r.Ports) == 0 || r.Protocol == exposure.ProtocolAll || !(p.HasPorts() || p.IsICMP()) {
		return []exposure.PortRange{exposure.AllPorts}
	}
	return r.Ports
}

func protoMatches(r *exposure.Rule, p exposure.Protocol) bool {
	return r.Protocol == p || r.Protocol == exposure.ProtocolAll
}

// admittingUnion lists the rules of an AllowUnion layer that admit some of
// the traffic.
func admittingUnion(l *exposure.Layer, p exposure.Protocol, ports exposure.PortRange, src *netipx.IPSet) []int {
	var out []int
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Action != exposure.Allow || !protoMatches(r, p) || !r.Valid() || !overlaps(r.Sources, src) {
			continue
		}
		for _, pr := range rulePorts(r, p) {
			if pr.Overlaps(ports) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// piece is part of the traffic still undecided in an ordered layer.
type piece struct {
	ports exposure.PortRange
	src   *netipx.IPSet
}

func subtractPieces(ps, hs []piece) []piece {
	for _, h := range hs {
		var next []piece
		for _, p := range ps {
			if !p.ports.Overlaps(h.ports) {
				next = append(next, p)
				continue
			}
			if p.ports.From < h.ports.From {
				next = append(next, piece{exposure.PortRange{From: p.ports.From, To: h.ports.From - 1}, p.src})
			}
			if p.ports.To > h.ports.To {
				next = append(next, piece{exposure.PortRange{From: h.ports.To + 1, To: p.ports.To}, p.src})
			}
			mid := exposure.PortRange{From: max(p.ports.From, h.ports.From), To: min(p.ports.To, h.ports.To)}
			if rest := subtract(p.src, h.src); !empty(rest) {
				next = append(next, piece{mid, rest})
			}
		}
		ps = next
	}
	return ps
}

// firstMatch evaluates an ordered layer for the traffic as the analysis
// does (rules by tier and priority, deny before goto_next before allow at
// equal priority, the first match decides, goto_next ends the tier) and
// returns the allow rules that admit some of it, and whether the layer's
// default admits the rest.
func firstMatch(l *exposure.Layer, p exposure.Protocol, ports exposure.PortRange, src *netipx.IPSet) (admit []int, byDefault bool) {
	order := l.EvaluationOrder()
	undecided := []piece{{ports, src}}
	var open []piece
	for k, i := range order {
		r := &l.Rules[i]
		if k == 0 || r.Tier != l.Rules[order[k-1]].Tier {
			open = slices.Clone(undecided)
		}
		if !protoMatches(r, p) || r.Sources == nil {
			continue
		}
		var hit []piece
		for _, pr := range rulePorts(r, p) {
			for _, pc := range open {
				if !pc.ports.Overlaps(pr) {
					continue
				}
				if s := intersect(pc.src, r.Sources); !empty(s) {
					hit = append(hit, piece{exposure.PortRange{From: max(pc.ports.From, pr.From), To: min(pc.ports.To, pr.To)}, s})
				}
			}
		}
		if len(hit) == 0 {
			continue
		}
		open = subtractPieces(open, hit)
		switch r.Action {
		case exposure.Allow:
			admit = append(admit, i)
			undecided = subtractPieces(undecided, hit)
		case exposure.Deny:
			undecided = subtractPieces(undecided, hit)
		}
	}
	return admit, l.Default == exposure.Allow && len(undecided) > 0
}
