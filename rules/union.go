package rules

import (
	"cmp"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// The analysis cuts a target's port axis wherever the admitting rules
// change, so one rule allowing all traffic plus a redundant "tcp 22" rule
// yields tcp 0-21, 22 and 23-65535 with the same sources. Security-group
// rules aggregate into one set
// (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html):
// the cut says which rules admitted which ports, not what is admitted. The
// structural rules (all ports, wide range, a whole protocol, all ICMP
// types) therefore judge the union of the pieces, and the port rules inside
// a wide union are covered by it, as inside one wide exposure.

// unionKind reports whether rules of a kind judge the union of a
// target's exposures rather than each piece.
func unionKind(kind string) bool {
	switch kind {
	case KindAllTraffic, KindAllPorts, KindWideRange, KindProtocol, KindICMPAll:
		return true
	}
	return false
}

// unionRuns groups exposures that differ only in their ports and evidence
// (same scope, level, target, endpoint, protocol and source set; no port
// translation) and merges each run of adjacent or overlapping port ranges
// into one exposure: the pieces' common fields, the run's whole range and
// the union of their evidence. It returns, for each piece of a run of more
// than one, the merged exposure. The merged exposure has the ID a single
// exposure of that range would have, so findings do not depend on the cut.
func unionRuns(exps []*exposure.Exposure) map[*exposure.Exposure]*exposure.Exposure {
	// Group on the cheap fields first: most exposures are alone on their
	// target, endpoint and protocol, and need no source-set key at all.
	byTarget := map[string][]*exposure.Exposure{}
	var order []string
	for _, x := range exps {
		if x == nil || x.Site == nil || x.Backend != nil {
			continue
		}
		k := strings.Join([]string{string(x.Level), x.Provider, x.Account, x.Region, x.Target.ID, x.Endpoint.String(), x.Protocol.String()}, "\x00")
		if byTarget[k] == nil {
			order = append(order, k)
		}
		byTarget[k] = append(byTarget[k], x)
	}
	out := map[*exposure.Exposure]*exposure.Exposure{}
	keys := map[*netipx.IPSet]string{} // the analysis shares equal sets
	for _, k := range order {
		if len(byTarget[k]) < 2 {
			continue
		}
		bySources := map[string][]*exposure.Exposure{}
		var sorder []string
		for _, x := range byTarget[k] {
			sk, ok := keys[x.Sources]
			if !ok {
				sk = setKey(x.Sources)
				keys[x.Sources] = sk
			}
			if bySources[sk] == nil {
				sorder = append(sorder, sk)
			}
			bySources[sk] = append(bySources[sk], x)
		}
		for _, sk := range sorder {
			mergeGroup(bySources[sk], out)
		}
	}
	return out
}

// mergeGroup merges each run of adjacent or overlapping port ranges of g
// (exposures that differ only in ports and evidence) and records the
// merged exposure of every piece of a run of more than one.
func mergeGroup(g []*exposure.Exposure, out map[*exposure.Exposure]*exposure.Exposure) {
	if len(g) < 2 {
		return
	}
	slices.SortStableFunc(g, func(a, b *exposure.Exposure) int {
		return cmp.Or(cmp.Compare(a.Ports.From, b.Ports.From), cmp.Compare(a.Ports.To, b.Ports.To))
	})
	for i := 0; i < len(g); {
		j, to := i+1, g[i].Ports.To
		for j < len(g) && int(g[j].Ports.From) <= int(to)+1 {
			to = max(to, g[j].Ports.To)
			j++
		}
		if j-i > 1 {
			u := mergeRun(g[i:j], to)
			for _, x := range g[i:j] {
				out[x] = u
			}
		}
		i = j
	}
}

// mergeRun returns a copy of run[0] covering run[0].Ports.From through to,
// with the evidence of every piece (each entry once, in order).
func mergeRun(run []*exposure.Exposure, to uint16) *exposure.Exposure {
	u := *run[0]
	u.Ports = exposure.PortRange{From: run[0].Ports.From, To: to}
	u.Evidence = nil
	seen := map[string]bool{}
	for _, x := range run {
		for _, ev := range x.Evidence {
			if ev == nil {
				continue
			}
			key := strings.Join([]string{ev.Layer, ev.Rule, ev.Action, ev.Note, strings.Join(ev.Sources, ",")}, "\x00")
			if seen[key] {
				continue
			}
			seen[key] = true
			u.Evidence = append(u.Evidence, ev)
		}
	}
	return &u
}

// sortedRuns returns the merged views in a stable order.
func sortedRuns(m map[*exposure.Exposure]*view) []*view {
	out := make([]*view, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *view) int { return strings.Compare(a.id, b.id) })
	return out
}
