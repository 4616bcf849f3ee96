package reports

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/width"

	"github.com/portcullis-sec/portcullis/exposure"
)

// What the human formats (table, HTML, Markdown) show beyond the labels of
// labels.go: short exposure IDs for `portcullis explain`, the evidence in
// the order that names the admitting rule first, and display widths.

// minShortID is the shortest exposure ID prefix shown: short enough to
// type, long enough that it rarely needs to grow.
const minShortID = 6

// shortIDs gives every exposure of the document the shortest prefix of its
// ID, of one length for the whole document so that the column lines up,
// that `portcullis explain` resolves to that exposure: no other exposure's
// ID and no other exposure's finding's ID starts with it (explain accepts
// both kinds of ID and prefixes of either).
func shortIDs(d *Document) map[string]string {
	longest := 0
	for _, x := range d.Exposures {
		longest = max(longest, len(x.ID))
	}
	out := make(map[string]string, len(d.Exposures))
	for n := min(minShortID, longest); n <= longest; n++ {
		owner := make(map[string]*Exposure, len(d.Exposures)+len(d.Findings))
		clash := map[string]bool{}
		claim := func(id string, x *Exposure) {
			p := prefix(id, n)
			if o, ok := owner[p]; ok && o != x {
				clash[p] = true
			}
			owner[p] = x
		}
		for _, x := range d.Exposures {
			claim(x.ID, x)
		}
		for _, f := range d.Findings {
			claim(f.ID, f.Exposure)
		}
		ok := true
		for _, x := range d.Exposures {
			if clash[prefix(x.ID, n)] && len(x.ID) > n {
				ok = false
				break
			}
		}
		if ok || n == longest {
			for _, x := range d.Exposures {
				out[x.ID] = prefix(x.ID, n)
			}
			return out
		}
	}
	return out
}

func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// IDs from a hand-written report may hold multi-byte runes: never cut
	// one in half.
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// admittingEvidence is the exposure's evidence without route tables and
// without repeats, with the layers in path order and, within one kind of
// layer, the rule that admits the widest sources first: of two firewall
// rules that both allow port 22, the one open to 0.0.0.0/0 is the one that
// makes the exposure, not the narrow IAP range listed before it.
func admittingEvidence(e *Exposure) []exposure.Evidence {
	var out []exposure.Evidence
	seen := map[string]bool{}
	kindRank := map[string]int{}
	for _, ev := range e.Evidence {
		if ev.LayerKind == exposure.LayerRoute {
			continue
		}
		k := evidenceLabel(ev)
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := kindRank[ev.LayerKind]; !ok {
			kindRank[ev.LayerKind] = len(kindRank)
		}
		out = append(out, ev)
	}
	// Breadth only orders evidence of one kind, so it is computed only for
	// kinds with more than one entry: parsing and intersecting every
	// rule's sources was most of what a table of a large estate cost.
	perKind := make([]int, len(kindRank))
	for _, ev := range out {
		perKind[kindRank[ev.LayerKind]]++
	}
	breadth := make(map[string]float64, len(out))
	for _, ev := range out {
		if perKind[kindRank[ev.LayerKind]] > 1 {
			breadth[evidenceLabel(ev)] = sourceBreadth(ev.Sources)
		}
	}
	slices.SortStableFunc(out, func(a, b exposure.Evidence) int {
		return cmp.Or(cmp.Compare(kindRank[a.LayerKind], kindRank[b.LayerKind]),
			cmp.Compare(breadth[evidenceLabel(b)], breadth[evidenceLabel(a)]))
	})
	return out
}

// evidenceLabel names one piece of evidence shortly: "prod-default#100",
// "allow-ssh-anywhere", "sg-0b2".
func evidenceLabel(ev exposure.Evidence) string {
	s := shortID(ev.Layer, ev.LayerName)
	if ev.Rule != "" && orderedKinds[ev.LayerKind] && ev.Rule != s {
		s += "#" + ev.Rule
	}
	return s
}

// admittingLabel lists admittingEvidence shortly.
func admittingLabel(e *Exposure) string {
	var parts []string
	for _, ev := range admittingEvidence(e) {
		parts = append(parts, evidenceLabel(ev))
	}
	return strings.Join(parts, ", ")
}

// sourceBreadth is the share of the public internet the sources cover, as
// a fraction of each family's space summed over the families; -1 when the
// evidence names no sources (a listener, a forward) or they do not parse.
func sourceBreadth(sources []string) float64 {
	if len(sources) == 0 {
		return -1
	}
	s, err := exposure.ParseSources(sources...)
	if err != nil {
		return -1
	}
	var share float64
	for _, p := range exposure.Intersect(s, exposure.PublicInternet()).Prefixes() {
		share += math.Ldexp(1, -p.Bits())
	}
	return share
}

// backendLabel names where a forward sends the traffic, for the target
// column: "→ ssh-gateway-1"; empty without a backend.
func backendLabel(e *Exposure) string {
	b := e.Backend
	if b == nil {
		return ""
	}
	name := b.Name
	if name == "" {
		name = shortID(b.ID, "")
	}
	if name == "" {
		return ""
	}
	return name
}

// targetWithBackend is the target label followed by the backend a load
// balancer or NAT rule forwards to.
func targetWithBackend(e *Exposure) string {
	if b := backendLabel(e); b != "" {
		return e.TargetLabel() + " → " + b
	}
	return e.TargetLabel()
}

// displayWidth is how many terminal cells s takes: East Asian wide and
// full-width runes take two, combining marks none. s is termText output
// (no control characters).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
