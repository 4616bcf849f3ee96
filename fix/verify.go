package fix

import (
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// verifier applies candidate changes to copies of one inventory and
// judges them against the analysis of the original.
type verifier struct {
	inv    *exposure.Inventory
	layers []*exposure.Layer // allLayers(inv)
	before map[exposure.Key][]*exposure.Exposure
	all    []*exposure.Exposure // before, effective then latent
	x      *exposure.Exposure
	keep   *netipx.IPSet
	opts   exposure.Options
}

func newVerifier(inv *exposure.Inventory, before *exposure.Result, x *exposure.Exposure, o Options) *verifier {
	all := append(slices.Clone(before.Effective), before.Latent...)
	return &verifier{inv: inv, layers: allLayers(inv), before: byKey(all), all: all, x: x, keep: o.Keep, opts: o.Analysis}
}

func byKey(es []*exposure.Exposure) map[exposure.Key][]*exposure.Exposure {
	m := map[exposure.Key][]*exposure.Exposure{}
	for _, e := range es {
		k := e.Key()
		m[k] = append(m[k], e)
	}
	return m
}

// check applies the changes to a copy of the inventory, analyzes it, and
// returns the alternative with its blast radius, or why it is rejected.
func (v *verifier) check(changes []Change) (*Alternative, string) {
	clone := v.inv.Clone()
	layers := allLayers(clone)
	if len(layers) != len(v.layers) {
		return nil, "internal error: the inventory's copy differs in shape"
	}
	touched := map[int]bool{}
	for _, c := range changes {
		for i, l := range layers {
			if applyLayer(l, c.edit) {
				touched[i] = true
			}
		}
	}
	if len(touched) == 0 {
		return nil, "the changes match no rule of the inventory"
	}
	changedIDs := map[string]bool{}
	for i := range touched {
		if widens(v.layers[i], layers[i]) {
			return nil, fmt.Sprintf("%s %s would admit traffic from the internet that it does not admit today", layers[i].Kind, layers[i].ID)
		}
		changedIDs[layers[i].ID] = true
	}
	after := exposure.AnalyzeWith(clone, v.opts)
	return v.judge(changes, after, changedIDs)
}

// judge compares the analysis after the changes with the one before.
func (v *verifier) judge(changes []Change, after *exposure.Result, changedIDs map[string]bool) (*Alternative, string) {
	afterAll := append(slices.Clone(after.Effective), after.Latent...)
	am := byKey(afterAll)
	rest := within(boxesOf(am[v.x.Key()]), boxOf(v.x))
	var want []box
	if v.keep != nil {
		if k := intersect(v.x.Sources, v.keep); !empty(k) {
			want = []box{{v.x.Ports, k}}
		}
	}
	if !sameBoxes(rest, want) {
		if len(want) > 0 {
			return nil, "does not narrow the exposure to the kept sources"
		}
		return nil, "leaves the exposure open"
	}
	for _, e := range after.Effective {
		k := e.Key()
		if !covered([]box{boxOf(e)}, boxesOf(v.before[k])) {
			what := "widens"
			if len(v.before[k]) == 0 {
				what = "opens"
			}
			where := ""
			if e.Backend != nil {
				where = " to " + e.Backend.ID
			} else if len(v.before[k]) == 0 {
				for _, o := range v.all {
					if o.Target.ID == e.Target.ID && o.Backend != nil {
						where = " with no backend behind it (a proxy answers itself)"
						break
					}
				}
			}
			return nil, fmt.Sprintf("%s exposure %s %s/%s at %s%s", what, e.Target.ID, e.Protocol, e.Ports, e.Endpoint, where)
		}
	}
	alt := &Alternative{Changes: changes, Closes: []string{v.x.ID()}, AlsoCloses: []string{}, Narrows: []string{}, LeavesOpen: []string{}}
	for _, e := range v.all {
		if e == v.x {
			continue
		}
		left := within(boxesOf(am[e.Key()]), boxOf(e))
		switch {
		case len(left) == 0:
			alt.AlsoCloses = append(alt.AlsoCloses, e.ID())
		case !covered([]box{boxOf(e)}, left):
			alt.Narrows = append(alt.Narrows, e.ID())
		default:
			if e.Level == exposure.Effective && namesLayer(e, changedIDs) {
				alt.LeavesOpen = append(alt.LeavesOpen, e.ID())
			}
			continue
		}
		if e.Level == exposure.Effective {
			alt.Radius++
		}
	}
	for _, c := range changes {
		alt.Commands = append(alt.Commands, commands(c)...)
	}
	return alt, ""
}

func namesLayer(e *exposure.Exposure, ids map[string]bool) bool {
	for _, ev := range e.Evidence {
		if ids[ev.Layer] {
			return true
		}
	}
	return false
}

// Probe endpoints for judging one layer on its own: documentation
// addresses, which the model treats as public.
var (
	probe4 = netip.MustParseAddr("192.0.2.1")
	probe6 = netip.MustParseAddr("2001:db8::1")
)

// admission is what a layer admits from the internet on its own, as the
// exposures of a stand-in target behind it.
func admission(l *exposure.Layer) map[exposure.Key][]*exposure.Exposure {
	c := *l
	c.Latent, c.LatentByRule = false, false
	t := &exposure.Target{Scope: l.Scope, ID: "fix-probe", Kind: "probe",
		Endpoints: []exposure.Endpoint{{IP: probe4}, {IP: probe6}},
		Path:      exposure.Path{{Layers: []*exposure.Layer{&c}}}}
	return byKey(exposure.Analyze(&exposure.Inventory{Targets: []*exposure.Target{t}}).Effective)
}

// widens reports whether after admits any internet traffic before does
// not.
func widens(before, after *exposure.Layer) bool {
	if after.Egress {
		return false // only inbound layers are changed
	}
	b, a := admission(before), admission(after)
	for k, es := range a {
		if !covered(boxesOf(es), boxesOf(b[k])) {
			return true
		}
	}
	return false
}
